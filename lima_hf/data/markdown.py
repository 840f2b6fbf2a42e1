"""HTML to Markdown in the style of LIMA's responses.

LIMA's Stack Exchange responses (Zhou et al., 2023) are plain text with a little Markdown: "links, images,
and other HTML tags" are removed, "retaining only code blocks and lists". Here that means:

- paragraphs are separated by a blank line; ``<br>`` is a line break;
- ``<pre>`` (with or without ``<code>``) becomes a fenced block, inline ``<code>`` a backtick span;
- ``<ul>``/``<ol>`` become ``* item`` / ``1. item`` lists (nested lists indented);
- headings become ``#`` lines and blockquotes ``>`` lines (both kept by LIMA's responses too);
- links become their text, and a link whose text is a URL its host name (``arxiv.org``); images,
  ``<script>``, ``<style>`` and comments disappear with their content;
- tables become GFM tables (a header row, a ``| --- |`` separator, ``|`` in cells escaped);
- a short ``<sup>`` becomes ``^1`` / ``^(a b)`` so that footnote markers and exponents stay apart from the
  word ("algorithms^1", "x^2"), except ordinal suffixes ("19th"); a superscript that is only a citation
  link ("Feynman<sup><a>study</a></sup>") goes with its link; every other tag (``<strong>``, ``<em>``,
  ``<span>``, ``<sub>``, ...) is dropped and its text kept;
- entities are unescaped (the HTML parser decodes them); a line of text that Markdown would read as a bullet,
  heading, blockquote or rule ("* note", "# 1", "> x", "---") gets a backslash before its marker
  ("1. text" is left alone: as a list item it reads the same).

Parsing is done with ``lxml.html``, which tolerates the broken HTML found in old posts.
"""

from __future__ import annotations

import re

from lxml import etree
from lxml import html as lxml_html

# Elements removed together with everything inside them.
DROPPED_TAGS = frozenset({"script", "style", "img", "iframe", "object", "embed", "svg", "video", "audio", "noscript",
                          "head", "title", "meta", "link", "input", "button", "select", "textarea", "template"})
# Elements that start a new block (flush the current paragraph).
BLOCK_TAGS = frozenset({"p", "div", "pre", "ul", "ol", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
                        "table", "thead", "tbody", "tfoot", "tr", "dl", "dt", "dd", "section", "article", "aside",
                        "header", "footer", "figure", "figcaption", "details", "summary", "center", "form",
                        "fieldset", "address", "main", "nav", "body", "html"})
HEADING_LEVELS = {f"h{level}": level for level in range(1, 7)}

