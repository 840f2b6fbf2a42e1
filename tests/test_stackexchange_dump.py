"""Reading dump folders: extracted sites, per-site and split 7z archives streamed, rows of every era, bad input."""

import io
import shutil
from pathlib import Path

import py7zr
import pytest

from lima_hf.data.sources.stackexchange.dump import (
    DumpFile,
    archive_members,
    list_dump_sites,
    locate,
    open_member,
    read_sites_xml,
    sevenzip_binary,
)
from lima_hf.data.sources.stackexchange.rows import (
    LayoutDeparture,
    RowError,
    attribute,
    iter_rows,
    parse_row,
)
from lima_hf.errors import InputError

HEADER = b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?>\r\n<posts>\r\n'
ROW_2015 = b'  <row Id="1" PostTypeId="1" CreationDate="2015-01-01T00:00:00.000" Score="3" Body="&lt;p&gt;Hi&lt;/p&gt;" Title="T &amp; U" />\r\n'
ROW_2023 = (b'  <row Id="2" PostTypeId="2" ParentId="1" CreationDate="2023-01-01T00:00:00.000" Score="12" '
            b'Body="&lt;p&gt;caf\xc3\xa9&lt;/p&gt;" ContentLicense="CC BY-SA 4.0" />\r\n')


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _rows(data: bytes, on_skip=None):
    return list(iter_rows(io.BytesIO(data), "Posts.xml", on_skip))


def test_rows_of_every_era_with_bom():
    rows = _rows(HEADER + ROW_2015 + ROW_2023 + b"</posts>")
    assert [line for line, _ in rows] == [3, 4]
    first, second = (parse_row(row, "x") for _, row in rows)
    assert first["Title"] == "T & U" and "ContentLicense" not in first
    assert second["Body"] == "<p>café</p>" and second["ContentLicense"] == "CC BY-SA 4.0"
    assert attribute(rows[1][1], "ParentId") == b"1"
    assert attribute(rows[0][1], "Missing") is None


def test_invalid_utf8_names_file_and_line():
    bad = ROW_2023.replace(b"caf\xc3\xa9", b"caf\xe9")
    with pytest.raises(InputError, match=r"Posts.xml:4: invalid UTF-8"):
        _rows(HEADER + ROW_2015 + bad + b"</posts>")


def test_malformed_and_truncated_rows_name_file_and_line():
    with pytest.raises(InputError, match=r"Posts.xml:3: malformed XML row"):
        _rows(HEADER + b'  <row Id="1" PostTypeId="1" Body="cut here\r\n</posts>')
    with pytest.raises(InputError, match=r"Posts.xml:3: malformed XML row"):
        parse_row(b'<row Id="1" Body="a & b" />', "Posts.xml:3")
    with pytest.raises(InputError, match=r"Posts.xml:4: file ends before its closing tag"):
        _rows(HEADER + ROW_2015 + ROW_2023)


def test_rows_not_one_per_line_are_a_layout_departure():
    with pytest.raises(LayoutDeparture, match=r"Posts.xml:1: a <row> that does not start its line"):
        _rows(b'<posts><row Id="1" PostTypeId="1" /><row Id="2" PostTypeId="1" /></posts>')
    with pytest.raises(LayoutDeparture, match=r"Posts.xml:3: several elements on one line"):
        _rows(HEADER + b'  <row Id="1" PostTypeId="1" /><row Id="2" PostTypeId="1" />\r\n</posts>')


def test_bad_rows_are_reported_and_skipped_on_request():
    skipped = []
    bad = ROW_2023.replace(b"caf\xc3\xa9", b"caf\xe9")
    rows = _rows(HEADER + bad + b'  <row Id="3" Body="x\r\n' + ROW_2015 + b"</posts>", skipped.append)
    assert [line for line, _ in rows] == [5]
    assert [(e.location, e.reason) for e in skipped] == [("Posts.xml:3", "invalid_utf8"), ("Posts.xml:4", "malformed_row")]
    assert all(isinstance(e, RowError) for e in skipped)


