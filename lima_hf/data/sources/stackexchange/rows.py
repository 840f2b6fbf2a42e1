"""Reading the ``<row .../>`` lines of a dump XML file with bounded memory.

Every dump file (Posts.xml, Comments.xml, of every era since 2009) is ``<?xml ...?>``, the root tag, then
one ``<row .../>`` per line, all values as XML attributes. :func:`iter_rows` walks the lines of a byte
stream and yields the raw bytes of each row; a caller reads the few attributes its rules need with
:func:`attribute` (a regular expression on the raw bytes: a raw ``"`` cannot occur inside a double-quoted
attribute value) and fully parses, with :func:`parse_row` (lxml), only the rows it keeps. Most rows
(low-scoring answers, questions below a site's top-K, comments on other posts) are thus never parsed,
which is what makes the step faster than a bare ``lxml.etree.iterparse`` pass over the same file.

Every line is still checked: it must be valid UTF-8 and, if it is a row, a complete ``<row .../>``.
A bad line raises :class:`~lima_hf.io.InputError` naming the file and line, or, with ``on_error="skip"``,
is reported to the caller's ``on_skip`` and passed over.

The raw reads are exact only for the dumps' own layout: one row per line, ``<row `` then attributes
separated by one space, double-quoted, with plain digits in the numeric ones. Valid XML written otherwise
(two rows on a line, ``<row\tId=``, ``Score='50'``, ``Score = "50"``, ``Score="&#53;0"``) raises
:class:`LayoutDeparture` where it is first seen, and the caller reads the file again with a full XML parse
(:func:`iter_parsed_rows`) instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

from lxml import etree

from lima_hf.io import InputError

_ROW_START = b"<row "
_ROW_TAG = re.compile(rb"<row[\s/>]")
_BOM = b"\xef\xbb\xbf"
_ATTRIBUTE_PATTERNS: dict[str, re.Pattern] = {}
_ANY_ATTRIBUTE_PATTERNS: dict[str, re.Pattern] = {}


class LayoutDeparture(Exception):
    """The file departs from the dump layout the raw reads rely on; read it with a full parse instead."""

    def __init__(self, location: str, detail: str):
        super().__init__(f"{location}: {detail}")
        self.location = location
        self.detail = detail


class RowError(InputError):
    """A malformed row; ``location`` is ``file:line`` and ``reason`` a short code."""

    def __init__(self, location: str, reason: str, detail: str):
        super().__init__(f"{location}: {detail}")
        self.location = location
        self.reason = reason
        self.detail = detail

    def __reduce__(self):  # crosses process boundaries when sites run in parallel
        return type(self), (self.location, self.reason, self.detail)


def attribute(row: bytes, name: str) -> bytes | None:
    """The raw (still XML-escaped) value of attribute ``name`` in a row, or ``None``."""
    pattern = _ATTRIBUTE_PATTERNS.get(name)
    if pattern is None:
        pattern = _ATTRIBUTE_PATTERNS[name] = re.compile(rb' ' + name.encode() + rb'="([^"]*)"')
    match = pattern.search(row)
    return match.group(1) if match else None


def check_layout(row: bytes, name: str, location: str) -> None:
    """Raise :class:`LayoutDeparture` if attribute ``name`` is in ``row`` but not as `` name="..."``
    (other quoting, spacing or separators), which is why the raw read of ``name`` failed."""
    pattern = _ANY_ATTRIBUTE_PATTERNS.get(name)
    if pattern is None:
        pattern = _ANY_ATTRIBUTE_PATTERNS[name] = re.compile(rb"\s" + name.encode() + rb"\s*=")
    if pattern.search(row):
        raise LayoutDeparture(location, f"attribute {name} is not written as {name}=\"digits\" "
                                        "(other quoting, spacing or a character reference)")


def parse_row(row: bytes, location: str) -> dict[str, str]:
    """All attributes of a row, unescaped (lxml); a malformed row raises :class:`RowError`."""
    try:
        return dict(etree.fromstring(row).attrib)
    except etree.XMLSyntaxError as err:
        raise RowError(location, "malformed_row", f"malformed XML row ({err.msg})") from err


def iter_rows(
    stream: BinaryIO,
    name: str,
    on_skip: Callable[[RowError], None] | None = None,
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, row_bytes)`` for each ``<row .../>`` line of ``stream``.

    ``name`` names the file in errors. Without ``on_skip`` a bad line raises :class:`RowError`; with it,
    the error is handed to ``on_skip`` and the line is skipped.
    """
    number = 0
    closed = False
    for number, line in enumerate(stream, start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as err:
            report_or_raise(RowError(f"{name}:{number}", "invalid_utf8",
                           f"invalid UTF-8 at byte {err.start} of the line ({err.reason})"), on_skip)
            continue
        stripped = line.strip()
        if stripped.startswith(_ROW_START):
            if not stripped.endswith(b"/>"):
                report_or_raise(RowError(f"{name}:{number}", "malformed_row",
                               "malformed XML row (not a complete <row .../> element on one line)"), on_skip)
                continue
            if stripped.count(b"<") != 1:  # a raw "<" is never inside an attribute value: another element
                raise LayoutDeparture(f"{name}:{number}", "several elements on one line")
            yield number, stripped
        elif _ROW_TAG.search(stripped):
            raise LayoutDeparture(f"{name}:{number}", "a <row> that does not start its line or is not "
                                                      "followed by one space")
        elif stripped.startswith(b"</"):
            closed = True
        elif stripped and not stripped.lstrip(_BOM).startswith(b"<"):
            report_or_raise(RowError(f"{name}:{number}", "malformed_row", "text outside a <row .../> element"), on_skip)
    if not closed:
        report_or_raise(RowError(f"{name}:{number}", "truncated", "file ends before its closing tag (truncated?)"), on_skip)


def report_or_raise(error: RowError, on_skip: Callable[[RowError], None] | None) -> None:
    """Hand ``error`` to ``on_skip``, or raise it when there is none."""
    if on_skip is None:
        raise error
    on_skip(error)


def iter_parsed_rows(stream: BinaryIO, name: str) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, attributes)`` for each ``<row>`` element of any valid XML ``stream``.

    The full-parse path (lxml ``iterparse``, elements cleared as it goes). A malformed file raises
    :class:`RowError` naming the file and line: a full parse cannot go on after an XML error.
    """
    try:
        for _, element in etree.iterparse(stream, events=("end",), tag="row", resolve_entities=False,
                                          huge_tree=True):
            yield element.sourceline, dict(element.attrib)
            element.clear()
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as err:
        line = err.lineno or 0
        raise RowError(f"{name}:{line}", "malformed_row", f"malformed XML ({err.msg})") from err
