"""Reading Pushshift dumps: zstandard-compressed NDJSON files of submissions or comments, per subreddit
(``<Subreddit>_submissions.zst``, ``<Subreddit>_comments.zst``) or monthly for all of Reddit (``RS_YYYY-MM.zst``,
``RC_YYYY-MM.zst``), streamed with a long window (``max_window_size=2**31``)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lima_hf.io import InputError

MAX_WINDOW_SIZE = 2**31
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_SNIFF_BYTES = 1 << 20


def file_kind(path: Path) -> str | None:
    """``submissions`` or ``comments`` for a Pushshift file, from its first line when that tells (a ``title``
    or ``selftext``: submissions; a ``body`` with a ``link_id``/``parent_id``: comments), else from its name
    (``RS_*`` / ``*_submissions.zst``, ``RC_*`` / ``*_comments.zst``); ``None`` when neither tells."""
    return content_kind(path) or name_kind(path)


def content_kind(path: Path) -> str | None:
    """The kind a zstandard NDJSON file's first line shows, or ``None`` (not zstandard, empty, unclear)."""
    import zstandard

    try:
        with open(path, "rb") as handle:
            if handle.read(4) != _ZSTD_MAGIC:
                return None
            handle.seek(0)
            reader = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW_SIZE).stream_reader(handle)
            head = reader.read(_SNIFF_BYTES)
    except (OSError, zstandard.ZstdError):
        return None
    line = head.split(b"\n", 1)[0]
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    if "title" in obj or "selftext" in obj:
        return "submissions"
    if "body" in obj and ("link_id" in obj or "parent_id" in obj):
        return "comments"
    return None


def name_kind(path: Path) -> str | None:
    """``submissions``, ``comments`` or ``None`` for a Pushshift file name."""
    name = path.name
    if not name.endswith(".zst"):
        return None
    if name.startswith("RS_") or name.endswith("_submissions.zst"):
        return "submissions"
    if name.startswith("RC_") or name.endswith("_comments.zst"):
        return "comments"
    return None


def _decompressed_chunks(path: Path, handle) -> Iterator[bytes]:
    """Decompressed bytes of every zstandard frame in ``handle``; a frame cut short raises :class:`InputError`."""
    import zstandard

    dctx = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW_SIZE)
    frame, in_frame = dctx.decompressobj(), False
    try:
        while chunk := handle.read(1 << 20):
            while chunk:
                in_frame = True
                out = frame.decompress(chunk)
                if out:
                    yield out
                if frame.eof:
                    chunk = frame.unused_data
                    frame, in_frame = dctx.decompressobj(), False
                else:
                    chunk = b""
    except zstandard.ZstdError as err:
        raise InputError(f"{path}: corrupt zstandard data ({err})") from err
    if in_frame:
        raise InputError(f"{path}: truncated zstandard file (the data ends inside a frame)")


def iter_zst_lines(
    path: str | Path, *, on_error: str = "raise", skipped: list[tuple[int, InputError]] | None = None
) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` from a zstandard NDJSON file, streamed with a 2**31 window.

    A malformed line raises :class:`InputError` naming file and line, or (``on_error="skip"``) is appended
    to ``skipped`` as ``(line, error)`` (as :func:`lima_hf.io.read_jsonl` does); a truncated or corrupt file always raises, naming the last complete line.
    """
    path = Path(path)
    try:
        handle = open(path, "rb")
    except FileNotFoundError as err:
        raise InputError(f"{path}: file not found") from err
    if os.fstat(handle.fileno()).st_size == 0:
        handle.close()
        raise InputError(f"{path}: empty file (0 bytes): an interrupted download? A Pushshift .zst holds at least "
                         "one zstandard frame")
    line_no = 0

    def parse(raw: bytes):
        try:
            obj = json.loads(raw.decode("utf-8"))
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
            return obj
        except (ValueError, UnicodeDecodeError) as err:
            error = InputError(f"{path}:{line_no}: malformed line ({err})")
            if on_error == "raise" or skipped is None:
                raise error from err
            skipped.append((line_no, error))
            return None

    with handle:
        pending = b""
        try:
            for block in _decompressed_chunks(path, handle):
                lines = (pending + block).split(b"\n")
                pending = lines.pop()
                for raw in lines:
                    line_no += 1
                    if raw.strip() and (obj := parse(raw)) is not None:
                        yield line_no, obj
        except InputError as err:
            if "truncated" in str(err) or "corrupt" in str(err):
                raise InputError(f"{err} after line {line_no}") from err
            raise
        if pending.strip():
            line_no += 1
            if (obj := parse(pending)) is not None:
                yield line_no, obj


def _utc(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def input_files(path: Path) -> list[tuple[str, Path]]:
    """``(kind, path)`` of every Pushshift file at ``path`` (a file or a folder of them)."""
    if path.is_dir():
        files = [(file_kind(p), p) for p in sorted(path.iterdir()) if p.is_file()]
        files = [(k, p) for k, p in files if k]
        if not files:
            raise InputError(f"{path}: no Pushshift files (zstandard NDJSON of submissions or comments, e.g. "
                             "*_submissions.zst, *_comments.zst, RS_*.zst, RC_*.zst)")
        return files
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    kind = file_kind(path)
    if kind is None:
        raise InputError(
            f"{path}: cannot tell submissions from comments, neither by the first line (a 'title' or a 'body' "
            "with 'link_id') nor by the name (*_submissions.zst, *_comments.zst, RS_*.zst or RC_*.zst)"
        )
    return [(kind, path)]


def tie_break(post_id: str) -> tuple:
    """Tie-break key: among equal scores the lower base-36 id (the earlier post) ranks first."""
    try:
        return (-int(post_id, 36),)
    except ValueError:
        return (0,)


def slim(obj: dict) -> dict:
    """The fields of a submission or comment that the records and the ranking keep."""
    keys = ("id", "title", "author", "score", "num_comments", "permalink", "subreddit", "created_utc")
    slim = {k: obj.get(k) for k in keys if k in obj}
    slim["score"] = int(obj.get("score") or 0)
    slim["created_utc"] = _utc(obj.get("created_utc"))
    return slim
