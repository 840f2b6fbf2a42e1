"""Fault cases of the sources and the judge parsing: no silent zero-record success, no wrong value taken for
a missing one, and ``--on_error skip`` skips only the bad record (line, row, article) and logs it."""

import csv
import json
import math
import shutil
from pathlib import Path

import pytest

from lima_hf.cli import main
from lima_hf.errors import InputError

pytestmark = pytest.mark.usefixtures("token_in_environment")  # the token in the environment, found nowhere

SAMPLES = Path(__file__).resolve().parent.parent / "lima_hf" / "resources" / "samples"
UNIX = "unix.stackexchange.com"


def _curate(source, input_, tmp_path, capsys, *options):
    code = main(["curate", source, "--input", str(input_), "--output", str(tmp_path / "out.jsonl"), *options])
    return code, capsys.readouterr().err


def _rejections(tmp_path):
    path = tmp_path / "out.rejections.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# --------------------------------------------------------------------------- Stack Exchange


@pytest.mark.parametrize("layout", ["empty", "unrelated"])
def test_stackexchange_folder_without_sites_says_why(layout, tmp_path, capsys, user_files):
    dump = tmp_path / "dump"
    dump.mkdir()
    if layout == "unrelated":
        (dump / "notes.txt").write_text("x")
        (dump / "photos").mkdir()
    user_files(tmp_path)
    code, err = _curate("stackexchange", dump, tmp_path, capsys)
    assert code == 1 and "no Stack Exchange site found" in err
    assert ("it is empty" if layout == "empty" else "no SITE/Posts.xml folder") in err


def test_stackexchange_site_folder_as_input(tmp_path, capsys, user_files):
    site = user_files(SAMPLES / "stackexchange" / UNIX)
    code, err = _curate("stackexchange", site, tmp_path, capsys)
    assert code == 1 and "is one site's folder" in err and f"--sites {UNIX}" in err


def _dump_with(tmp_path, edit):
    dump = tmp_path / "dump"
    shutil.copytree(SAMPLES / "stackexchange", dump)
    posts = dump / UNIX / "Posts.xml"
    lines = posts.read_text(encoding="utf-8").splitlines(keepends=True)
    edit(lines)
    posts.write_text("".join(lines), encoding="utf-8")
    return dump


@pytest.mark.parametrize(
    "attribute, row, message",
    [('Score="42" ', 2, "row without a valid Score"), ('PostTypeId="1" ', 2, "row without a valid PostTypeId"),
     ('ParentId="1" ', 3, "answer row without a valid ParentId")],
)
def test_stackexchange_rows_missing_key_attributes_are_logged(attribute, row, message, tmp_path, capsys, user_files):
    def edit(lines):
        assert attribute in lines[row]
        lines[row] = lines[row].replace(attribute, "")

    dump = user_files(_dump_with(tmp_path, edit))
    code, err = _curate("stackexchange", dump, tmp_path, capsys, "--sites", UNIX)
    assert code == 1 and f"Posts.xml:{row + 1}" in err and message in err
    code, _ = _curate("stackexchange", dump, tmp_path, capsys, "--sites", UNIX, "--on_error", "skip")
    assert code == 0
    logged = [r for r in _rejections(tmp_path) if message in r["detail"]]
    assert len(logged) == 1 and f"Posts.xml:{row + 1}" in logged[0]["detail"] + logged[0]["id"]


def test_stackexchange_missing_dates_and_owner():
    from lima_hf.data.sources.stackexchange.pipeline import UNKNOWN_AUTHOR, _author
    from lima_hf.data.sources.stackexchange.posts import row_license

    assert row_license({}) == "CC BY-SA"  # no date: no guessed version (it was "CC BY-SA 2.5")
    assert row_license({"CreationDate": "2015-01-01T00:00:00"}) == "CC BY-SA 3.0"
    assert _author("unix.stackexchange.com", None, None) == UNKNOWN_AUTHOR


# --------------------------------------------------------------------------- Pushshift


def test_pushshift_zero_byte_file_says_so(tmp_path, capsys, user_files):
    empty = tmp_path / "AskReddit_submissions.zst"
    empty.write_bytes(b"")
    user_files(empty)
    code, err = _curate("reddit", empty, tmp_path, capsys)
    assert code == 1 and "empty file (0 bytes)" in err and str(empty) in err


# --------------------------------------------------------------------------- wikiHow


