"""The one policy every source applies to malformed input.

The unit of skipping is the record: a line of a JSONL file, a row of a CSV or XML dump, an article, a
task. With ``on_error="raise"`` (the default) the first malformed record stops the run with an
:class:`~lima_hf.io.InputError` naming the file and line; with ``on_error="skip"`` it is logged as a
``malformed`` rejection (id ``file:line``, the error as detail) and everything else is kept. Decoding
errors (invalid UTF-8) are malformed input like any other.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lima_hf.data.rules import reject
from lima_hf.io import InputError, read_jsonl

logger = logging.getLogger(__name__)


def raise_or_skip(error: InputError, *, on_error: str, rejections: list[dict], source: str, id: str) -> None:
    """Raise ``error`` when ``on_error == "raise"``; otherwise log it as a ``malformed`` rejection."""
    if on_error == "raise":
        raise error
    logger.debug("%s: skipping %s", source, error)
    reject(rejections, source=source, id=id, reason="malformed", detail=str(error))


def jsonl_objects(
    path: str | os.PathLike, *, on_error: str, rejections: list[dict], source: str
) -> Iterator[tuple[int, Any]]:
    """``(line, object)`` of each well-formed line of a JSONL file; a malformed line (bad JSON, bad UTF-8)
    is raised or, when skipping, logged as a rejection with id ``file:line`` while the other lines are read."""
    path = Path(path)
    skipped: list[tuple[int, InputError]] = []

    def flush() -> None:
        for line, error in skipped:
            raise_or_skip(error, on_error=on_error, rejections=rejections, source=source, id=f"{path.name}:{line}")
        skipped.clear()

    for line, obj in read_jsonl(path, on_error=on_error, skipped=skipped):
        flush()
        yield line, obj
    flush()
