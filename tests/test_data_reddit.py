"""Pushshift Reddit: WritingPrompts pairs, AskReddit questions, the zstandard stream, bad input."""

import json
from pathlib import Path

import pytest
import zstandard

from lima_hf.data.sources import reddit
from lima_hf.data.sources.reddit import pushshift
from lima_hf.errors import InputError

SAMPLES = Path(__file__).resolve().parent.parent / "lima_hf" / "resources" / "samples" / "reddit"


def _curate(path, **kw):
    return reddit.curate(reddit.Config(input=str(path), **kw))


def _zst(path, rows, raw_lines=()):
    data = "".join(json.dumps(r) + "\n" for r in rows).encode() + b"".join(raw_lines)
    path.write_bytes(zstandard.ZstdCompressor().compress(data))
    return path


def test_writingprompts_pairs_and_askreddit_questions():
    result = _curate(SAMPLES)
    records = {r["id"]: r for r in result.records}
    wp = [r for r in result.records if r["source"] == "writingprompts"]
    assert [r["id"] for r in wp] == [f"reddit/writingprompts/d1aaa{i}" for i in (1, 2, 3, 4)]  # by score
    first = records["reddit/writingprompts/d1aaa1"]
    assert first["messages"][0]["content"].startswith("You receive a letter from your future self")  # [WP] stripped
    # the top-scored top-level story: not the sticky AutoModerator comment, not the higher-scored reply
    assert first["messages"][1]["content"].startswith("The letter arrived on a Tuesday")
    assert json.loads(first["metadata"])["comment_id"] == "f0a02"
    assert records["reddit/writingprompts/d1aaa2"]["messages"][1]["content"].startswith("Everyone gets a number")
    assert "Edit: thanks for the gold" not in records["reddit/writingprompts/d1aaa3"]["messages"][1]["content"]
    assert records["reddit/writingprompts/d1aaa4"]["messages"][0]["content"].startswith("The sun doesn't rise")
    assert first["url"].startswith("https://www.reddit.com/r/WritingPrompts/comments/d1aaa1/")
    assert first["author"] == "u/writer_d1aaa1, u/reader_f0a02"
    ask = [r["messages"] for r in result.records if r["source"] == "askreddit"]
    assert [m[0]["content"] for m in ask][2] == "How did you know it was time to change careers?"  # [Serious] removed
    assert all(len(m) == 1 for m in ask) and len(ask) == 6
    reasons = {r["id"]: r["reason"] for r in result.rejections}
    assert reasons["reddit/writingprompts/d1aaa5"] == "not_a_writing_prompt"  # [EU]
    assert reasons["reddit/writingprompts/d1aaa7"] == "no_eligible_comment"
    assert reasons["reddit/askreddit/e2bbb4"] == "not_self_contained"
    assert reasons["reddit/askreddit/e2bbb7"] == "has_body"
    ranked = result.extras["ranked_candidates"]
    assert [c["rank"] for c in ranked if c["source"] == "writingprompts"] == [1, 2, 3, 4, 5]
    assert ranked[4]["eligible"] is False


@pytest.mark.shared_data
def test_real_pushshift_files(shared_data):
    result = _curate(
        shared_data / "pushshift" / "AskMen_submissions.zst",
        askreddit_subreddit="AskMen",
        writingprompts_subreddit="",
        max_candidates=70,
    )
    assert len(result.records) == 70
    assert all(r["messages"][0]["content"].endswith("?") for r in result.records)
    scores = [r["score"] for r in result.records]
    assert scores == sorted(scores, reverse=True)
    assert result.rejection_counts()["body_removed"] > 1000
    comments = list(pushshift.iter_zst_lines(shared_data / "pushshift" / "RC_2005-12.zst"))
    assert len(comments) == 1075 and comments[-1][0] == 1075


def test_created_utc_int_float_or_string(tmp_path):
    posts = [
        {
            "id": f"a{i}",
            "title": f"[WP] Prompt number {i} about dragons",
            "score": 10 - i,
            "subreddit": "WritingPrompts",
            "author": "x",
            "created_utc": value,
        }
        for i, value in enumerate([1571600000, 1571600000.0, "1571600000"])
    ]
    story = "Once upon a time. " * 40
    comments = [
        {
            "id": f"c{i}",
            "link_id": f"t3_a{i}",
            "parent_id": f"t3_a{i}",
            "body": story,
            "score": 5,
            "author": "y",
            "subreddit": "WritingPrompts",
        }
        for i in range(3)
    ]
    _zst(tmp_path / "WritingPrompts_submissions.zst", posts)
    _zst(tmp_path / "WritingPrompts_comments.zst", comments)
    result = _curate(tmp_path, askreddit_subreddit="")
    assert [json.loads(r["metadata"])["created_utc"] for r in result.records] == [1571600000] * 3