def _archive(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with py7zr.SevenZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(data, name)
    return path


def test_layouts_are_found(tmp_path):
    posts = HEADER + ROW_2015 + b"</posts>"
    _write(tmp_path / "a.stackexchange.com" / "Posts.xml", posts)
    _archive(tmp_path / "b.stackexchange.com.7z", {"Posts.xml": posts, "Comments.xml": b"<comments>\n</comments>"})
    _archive(tmp_path / "stackoverflow.com-Posts.7z", {"Posts.xml": posts})
    _archive(tmp_path / "stackoverflow.com-Comments.7z", {"Comments.xml": b"<comments>\n</comments>"})
    _write(tmp_path / "Sites.xml", b"<sites>\n</sites>")
    (tmp_path / "empty-folder").mkdir()
    assert list(list_dump_sites(tmp_path)) == ["a.stackexchange.com", "b.stackexchange.com", "stackoverflow.com"]
    assert locate(tmp_path, "a.stackexchange.com", "Posts.xml").archived is False
    assert locate(tmp_path, "a.stackexchange.com", "Comments.xml") is None
    assert locate(tmp_path, "b.stackexchange.com", "Posts.xml").path.name == "b.stackexchange.com.7z"
    assert locate(tmp_path, "stackoverflow.com", "Posts.xml").path.name == "stackoverflow.com-Posts.7z"
    assert locate(tmp_path, "stackoverflow.com", "Comments.xml").path.name == "stackoverflow.com-Comments.7z"
    for site in ("a.stackexchange.com", "b.stackexchange.com", "stackoverflow.com"):
        with open_member(locate(tmp_path, site, "Posts.xml"), "py7zr") as stream:
            assert stream.read() == posts


def test_py7zr_stream_reads_a_real_archive_in_chunks(shared_data):
    archive = shared_data / "stackexchange" / "quantumcomputing.stackexchange.com.7z"
    file = DumpFile("quantumcomputing.stackexchange.com", "Posts.xml", archive, archived=True)
    with open_member(file, "py7zr") as stream:
        first = stream.readline()
        rows = sum(1 for line in stream if line.lstrip().startswith(b"<row "))
    assert first.startswith(b"\xef\xbb\xbf<?xml")
    assert rows == 1986
    with open_member(file, "py7zr") as stream:  # closing early stops the decompressing thread
        assert stream.read(100)


@pytest.mark.skipif(sevenzip_binary() is None, reason="no 7z binary on PATH")
def test_sevenzip_binary_stream_matches_py7zr(shared_data):
    archive = shared_data / "stackexchange" / "beer.stackexchange.com.7z"
    file = DumpFile("beer.stackexchange.com", "Posts.xml", archive, archived=True)
    with open_member(file, "7z") as a, open_member(file, "py7zr") as b:
        assert a.read() == b.read()


def test_missing_posts_in_archive_is_an_error(tmp_path):
    archive = _archive(tmp_path / "c.stackexchange.com.7z", {"Comments.xml": b"<comments>\n</comments>"})
    file = DumpFile("c.stackexchange.com", "Posts.xml", archive, archived=True)
    with pytest.raises(InputError, match=r"c.stackexchange.com.7z: has no Posts.xml"), open_member(file, "py7zr"):
        pass


def test_truncated_archive_is_an_error_naming_it(shared_data, tmp_path):
    data = (shared_data / "stackexchange" / "beer.stackexchange.com.7z").read_bytes()
    truncated = _write(tmp_path / "beer.stackexchange.com.7z", data[: len(data) // 2])
    with pytest.raises(InputError, match=r"beer.stackexchange.com.7z: not a readable 7z archive"):
        archive_members(truncated)


BACKENDS = ["py7zr", pytest.param("7z", marks=pytest.mark.skipif(sevenzip_binary() is None,
                                                                   reason="no 7z binary on PATH"))]


@pytest.mark.parametrize("backend", BACKENDS)
def test_corrupt_archive_data_fails_while_streaming(shared_data, tmp_path, backend):
    data = bytearray((shared_data / "stackexchange" / "beer.stackexchange.com.7z").read_bytes())
    for offset in range(1000, 200000, 997):  # damage the packed stream, keep the header intact
        data[offset] ^= 0xFF
    corrupt = _write(tmp_path / "beer.stackexchange.com.7z", bytes(data))
    file = DumpFile("beer.stackexchange.com", "Posts.xml", corrupt, archived=True)
    with pytest.raises(InputError, match=r"beer.stackexchange.com.7z:Posts.xml"), open_member(file, backend) as stream:
        list(iter_rows(stream, file.describe()))


def test_sites_xml(shared_data, tmp_path):
    rows = read_sites_xml(shared_data / "stackexchange" / "Sites.xml")
    assert len(rows) == 344
    assert any(row["Url"] == "https://beer.stackexchange.com" for row in rows)
    bad = _write(tmp_path / "Sites.xml", b'<sites>\n<row Id="1" Url="x" >\n</sites>')
    with pytest.raises(InputError, match=r"Sites.xml:3: malformed XML"):
        read_sites_xml(bad)


def test_missing_dump_folder(tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        list_dump_sites(tmp_path / "nope")
    shutil.rmtree(tmp_path)
