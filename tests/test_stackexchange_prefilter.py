"""The raw-byte prefilter falls back to a full XML parse, with the same output, on valid XML outside the dump layout."""

import re
import shutil
from pathlib import Path

import pytest

from lima_hf.data.sources.stackexchange import Config, curate, sample_dump_path
from lima_hf.data.sources.stackexchange.dump import POSTS, locate, open_member
from lima_hf.data.sources.stackexchange.posts import scan_posts, scan_posts_parsed
from lima_hf.errors import InputError

ROW = re.compile(rb"^\s*<row .*/>\s*$")


def _rows_of(data: bytes) -> tuple[list[bytes], list[bytes]]:
    lines = data.splitlines(keepends=True)
    return lines, [line for line in lines if ROW.match(line)]


def _map_rows(data: bytes, change) -> bytes:
    return b"".join(change(line) if ROW.match(line) else line for line in data.splitlines(keepends=True))


def _two_per_line(data: bytes) -> bytes:
    lines, rows = _rows_of(data)
    out, pending = [], None
    for line in lines:
        if not ROW.match(line):
            out += [pending] if pending else []
            pending = None
            out.append(line)
        elif pending is None:
            pending = line.rstrip(b"\r\n")
        else:
            out.append(pending + line.lstrip())
            pending = None
    return b"".join(out)


def _reversed_ids(data: bytes) -> bytes:
    lines, rows = _rows_of(data)
    rows = iter(reversed(rows))
    return b"".join(next(rows) if ROW.match(line) else line for line in lines)


def _single_quotes(line: bytes) -> bytes:
    return re.sub(rb'="([^"]*)"', lambda m: b"='" + m.group(1).replace(b"'", b"&apos;") + b"'", line)


CASES = {
    "several elements on one line": _two_per_line,
    "ids not increasing": _reversed_ids,
    "other quoting": lambda data: _map_rows(data, _single_quotes),
    "Score quoted alone": lambda data: _map_rows(data, lambda l: re.sub(rb' Score="(-?\d+)"', rb" Score='\1'", l)),
    "spaced attributes": lambda data: _map_rows(data, lambda l: l.replace(b' Score="', b' Score = "')),
    "character references": lambda data: _map_rows(data, lambda l: re.sub(
        rb' (Score|PostTypeId)="(\d)', lambda m: b" " + m.group(1) + b'="&#%d;' % m.group(2)[0], l)),
    "tab separators": lambda data: _map_rows(data, lambda l: l.replace(b'" ', b'"\t')),
    "tab after <row": lambda data: _map_rows(data, lambda l: l.replace(b"<row ", b"<row\t")),
}
REASONS = {
    "several elements on one line": "several elements on one line",
    "ids not increasing": "ids not increasing",
    "other quoting": 'does not start with Id="..." PostTypeId="..."',
    "Score quoted alone": "attribute Score is not written",
    "spaced attributes": "attribute Score is not written",
    "character references": 'does not start with Id="..." PostTypeId="..."',
    "tab separators": 'does not start with Id="..." PostTypeId="..."',
    "tab after <row": "a <row> that does not start its line or is not followed by one space",
}


def _curate(folder: Path):
    return curate(Config(input=str(folder), progress=False, report=False))


@pytest.fixture(scope="module")
def reference():
    return _curate(sample_dump_path())


def _variant(tmp_path: Path, change, member: str = POSTS) -> Path:
    folder = tmp_path / "dump"
    shutil.copytree(sample_dump_path(), folder)
    for path in folder.glob(f"*/{member}"):
        path.write_bytes(change(path.read_bytes()))
    return folder


@pytest.mark.parametrize("case", sorted(CASES))
def test_departures_fall_back_to_the_full_parse_with_the_same_output(case, tmp_path, reference, caplog):
    folder = _variant(tmp_path, CASES[case])
    result = _curate(folder)
    assert result.records == reference.records
    assert result.rejections == reference.rejections
    assert result.extras["multi_turn_candidates"] == reference.extras["multi_turn_candidates"]
    notes = [note for row in result.extras["site_counts"] for note in row["full_parse"]]
    assert len(notes) == 2 and all(REASONS[case] in note and "Posts.xml" in note for note in notes), notes
    assert "read with a full XML parse instead of the prefilter" in caplog.text
    assert not any(row["full_parse"] for row in reference.extras["site_counts"])


def test_comments_outside_the_layout_fall_back_too(tmp_path, reference):
    folder = _variant(tmp_path, lambda data: _map_rows(data, _single_quotes), member="Comments.xml")
    result = _curate(folder)
    assert result.extras["multi_turn_candidates"] == reference.extras["multi_turn_candidates"]
    assert result.records == reference.records
    notes = [note for row in result.extras["site_counts"] for note in row["full_parse"]]
    assert notes and all("Comments.xml" in note and "attribute PostId is not written" in note for note in notes)


def test_full_parse_of_a_malformed_variant_names_the_line(tmp_path):
    folder = _variant(tmp_path, lambda data: _two_per_line(data).replace(b"/>", b">", 1))
    with pytest.raises(InputError, match=r"Posts.xml:\d+: malformed XML"):
        _curate(folder)


def test_full_parse_scan_equals_the_prefilter_on_a_real_dump(shared_data):
    dump = locate(shared_data / "stackexchange", "quantumcomputing.stackexchange.com", POSTS)
    scans = []
    for scan in (scan_posts, scan_posts_parsed):
        with open_member(dump, "py7zr") as stream:
            scans.append(scan(stream, "Posts.xml", top_k=300, min_answer_score=3))
    fast, parsed = scans
    assert [q.id for q in fast.questions] == [q.id for q in parsed.questions]
    assert {q: a.id for q, a in fast.answers.items()} == {q: a.id for q, a in parsed.answers.items()}
    assert (fast.rows, fast.post_types) == (parsed.rows, parsed.post_types) and len(fast.answers) > 100
