"""Fault cases of ``lima-hf curate`` (issue #25, the curation part): no record with an empty prompt, an
interrupted run leaves the previous output set whole, a dump of other subreddits says what it holds, and the
common options are the same for every source."""

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from lima_hf import io as lima_io
from lima_hf.cli import main
from lima_hf.data.sources import SOURCES, load_source

pytestmark = pytest.mark.usefixtures("token_in_environment")  # the token in the environment, found nowhere

SAMPLES = Path(__file__).resolve().parent.parent / "lima_hf" / "resources" / "samples"
UNIX = "unix.stackexchange.com"
COMMON_OPTIONS = {"input", "seed", "on_error", "progress"}


def _curate(source, input_, output, capsys, *options):
    code = main(["curate", source, "--input", str(input_), "--output", str(output), *options])
    return code, capsys.readouterr().err


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_question_with_no_title_and_no_body_is_not_a_record_with_an_empty_prompt(tmp_path, capsys, user_files):
    dump = tmp_path / "dump"
    shutil.copytree(SAMPLES / "stackexchange", dump)
    posts = dump / UNIX / "Posts.xml"
    lines = posts.read_text(encoding="utf-8").splitlines(keepends=True)
    question = lines[2]
    title = question[question.index(' Title="'):question.index('"', question.index(' Title="') + 8) + 1]
    body = question[question.index(' Body="'):question.index('"', question.index(' Body="') + 7) + 1]
    lines[2] = question.replace(title, ' Title=""').replace(body, ' Body=""')
    posts.write_text("".join(lines), encoding="utf-8")
    user_files(dump)
    options = ("--sites", UNIX, "--unfiltered", "true", "--no_progress", "--no_report")
    code, err = _curate("stackexchange", dump, tmp_path / "out.jsonl", capsys, *options)
    assert code == 1 and "Posts.xml:3" in err and "neither a title nor a body" in err
    code, _ = _curate("stackexchange", dump, tmp_path / "out.jsonl", capsys, *options, "--on_error", "skip")
    assert code == 0
    assert all(record["messages"][0]["content"].strip() for record in _lines(tmp_path / "out.jsonl"))
    logged = [r for r in _lines(tmp_path / "out.rejections.jsonl") if r["reason"] == "empty_question"]
    assert len(logged) == 1 and "Posts.xml:3" in logged[0]["id"]


def test_an_interrupted_curate_leaves_the_previous_output_set_whole(tmp_path, capsys, monkeypatch, user_files):
    user_files(SAMPLES / "stackexchange")
    out = tmp_path / "out" / "se.jsonl"
    code, _ = _curate("stackexchange", SAMPLES / "stackexchange", out, capsys, "--no_progress", "--no_report")
    assert code == 0 and len(list(out.parent.iterdir())) >= 4  # records, rejections, extras, mark
    user_files(out.parent)  # the previous output set, now the user's
    records = len(_lines(out))
    written = []
    original = lima_io.dump_jsonl_line

    def interrupted(record):  # Ctrl-C once the records file of the second run is written
        if len(written) == records:
            raise KeyboardInterrupt
        written.append(record)
        return original(record)

    monkeypatch.setattr(lima_io, "dump_jsonl_line", interrupted)
    try:
        code = main(["curate", "stackexchange", "--input", str(SAMPLES / "stackexchange"), "--output", str(out),
                     "--no_progress", "--no_report", "--seed", "7"])
    except KeyboardInterrupt:
        code = 130
    assert code != 0 and written  # and the old set is whole: no new records beside old extras, no temporaries


def test_reddit_dump_of_other_subreddits_says_what_it_holds(tmp_path, capsys, user_files):
    zstandard = pytest.importorskip("zstandard")
    dump = tmp_path / "AskMen_submissions.zst"
    rows = [{"id": f"a{i}", "title": "Men, what?", "selftext": "", "score": 5, "subreddit": "AskMen"} for i in range(7)]
    rows.append({"id": "b1", "title": "Cats?", "selftext": "", "score": 5, "subreddit": "cats"})
    dump.write_bytes(zstandard.ZstdCompressor().compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    user_files(tmp_path)
    code, err = _curate("reddit", dump, tmp_path / "out.jsonl", capsys, "--no_progress")
    assert code == 1 and "empty file or folder" not in err
    assert "r/AskMen (7 lines)" in err and "r/cats (1 lines)" in err and "8 lines read" in err
    assert "--askreddit_subreddit" in err and not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_source_takes_the_common_options(name):
    fields = {f.name for f in dataclasses.fields(load_source(name).Config)}
    assert COMMON_OPTIONS <= fields


@pytest.mark.parametrize("name, sample", [("reddit", "reddit"), ("wikihow", "wikihow"),
                                          ("natural_instructions", "natural-instructions")])
def test_no_progress_and_on_error_are_accepted_by_every_source(name, sample, tmp_path, capsys, user_files):
    code, err = _curate(name, user_files(SAMPLES / sample), tmp_path / "out.jsonl", capsys, "--no_progress",
                        "--on_error", "skip")
    assert code == 0, err