def test_monthly_dumps_are_filtered_by_subreddit(tmp_path):
    posts = [
        {
            "id": "b1",
            "title": "What is the best advice you have ever received?",
            "score": 50,
            "subreddit": "AskReddit",
            "selftext": "",
        },
        {
            "id": "b2",
            "title": "What is your favourite programming language and why?",
            "score": 60,
            "subreddit": "programming",
            "selftext": "",
        },
    ]
    _zst(tmp_path / "RS_2019-10.zst", posts)
    _zst(tmp_path / "AskReddit_submissions.zst", posts[:1])  # the same post again: counted once
    result = _curate(tmp_path)
    assert [r["id"] for r in result.records] == ["reddit/askreddit/b1"]


def test_malformed_line_and_truncated_file(tmp_path):
    good = {
        "id": "b1",
        "title": "What is the best advice you have ever received?",
        "score": 50,
        "subreddit": "AskReddit",
        "selftext": "",
    }
    path = _zst(tmp_path / "AskReddit_submissions.zst", [good], raw_lines=[b'{"id": "b2", "title": \n'])
    with pytest.raises(InputError, match=r"AskReddit_submissions.zst:2: malformed line"):
        _curate(path)
    result = _curate(path, on_error="skip")
    assert len(result.records) == 1 and result.rejections[0]["reason"] == "malformed"
    assert result.rejections[0]["id"] == "AskReddit_submissions.zst:2"  # file:line, as every source
    data = path.read_bytes()
    path = _zst(tmp_path / "AskReddit_submissions.zst", [good] * 200)
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(InputError, match=r"AskReddit_submissions.zst: truncated zstandard file"):
        _curate(path, on_error="skip")
    (tmp_path / "AskReddit_submissions.zst").write_bytes(b"not zstd" + data)
    with pytest.raises(InputError, match=r"corrupt zstandard data"):
        _curate(tmp_path / "AskReddit_submissions.zst")
    with pytest.raises(InputError, match=r"cannot tell submissions from comments"):
        _curate(_zst(tmp_path / "misc.zst", [{"id": "b3"}]))  # neither the content nor the name tells


def test_kind_is_read_from_the_content_whatever_the_name(tmp_path):
    """A renamed Pushshift file (no RS_/RC_ prefix, no _submissions/_comments suffix, any extension) is read
    by what its first line is; a name that says the opposite does not override the content."""
    submissions = [{"id": "c1", "title": "What is the best advice you have ever received?", "score": 50,
                    "subreddit": "AskReddit", "selftext": ""}]
    comments = [{"id": "x1", "link_id": "t3_c1", "parent_id": "t3_c1", "body": "Be kind.", "score": 9,
                 "subreddit": "AskReddit"}]
    folder = tmp_path / "renamed"
    folder.mkdir()
    _zst(folder / "askreddit-2019.ndjson.zstd", submissions)
    _zst(folder / "RC_misnamed_submissions.zst", comments)
    (folder / "README.md").write_text("not a dump\n")
    assert pushshift.content_kind(folder / "askreddit-2019.ndjson.zstd") == "submissions"
    assert pushshift.file_kind(folder / "RC_misnamed_submissions.zst") == "comments"
    assert pushshift.file_kind(folder / "README.md") is None
    assert [r["id"] for r in _curate(folder).records] == ["reddit/askreddit/c1"]
    assert [r["id"] for r in _curate(folder / "askreddit-2019.ndjson.zstd").records] == ["reddit/askreddit/c1"]
    unclear = _zst(tmp_path / "dump.zst", [{"id": "z"}])
    with pytest.raises(InputError, match="cannot tell submissions from comments, neither by the first line"):
        _curate(unclear)


def test_real_files_are_recognised_by_content(shared_data, tmp_path):
    for name, kind in (("AskMen_submissions.zst", "submissions"), ("RC_2005-12.zst", "comments")):
        renamed = tmp_path / f"{kind}.bin"
        renamed.write_bytes((shared_data / "pushshift" / name).read_bytes())
        assert pushshift.file_kind(renamed) == kind
