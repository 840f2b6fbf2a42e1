"""One rule layer: curation, calibration and selection apply the same rule objects and report the same codes."""

from __future__ import annotations

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