_WHITESPACE = re.compile(r"[ \t\r\n\f]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES = re.compile(r" {2,}")
# A text line that Markdown would read as a block marker: list item, heading, blockquote, rule, table row.
# (Not "1." / "1)": a numbered line read as a list item renders the same text.)
_BLOCK_MARKER = re.compile(r"^(?:[*+-](?=\s|$)|#{1,6}(?=\s|$)|>|(?:[-*_=] *){3,}$)")
_SHORT_SUPERSCRIPT = 12  # longer <sup> text is small print (a footnote's own text), kept as plain text
_URL_TEXT = re.compile(r"^(?:https?|ftp)://([^/\s:?#]+)[^\s]*$|^(www\.[^/\s:?#]+)[^\s]*$", re.IGNORECASE)
_FOOTNOTE_MARKER = re.compile(r"^\[?(?:\d+|[a-z]|[*†‡§])\]?$")
_ORDINAL_SUFFIX = re.compile(r"^(?:st|nd|rd|th|e|er|re|ème|o|a|º|ª)$", re.IGNORECASE)


def html_to_markdown(html: str) -> str:
    """Convert a post body (HTML) to LIMA-style Markdown (see the module docstring)."""
    if not html or not html.strip():
        return ""
    try:
        root = lxml_html.fragment_fromstring(html, create_parent="div")
    except etree.ParserError:
        return ""
    text = "\n\n".join(block for block in _container_blocks(root) if block.strip())
    return _BLANK_LINES.sub("\n\n", text).strip()


def _tag(element) -> str | None:
    """The lower-case tag name, or ``None`` for comments and processing instructions."""
    return element.tag.lower() if isinstance(element.tag, str) else None


def _container_blocks(element) -> list[str]:
    """The Markdown blocks of an element whose children may mix inline content and blocks."""
    blocks: list[str] = []
    inline: list[str] = []

    def flush():
        paragraph = _escape_markers(_clean_paragraph("".join(inline)))
        inline.clear()
        if paragraph:
            blocks.append(paragraph)

    if element.text:
        inline.append(_collapse(element.text))
    for child in element:
        tag = _tag(child)
        if tag is None or tag in DROPPED_TAGS:
            pass
        elif tag in BLOCK_TAGS:
            flush()
            blocks.extend(_block(child, tag))
        else:
            inline.append(_inline(child, tag))
        if child.tail:
            inline.append(_collapse(child.tail))
    flush()
    return blocks


def _block(element, tag: str) -> list[str]:
    """The Markdown blocks of one block-level element."""
    if tag == "pre":
        return [_fence(element.text_content())]
    if tag in ("ul", "ol"):
        if not any(_tag(child) == "li" for child in element):  # text written straight into <ol> (old posts)
            return _container_blocks(element)
        return [_list(element, ordered=tag == "ol")]
    if tag in HEADING_LEVELS:
        text = _clean_paragraph(_inline_children(element)).replace("\n", " ")
        return ["#" * HEADING_LEVELS[tag] + " " + text] if text else []
    if tag == "blockquote":
        inner = "\n\n".join(_container_blocks(element))
        return ["\n".join("> " + line if line else ">" for line in inner.split("\n"))] if inner else []
    if tag == "hr":
        return []
    if tag == "table":
        return _table(element)
    return _container_blocks(element)


def _table(element) -> list[str]:
    """A GFM table: the first row is the header (as in HTML tables without ``<th>``, for lack of a better one)."""
    rows = []
    for row in element.iter("tr"):
        cells = [_clean_paragraph(_inline_children(cell)).replace("\n", " ").replace("|", "\\|") for cell in row
                 if _tag(cell) in ("td", "th")]
        if any(cells):
            rows.append(cells)
    if not rows:
        return []
    width = max(len(cells) for cells in rows)
    lines = ["| " + " | ".join(cells + [""] * (width - len(cells))) + " |" for cells in rows]
    lines.insert(1, "|" + " --- |" * width)
    return ["\n".join(line.replace("  |", " |") for line in lines)]


def _list(element, ordered: bool) -> str:
    """A tight Markdown list; an item's continuation lines are indented under its text."""
    number = _int_attribute(element, "start", 1)
    items = []
    for child in element:
        if _tag(child) != "li":
            if _tag(child) in ("ul", "ol"):  # a nested list written directly inside the parent list
                items.append("  " + _list(child, _tag(child) == "ol").replace("\n", "\n  "))
            continue
        marker = f"{number}. " if ordered else "* "
        number += 1
        body = "\n".join(_container_blocks(child))
        indent = " " * len(marker)
        items.append(marker + body.replace("\n", "\n" + indent))
    return "\n".join(item.rstrip() for item in items)


def _inline(element, tag: str) -> str:
    """The inline text of one inline element."""
    if tag == "br":
        return "\n"
    if tag == "code":
        return _code_span(element.text_content())
    if tag == "a":
        return _link_text(element)
    if tag == "sup":
        return _superscript(element)
    return _inline_children(element)


def _link_text(element) -> str:
    """A link's text; when that text is a URL, its host name (``https://arxiv.org/abs/1`` -> ``arxiv.org``)."""
    text = _inline_children(element)
    match = _URL_TEXT.match(text.strip())
    if not match:
        return text
    host = match.group(1) or match.group(2)
    return host[4:] if host.lower().startswith("www.") else host


def _superscript(element) -> str:
    """``^1`` or ``^(two words)``; an ordinal suffix after a number ("19<sup>th</sup>") stays glued."""
    text = _clean_paragraph(_inline_children(element)).replace("\n", " ")
    if not text or len(text) > _SHORT_SUPERSCRIPT:
        return text
    links = [child for child in element if _tag(child) == "a"]
    if links and not _FOOTNOTE_MARKER.match(text) and text == _clean_paragraph(_link_text(links[0])):
        return ""  # a citation link set as a superscript ("Feynman<sup><a>study</a></sup>"): its target is gone
    previous = element.getprevious()
    before = (previous.tail if previous is not None else element.getparent().text) or ""
    if _ORDINAL_SUFFIX.match(text) and before[-1:].isdigit():
        return text
    if text.startswith("[") and text.endswith("]"):
        return text
    return "^" + text if re.fullmatch(r"[\w.+-]+", text) else f"^({text})"


def _inline_children(element) -> str:
    """Inline text of an element's content; nested blocks (rare inside inline tags) become line breaks."""
    parts = [_collapse(element.text)] if element.text else []
    for child in element:
        tag = _tag(child)
        if tag is not None and tag not in DROPPED_TAGS:
            if tag in BLOCK_TAGS:
                parts.append("\n" + "\n\n".join(_block(child, tag)) + "\n")
            else:
                parts.append(_inline(child, tag))
        if child.tail:
            parts.append(_collapse(child.tail))
    return "".join(parts)


def _escape_markers(paragraph: str) -> str:
    """A backslash before each line start that Markdown would read as a block marker ("* note" -> "\\* note")."""
    return "\n".join(_escape_line(line) for line in paragraph.split("\n"))


def _escape_line(line: str) -> str:
    return "\\" + line if _BLOCK_MARKER.match(line) else line


def _collapse(text: str) -> str:
    return _WHITESPACE.sub(" ", text)


def _clean_paragraph(text: str) -> str:
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n")).strip()


def _fence(code: str) -> str:
    code = code.rstrip("\n").rstrip()
    code = code.lstrip("\n")
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{code}\n{fence}"


def _code_span(code: str) -> str:
    code = code.replace("\n", " ")
    if not code.strip():
        return code
    if "`" not in code:
        return f"`{code}`"
    longest = max(len(run) for run in re.findall(r"`+", code))
    ticks = "`" * (longest + 1)
    return f"{ticks} {code} {ticks}"


def _int_attribute(element, name: str, default: int) -> int:
    try:
        return int(element.get(name, default))
    except (TypeError, ValueError):
        return default