def _sep_rows():
    with open(SAMPLES / "wikihow" / "wikihowSep.csv", encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_wikihow_sep_without_section_label_is_refused(tmp_path, capsys, user_files):
    rows = _sep_rows()
    column = rows[0].index("sectionLabel")
    path = tmp_path / "wikihowSep.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([r[:column] + r[column + 1:] for r in rows])
    user_files(path)
    code, err = _curate("wikihow", path, tmp_path, capsys)
    assert code == 1 and "wikihowSep.csv header without column(s) sectionLabel" in err


def test_wikihow_row_with_wrong_field_count_skips_its_whole_article(tmp_path, capsys, user_files):
    rows = _sep_rows()
    title = rows[0].index("title")
    first = rows[1][title]
    steps = [n for n, r in enumerate(rows) if n and r[title] == first]
    assert len(steps) >= 3
    rows[steps[1]] = rows[steps[1]][:-2]  # a middle step of the first article loses two fields
    path = tmp_path / "wikihowSep.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    user_files(path)
    code, err = _curate("wikihow", path, tmp_path, capsys)
    assert code == 1 and "fields, expected 5" in err
    assert _curate("wikihow", path, tmp_path, capsys, "--on_error", "skip")[0] == 0
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert records
    assert not any(first.lower().removeprefix("how to ") in r["messages"][0]["content"].lower() for r in records)
    (skipped,) = [r for r in _rejections(tmp_path) if "skipped as incomplete" in r["detail"]]
    assert first in skipped["detail"] and "fields, expected 5" in skipped["detail"]


# --------------------------------------------------------------------------- authored and released JSONL


def test_authored_jsonl_skip_drops_only_the_bad_line(tmp_path, capsys, user_files):
    path = tmp_path / "mine.jsonl"
    good = {"split": "train", "prompt": "Q", "response": "A"}
    path.write_bytes(b"\n".join([json.dumps({**good, "id": "a"}).encode(), b"{not json", b'{"id": "caf\xe9"}',
                                 json.dumps({**good, "id": "b"}).encode()]) + b"\n")
    user_files(path)
    code, err = _curate("authored", path, tmp_path, capsys)
    assert code == 1 and f"{path}:2: malformed JSON" in err
    assert _curate("authored", path, tmp_path, capsys, "--on_error", "skip")[0] == 0
    ids = [json.loads(line)["id"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert ids == ["authored/a", "authored/b"]
    assert [(r["id"], r["reason"]) for r in _rejections(tmp_path)] == [("mine.jsonl:2", "malformed"),
                                                                       ("mine.jsonl:3", "malformed")]
    assert "invalid UTF-8" in _rejections(tmp_path)[1]["detail"]


def test_released_train_jsonl_skip_keeps_the_good_lines(tmp_path, capsys, user_files):
    release = tmp_path / "X"
    release.mkdir()
    rows = [json.dumps({"conversations": [f"Q{i}", f"A{i}"], "source": "stackexchange"}) for i in range(3)]
    (release / "train.jsonl").write_text(rows[0] + "\n{broken\n" + rows[1] + "\n" + rows[2] + "\n")
    user_files(release)
    code, err = _curate("lima-release", release / "train.jsonl", tmp_path, capsys)
    assert code == 1 and "train.jsonl:2: malformed JSON" in err
    assert _curate("lima-release", release / "train.jsonl", tmp_path, capsys, "--on_error", "skip")[0] == 0
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 3
    assert [r["id"] for r in _rejections(tmp_path)] == ["train.jsonl:2"]


# --------------------------------------------------------------------------- judge replies and figures


@pytest.mark.parametrize("reply", ["Choice: 1 or Choice: 2", "Choice: 1 or 2", "Reasoning...\nChoice: 2 / Choice: 1"])
def test_reply_naming_two_options_is_unparsed_not_a_tie(reply):
    from lima_hf.evaluation.parsing import parse_preference

    assert parse_preference(reply) is None


def test_likert_interval_stays_on_the_scale():
    from lima_hf.evaluation.stats import likert_summary

    low, high = likert_summary([6, 6, 6, 5])["interval_95"]
    assert 1 <= low <= high <= 6 and high == 6
    low, high = likert_summary([1, 1, 2])["interval_95"]
    assert low == 1
    assert all(math.isnan(v) for v in likert_summary([3])["interval_95"])


def test_read_jsonl_skip_mode_reports_each_bad_line(tmp_path, user_files):
    from lima_hf.io import read_jsonl

    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n\xff\xfe\n{"a": 2}\n')
    user_files(path)
    with pytest.raises(InputError, match=r"x.jsonl:2: invalid UTF-8"):
        list(read_jsonl(path))
    skipped = []
    assert [obj["a"] for _, obj in read_jsonl(path, on_error="skip", skipped=skipped)] == [1, 2]
    assert [line for line, _ in skipped] == [2]


@pytest.mark.parametrize("source, name", [("authored", "empty.jsonl"), ("lima-release", "train.jsonl")])
def test_an_empty_input_is_an_error_not_a_zero_record_success(source, name, tmp_path, capsys, user_files):
    empty = tmp_path / name
    empty.write_text("")
    user_files(empty)
    code, err = _curate(source, empty, tmp_path, capsys)
    assert code == 1 and "found nothing to curate" in err and not (tmp_path / "out.jsonl").exists()
