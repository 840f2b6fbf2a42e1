"""One rule layer: curation, calibration and selection apply the same rule objects and report the same codes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lima_hf.data import rules
from lima_hf.data.rules import REASONS, Example, RuleChain, answer_rules, lima_rules
from lima_hf.data.selection.config import SelectionConfig
from lima_hf.data.selection.pipeline import select_records
from lima_hf.data.sources.stackexchange.calibration import calibrate
from lima_hf.data.sources.stackexchange.candidates import judge_questions
from lima_hf.data.sources.stackexchange.config import Config
from lima_hf.data.sources.stackexchange.posts import Post, PostsScan
from lima_hf.data.sources.stackexchange.rows import RowError

PROSE = "Water boils at a lower temperature at altitude because the air pressure there is lower. "
# answer text -> the one rule it fails (None: it passes every rule)
ANSWERS = {
    PROSE * 20: None,
    PROSE * 3: "answer_too_short",
    PROSE * 60: "answer_too_long",
    PROSE * 10 + "I think this is right. " + PROSE * 10: "first_person",
    PROSE * 10 + "As mentioned in the other answer, it holds. " + PROSE * 10: "other_answers",
    PROSE * 10 + "See the picture above for the curve. " + PROSE * 10: "leans_on_removed_content",
}


def _post(post_id: int, body: str, title: str = "Why does water boil sooner on a mountain?") -> Post:
    return Post(id=post_id, score=20, body=body, owner_user_id="1", owner_display_name=None,
                creation_date="2020-01-01", license="CC BY-SA 4.0", line=post_id, title=title)


def _curation_reasons(texts: list[str]) -> list[str | None]:
    scan = PostsScan()
    for number, text in enumerate(texts):
        question = _post(2 * number + 1, "<p>Why?</p>")
        scan.questions.append(question)
        scan.answers[question.id] = _post(2 * number + 2, "".join(f"<p>{p}</p>" for p in text.split("\n\n")))
    candidates, rejected = judge_questions(scan, "physics.stackexchange.com", Config())
    reasons = {v.question_id: v.reason for v in rejected} | {c.question.id: None for c in candidates}
    return [reasons[2 * number + 1] for number in range(len(texts))]


def _calibration_reasons(texts: list[str]) -> list[str | None]:
    report = calibrate([(str(i), t) for i, t in enumerate(texts)], examples=len(texts))
    failed = {int(i): r.rule for r in report.rules for i, _, _ in r.examples}
    return [failed.get(i) for i in range(len(texts))]


def _selection_reasons(texts: list[str]) -> list[str | None]:
    records = [{"id": str(i), "source": "se", "messages": [{"role": "user", "content": "q"},
                                                             {"role": "assistant", "content": t}]}
               for i, t in enumerate(texts)]
    config = SelectionConfig(n=1, lima_rules=True, strategy="random", show_progress=False, dedup=False)
    result = select_records(records, config, embeddings=np.eye(len(texts), dtype=np.float32))
    dropped = {int(d["id"]): d["reason"] for d in result.dropped}
    return [dropped.get(i) for i in range(len(texts))]


def test_curation_calibration_and_selection_report_the_same_codes():
    texts, expected = list(ANSWERS), list(ANSWERS.values())
    assert _curation_reasons(texts) == expected
    assert _calibration_reasons(texts) == expected
    assert _selection_reasons(texts) == expected


def test_the_rules_are_in_the_papers_order_and_each_code_is_declared():
    chain = lima_rules(Config())
    assert [rule.reason for rule in chain] == list(REASONS[:-1])
    assert [rule.reason for rule in lima_rules(Config(unfiltered=True))] == ["no_answer"]
    assert [r.reason for r in answer_rules(first_person=False)] == ["answer_too_short", "answer_too_long",
                                                                   "other_answers", "leans_on_removed_content"]
    # no rule module outside rules.py writes its own code
    assert all(isinstance(rule, rules.Rule) for rule in chain)


def test_details_name_the_answer_and_the_evidence():
    chain = RuleChain(answer_rules())
    assert chain.first_failure(Example("I do.", answer_id=7)) == ("answer_too_short",
                                                                 "answer 7: 5 characters (window 1200-4096)")
    assert chain.first_failure(Example(PROSE * 10 + "I think so. " + PROSE * 5)) == ("first_person",
                                                                                   "first person ('I')")
    rejections: list[dict] = []
    assert not chain.screen(Example("short"), rejections=rejections, source="s", id="s/1")
    assert chain.screen(Example(PROSE * 20), rejections=rejections, source="s", id="s/2")
    assert rejections == [{"source": "s", "id": "s/1", "reason": "answer_too_short",
                           "detail": "5 characters (window 1200-4096)"}]
    assert chain.counts == {"answer_too_short": 1}


def test_a_question_with_no_title_and_no_body_is_bad_input():
    scan = PostsScan(questions=[_post(1, "", title="")], answers={1: _post(2, f"<p>{PROSE * 20}</p>")})
    with pytest.raises(RowError, match=r"Posts.xml:1: question 1 has neither a title nor a body"):
        judge_questions(scan, "physics.stackexchange.com", Config(unfiltered=True))
    skipped: list[RowError] = []
    candidates, rejected = judge_questions(scan, "physics.stackexchange.com", Config(unfiltered=True),
                                           on_skip=skipped.append)
    assert not candidates and not rejected and [e.reason for e in skipped] == ["empty_question"]


def _write_zst(path, rows: list[dict]) -> None:
    import json

    import zstandard

    path.write_bytes(zstandard.ZstdCompressor().compress("".join(json.dumps(r) + "\n" for r in rows).encode()))


WP = {"subreddit": "WritingPrompts", "title": "[WP] A dragon opens a bakery", "score": 50, "selftext": ""}
ASK = {"subreddit": "AskReddit", "title": "What is the best advice you ever got?", "score": 50, "selftext": ""}
# submission -> the one rule it fails (None: it passes), in the order of submission_rules
SUBMISSIONS = [
    (WP, None), ({**WP, "over_18": True}, "nsfw"), ({**WP, "stickied": True}, "stickied"),
    ({**WP, "removed_by_category": "moderator"}, "removed"), ({**WP, "score": 0}, "low_score"),
    ({**WP, "title": "[OT] Off topic"}, "not_a_writing_prompt"), ({**WP, "title": "[WP]   "}, "empty_prompt"),
    (ASK, None), ({**ASK, "selftext": "[removed]"}, "body_removed"), ({**ASK, "selftext": "Context."}, "has_body"),
    ({**ASK, "title": "Tell me your advice."}, "not_a_question"), ({**ASK, "title": "Why?"}, "length"),
    ({**ASK, "title": "What do you think of this picture?"}, "not_self_contained"),
]
STORY = "The dragon kneaded the dough with care, and the whole village lined up at dawn. " * 8
# top-level comment on the first WritingPrompt -> the one rule it fails
COMMENTS = [({"body": STORY, "author": "writer", "score": 9}, None),
            ({"body": "[deleted]", "author": "[deleted]", "score": 9}, "comment_deleted"),
            ({"body": STORY, "author": "AutoModerator", "score": 9}, "comment_by_bot_or_moderator"),
            ({"body": STORY, "author": "writer2", "score": 0}, "comment_low_score"),
            ({"body": "Too short.", "author": "writer3", "score": 9}, "comment_length")]


def test_reddit_reports_the_codes_of_its_rules(tmp_path):
    from lima_hf.data.sources.reddit import Config, curate
    from lima_hf.data.sources.reddit.askreddit import askreddit_question
    from lima_hf.data.sources.reddit.curate import Story, Submission
    from lima_hf.data.sources.reddit.writingprompts import top_comments, writingprompt

    config = Config(input=str(tmp_path), progress=False)
    posts = [{**post, "id": f"p{i}"} for i, (post, _) in enumerate(SUBMISSIONS)]
    expected = {post["id"]: reason for post, (_, reason) in zip(posts, SUBMISSIONS)}
    chains = {tag: RuleChain(rules.submission_rules(config, tag)) for tag in ("writingprompts", "askreddit")}
    for post in posts:  # the rule list alone
        wp = post["subreddit"] == "WritingPrompts"
        submission = Submission(post, writingprompt(post["title"], ["WP"]) if wp else askreddit_question(post))
        failure = chains["writingprompts" if wp else "askreddit"].first_failure(submission)
        assert (failure and failure[0]) == expected[post["id"]], post
    comments = [{**c, "id": f"c{i}", "link_id": "t3_p0", "parent_id": "t3_p0", "subreddit": "WritingPrompts"}
                for i, (c, _) in enumerate(COMMENTS)]
    assert [r.reason for r in rules.comment_rules(config)] == [reason for _, reason in COMMENTS[1:]]
    best, rejected = top_comments(comments, {"p0"}, config)
    assert best["p0"]["comment"]["id"] == "c0" and rejected == {"p0": {r: 1 for _, r in COMMENTS[1:]}}
    _write_zst(tmp_path / "RS_2020-01.zst", posts)  # the source: the same codes in its rejection log
    _write_zst(tmp_path / "RC_2020-01.zst", comments)
    result = curate(config)
    assert {r["id"].rsplit("/", 1)[1]: r["reason"] for r in result.rejections} == \
        {k: v for k, v in expected.items() if v}
    assert [r["source_id"] for r in result.records if r["source"] == "writingprompts"] == ["p0/c0"]
    # after the join: the candidate whose comments all fail a comment rule fails EligibleComment
    assert rules.EligibleComment().check(Story(None, rejected["p0"])) == \
        ("no_eligible_comment", ", ".join(f"{r}: 1" for r in sorted(r for _, r in COMMENTS[1:])))
    _write_zst(tmp_path / "RC_2020-01.zst", comments[1:])
    result = curate(config)
    (story,) = [r for r in result.rejections if r["id"] == "reddit/writingprompts/p0"]
    assert (story["reason"], story["detail"]) == rules.EligibleComment().check(Story(None, rejected["p0"]))
    assert result.extras["ranked_candidates"][0]["reason"] == "no_eligible_comment"


ARTICLE = {"title": "How to Bake Bread", "category_hierarchy": ["Food and Entertaining"],
           "methods": [{"name": "Kneading", "steps": [{"headline": "Mix the flour", "description": "Add water."},
                                                      {"headline": "Knead", "description": "Ten minutes."}]},
                       {"name": "Baking", "steps": [{"headline": "Heat the oven", "description": "To 220 C."}]}]}


def test_wikihow_reports_the_codes_of_its_rules(tmp_path):
    import json

    from lima_hf.data.sources.wikihow import Config, curate

    one_method = {**ARTICLE, "title": "How to Knead", "methods": ARTICLE["methods"][:1]}
    kneading, baking = ARTICLE["methods"]
    one_step = {**ARTICLE, "title": "How to Heat an Oven",
                "methods": [{**kneading, "steps": kneading["steps"][:1]}, baking]}
    long = {**ARTICLE, "title": "How to Bake a Long Loaf",
            "title_description": "Bread is the oldest food. " * 20}
    articles = {"How to Bake Bread": None, "How to Knead": "too_few_methods", "How to Heat an Oven": "too_few_steps",
                "How to Bake a Long Loaf": "length"}
    path = tmp_path / "articles.jsonl"
    path.write_text("".join(json.dumps(a) + "\n" for a in (ARTICLE, one_method, one_step, long)))
    config = Config(input=str(path), min_methods=2, min_steps=3, max_chars=400, progress=False)
    assert [r.reason for r in rules.wikihow_rules(config)] == ["too_few_methods", "too_few_steps", "length"]
    result = curate(config)
    written = {r["id"]: (r["reason"], r["detail"]) for r in result.rejections}
    long_detail = written["wikihow/How-to-Bake-a-Long-Loaf"][1]
    assert written == {"wikihow/How-to-Knead": ("too_few_methods", "1 < 2"),
                       "wikihow/How-to-Heat-an-Oven": ("too_few_steps", "2 < 3"),
                       "wikihow/How-to-Bake-a-Long-Loaf": ("length", long_detail)}
    assert long_detail.endswith(" characters") and int(long_detail.split()[0]) > 400
    assert [r["id"] for r in result.records] == ["wikihow/How-to-Bake-Bread"]
    assert {f"wikihow/{t.replace(' ', '-')}": r for t, r in articles.items() if r} == \
        {id: reason for id, (reason, _) in written.items()}


def _task(categories, *, languages=("English",), instances=None):
    return {"Definition": ["Rewrite the sentence."], "Categories": categories,
            "Input_language": list(languages), "Output_language": list(languages),
            "Instances": instances or [{"id": "i0", "input": "The cat sat.", "output": ["A cat was sitting."]}]}


# task -> the one rule it fails (None: it passes), in the order of natural_instructions_rules
TASKS = {
    "task1_paraphrase": (_task(["Paraphrasing"]), None),
    "task2_other_split": (_task(["Paraphrasing"]), "not_in_train_split"),
    "task3_sentiment": (_task(["Sentiment Analysis"]), "not_generation"),
    "task4_french": (_task(["Text Modification -> Paraphrasing"], languages=("French",)), "not_english"),
    "task5_no_output": (_task(["Summarization"], instances=[{"id": "i0", "input": "Text.", "output": [""]}]),
                        "no_usable_instance"),
}


def test_natural_instructions_reports_the_codes_of_its_rules(tmp_path):
    import json

    from lima_hf.data.sources import natural_instructions as ni

    (tmp_path / "tasks").mkdir()
    for name, (task, _) in TASKS.items():
        (tmp_path / "tasks" / f"{name}.json").write_text(json.dumps(task))
    (tmp_path / "splits" / "default").mkdir(parents=True)
    (tmp_path / "splits" / "default" / "train_tasks.txt").write_text(
        "".join(f"{name}\n" for name, (_, reason) in TASKS.items() if reason != "not_in_train_split"))
    config = ni.Config(input=str(tmp_path), progress=False)
    train_tasks = {name for name, (_, reason) in TASKS.items() if reason != "not_in_train_split"}
    split_rule, *task_rules = rules.natural_instructions_rules(config, train_tasks)
    assert [r.reason for r in (split_rule, *task_rules)] == \
        ["not_in_train_split", "not_generation", "not_english", "no_usable_instance"]
    assert [r.reason for r in rules.natural_instructions_rules(ni.Config(english_only=False), None)] == \
        ["not_in_train_split", "not_generation", "no_usable_instance"]
    for name, (_, reason) in TASKS.items():  # the rule list alone: the split on the path, the rest on the task
        path = tmp_path / "tasks" / f"{name}.json"
        failure = split_rule.check(path) or RuleChain(task_rules).first_failure(ni.parse_task(path))
        assert (failure and failure[0]) == reason, name
    result = ni.curate(config)  # the source: the same codes in its rejection log
    assert {r["id"].split("/")[1]: r["reason"] for r in result.rejections} == \
        {name: reason for name, (_, reason) in TASKS.items() if reason}
    details = {r["reason"]: r["detail"] for r in result.rejections}
    assert details["not_generation"] == "Sentiment Analysis" and details["not_english"] == "French"
    assert [r["source_id"] for r in result.records] == ["i0"] and "task1" in result.records[0]["id"]


def test_selection_reports_the_codes_of_its_rule_list():
    from lima_hf.data.selection.pipeline import Candidate

    config = SelectionConfig(n=1, lima_rules=True, min_score=5, min_quality=0.5, strategy="random",
                             show_progress=False, dedup=False)
    assert [r.reason for r in rules.selection_rules(config)] == [*REASONS[2:7], "min_score", "low_quality"]
    assert [r.reason for r in rules.selection_rules(SelectionConfig(n=1))] == ["low_quality"]
    records = [{"id": str(i), "source": "se", "score": score,
                "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": text}]}
               for i, (text, score) in enumerate([(PROSE * 3, 9), (PROSE * 20, 1), (PROSE * 20, 9),
                                                  (PROSE * 20, None)])]
    chain = RuleChain(rules.selection_rules(config))  # the rule list alone
    assert [chain.first_failure(Candidate(r, 0.9)) for r in records] == \
        [("answer_too_short", f"{len(PROSE * 3)} characters (window 1200-4096)"), ("min_score", "score 1 < 5"),
         None, None]
    assert chain.first_failure(Candidate(records[2], 0.25)) == ("low_quality", "quality 0.250 < 0.5")
    result = select_records(records, dataclasses.replace(config, min_quality=0.0),  # the pipeline: the same codes
                            embeddings=np.eye(len(records), dtype=np.float32))
    assert {d["id"]: d["reason"] for d in result.dropped} == {"0": "answer_too_short", "1": "min_score"}
