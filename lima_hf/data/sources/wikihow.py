"""wikiHow articles as LIMA examples: "How to ...?" prompts and Markdown answers in LIMA's shape.

Three published formats are read (a file, or every such file in a folder):

- the wikiHow corpus JSON (``.json`` list/mapping of articles or ``.jsonl``, one per line): ``title``,
  ``title_description``, ``category_hierarchy`` (top -> leaf), ``methods`` [{``name``, ``steps``
  [{``headline``, ``description``}]}], ``tips``, ``warnings``: every part of LIMA's shape is there;
- ``wikihowSep.csv`` (``overview,headline,text,sectionLabel,title``; one row per step, grouped by title
  then section): intro, sections and steps, but **no categories**;
- ``wikihowAll.csv`` (``headline,title,text``; one row per article or per method, the title may carry a
  method number suffix such as ``How to Paint a Room1``): **no categories, no intro, no section names**;
  the steps are the ``headline`` lines, paired with the paragraphs of ``text`` when their counts agree.

Sampling (the paper: a top-level category first, then an article within it): the source orders all
eligible articles by drawing a category uniformly among those with articles left, then an article
uniformly within it, so the first N records are a category-first sample of N. Articles without a
category (both CSV formats) form one group, so a CSV-only input is sampled uniformly over articles; the
log says so.

The answer: the intro paragraph, a ``## <method>`` section per method ("Method 1: " / "Part 2 " prefixes
removed) with numbered steps ``N. Headline. Description``; tips and warnings dropped (the released LIMA
answers have none); "This article"/"This wikiHow" openings become "The following answer"; links,
images, reference markers and wikiHow boilerplate removed.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import random
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lima_hf.data.executors import ExecutorConfig, per_file
from lima_hf.data.filters import links_to_text
from lima_hf.data.records import SourceResult, make_record
from lima_hf.data.rules import RuleChain, reject, wikihow_rules
from lima_hf.data.sources.bad_input import raise_or_skip
from lima_hf.data.sources.base import CardEntry, SourceConfig
from lima_hf.io import InputError

NAME = "wikihow"
LICENSE = "CC BY-NC-SA 3.0"
AUTHOR = "wikiHow contributors"
LABELS = {
    NAME: CardEntry(
        title="wikiHow",
        rules="A top-level category drawn first, then an article within it; prompt = the title as a question "
        '("How to ...?"); answer = the article as Markdown (intro, `## <method>` sections, numbered steps), '
        '"This article..." openings rewritten to "The following answer...", links, images, tips, '
        "warnings and boilerplate removed.",
        license=LICENSE,
        attribution="wikiHow contributors (https://www.wikihow.com); each row's `url` names the article.",
    )
}
logger = logging.getLogger(__name__)

ALL_COLUMNS = ("headline", "title", "text")
SEP_COLUMNS = ("overview", "headline", "text", "sectionLabel", "title")

_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_WIKI_LINK = re.compile(r"\[\[(?:[^\]|]*\|)?([^\]]*)\]\]")
_URL = re.compile(r"\s*\(?\bhttps?://\S+|\s*\bwww\.\S+")
_HTML_TAG = re.compile(r"<[^>]+>")
_REFERENCE = re.compile(r"\[\d+\]|\[(?:citation needed|source)\]", re.IGNORECASE)
_BOILERPLATE = re.compile(
    r"\b(?:\d+\s+)?(?:X\s+)?(?:Research|Expert|Trustworthy) [Ss]ource\b|\bAdvertisement\b|"
    r"\bThis article was co-authored by[^.]*\.|\bThis article has been viewed [\d,]+ times\.|"
    r"\bCo-authored by[^.\n]*|\bwikiHow (?:Staff|Editor)\b[^.\n]*|\bThanks! Helpful\b|"
    r"\bWe use cookies[^.]*\.",
)
_ARTICLE_OPENING = re.compile(r"\bThis (?:article|wikiHow|wikihow|guide)\b")
_METHOD_PREFIX = re.compile(r"^\s*(?:Method|Part)\s*\d+(?:\s*of\s*\d+)?\s*[:.\-]?\s*", re.IGNORECASE)
_TITLE_SUFFIX = re.compile(r"\d+$")


@dataclass
class Config(ExecutorConfig, SourceConfig):
    """Options of the wikiHow source. ``input``: wikihowAll.csv, wikihowSep.csv, corpus JSON or a folder."""

    count: int | None = field(
        default=None,
        metadata={"help": "Stop after this many records (the first N of the category-first order); all when unset."},
    )
    min_methods: int = field(
        default=1,
        metadata={
            "help": "Minimum number of methods (## sections); every released LIMA wikiHow answer has at least 2."
        },
    )
    min_steps: int = field(default=2, metadata={"help": "Minimum number of numbered steps in the whole article."})
    min_chars: int = field(
        default=0, metadata={"help": "Minimum answer length in characters (of the Markdown the model sees)."}
    )
    max_chars: int | None = field(
        default=None, metadata={"help": "Maximum answer length in characters; no limit when unset."}
    )
    lowercase_title: bool = field(
        default=True, metadata={"help": "Lowercase the title after 'How to', as the released LIMA prompts do."}
    )


@dataclass
class Article:
    """A wikiHow article in the parts LIMA's answer shape needs."""

    title: str
    intro: str = ""
    category: str | None = None
    methods: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)  # (name, [(headline, text)])
    where: str = ""


def clean_text(text: str) -> str:
    """``text`` without links (their text kept), images, URLs, HTML tags, reference markers and boilerplate."""
    text = _MARKDOWN_IMAGE.sub("", text or "")
    text = links_to_text(text)
    text = _WIKI_LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    text = _HTML_TAG.sub("", text)
    text = _REFERENCE.sub("", text)
    text = _BOILERPLATE.sub("", text)
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r" +([.,;:!?])", r"\1", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def prompt_from_title(title: str, lowercase: bool = True) -> str:
    """ "How to Paint a Room" -> "How to paint a room?" (LIMA's prompt form)."""
    title = _TITLE_SUFFIX.sub("", " ".join(title.split())).rstrip(" ?.")
    body = re.sub(r"^how to\s+", "", title, flags=re.IGNORECASE)
    if lowercase:
        body = body.lower()
    return f"How to {body}?"


def _join_step(headline: str, text: str) -> str:
    headline, text = clean_text(headline), clean_text(text)
    if headline and text.startswith(headline):
        text = text[len(headline) :].lstrip()
    if headline and not headline.endswith((".", "!", "?", ":")):
        headline += "."
    return " ".join(part for part in (headline, " ".join(text.split())) if part)


def article_markdown(article: Article) -> str:
    """The article as LIMA's Markdown: intro, ``## method`` sections, numbered steps.

    Spacing as in the released answers: a blank line after the intro, two between sections, a final newline.
    """
    sections = []
    for name, steps in article.methods:
        lines = [f"{i}. {_join_step(h, t)}" for i, (h, t) in enumerate(steps, start=1) if _join_step(h, t)]
        if not lines:
            continue
        name = _METHOD_PREFIX.sub("", clean_text(name)).strip()
        body = "\n".join(lines)
        sections.append(f"## {name}\n\n{body}" if name else body)
    intro = " ".join(_ARTICLE_OPENING.sub("The following answer", clean_text(article.intro)).split())
    text = "\n\n\n".join(sections)
    return (f"{intro}\n\n{text}" if intro else text) + "\n"


def _json_article(obj: Any, where: str) -> Article:
    if not isinstance(obj, dict) or not isinstance(obj.get("title"), str):
        raise InputError(f"{where}: a wikiHow corpus article needs a 'title' string")
    methods = obj.get("methods")
    if not isinstance(methods, list):
        raise InputError(f"{where}: 'methods' must be a list of {{name, steps}}")
    parsed = []
    for m_index, method in enumerate(methods, start=1):
        if not isinstance(method, dict) or not isinstance(method.get("steps"), list):
            raise InputError(f"{where}: method {m_index} needs a 'steps' list")
        steps = []
        for s_index, step in enumerate(method["steps"], start=1):
            if not isinstance(step, dict):
                raise InputError(f"{where}: method {m_index} step {s_index} must be a mapping of headline/description")
            steps.append((str(step.get("headline") or ""), str(step.get("description") or "")))
        parsed.append((str(method.get("name") or ""), steps))
    hierarchy = obj.get("category_hierarchy") or []
    return Article(
        title=obj["title"],
        intro=str(obj.get("title_description") or ""),
        category=str(hierarchy[0]) if hierarchy else None,
        methods=parsed,
        where=where,
    )


def _read_json(path: Path, lines: bool) -> Iterator[Article | InputError]:
    if lines:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{line_no}"
                if _BAD_UTF8.search(line):
                    yield InputError(f"{where}: invalid UTF-8")
                    continue
                try:
                    article = _json_article(json.loads(line), where)
                    article.where = f"{path.name}:{line_no}"
                    yield article
                except json.JSONDecodeError as err:
                    yield InputError(f"{where}: malformed JSON ({err.msg} at column {err.colno})")
                except InputError as err:
                    yield err
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: invalid UTF-8 at byte {err.start} ({err.reason})") from err
    except json.JSONDecodeError as err:
        raise InputError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from err
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else None
    if items is None:
        raise InputError(f"{path}: expected a list (or mapping) of wikiHow articles")
    for key, obj in items:
        try:
            article = _json_article(obj, f"{path}: article {key}")
            article.where = f"{path.name}: article {key}"
            yield article
        except InputError as err:
            yield err


_BAD_UTF8 = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, kept by errors="surrogateescape"


def _csv_rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict | InputError]]:
    csv.field_size_limit(sys.maxsize)
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}:1: missing column(s) {', '.join(missing)} (expected {','.join(columns)})")
        start = reader.line_num
        try:
            for row in reader:
                line, start = start + 1, reader.line_num  # a quoted field may span several lines
                fields = sum(v is not None for k, v in row.items() if k is not None) + len(row.get(None) or [])
                if fields != len(reader.fieldnames):
                    yield (
                        line,
                        InputError(f"{path}:{line}: row has {fields} fields, expected {len(reader.fieldnames)}"),
                    )
                    continue
                if any(isinstance(v, str) and _BAD_UTF8.search(v) for v in row.values()):
                    yield line, InputError(f"{path}:{line}: invalid UTF-8 in this row")
                    continue
                yield line, row
        except csv.Error as err:
            raise InputError(f"{path}:{reader.line_num}: malformed CSV ({err})") from err


def _read_sep(path: Path) -> Iterator[Article | InputError]:
    """Articles of a wikihowSep.csv (one row per step, an article's rows together). A malformed row makes
    its article incomplete, so the whole article is skipped (reported with the row's error), never written
    without that step; as such a row's own title cannot be trusted, the articles on both sides of it go."""
    articles: dict[str, Article] = {}
    broken: dict[str, list[str]] = {}
    last_title, pending = None, []
    for line, row in _csv_rows(path, SEP_COLUMNS):
        if isinstance(row, InputError):
            if last_title is not None:
                broken.setdefault(last_title, []).append(str(row))
            pending.append(str(row))
            continue
        title = (row["title"] or "").strip()
        if not title:
            yield InputError(f"{path}:{line}: empty title")
            continue
        if pending and (title != last_title or last_title is None):
            broken.setdefault(title, []).extend(pending)
        pending = []
        last_title = title
        article = articles.setdefault(
            title, Article(title=title, intro=row["overview"] or "", where=f"{path.name}:{line}")
        )
        section = (row["sectionLabel"] or "").strip()
        if not article.methods or article.methods[-1][0] != section:
            article.methods.append((section, []))
        article.methods[-1][1].append((row["headline"] or "", row["text"] or ""))
    if pending and last_title is None:
        yield from (InputError(error) for error in pending)
    for title, article in articles.items():
        if title in broken:
            where = article.where.split(":")[-1]
            yield InputError(f"{path}:{where}: article {title!r} skipped as incomplete ({'; '.join(broken[title])})")
        else:
            yield article


def _read_all(path: Path) -> Iterator[Article | InputError]:
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        header = next(csv.reader(handle), [])
    if {"overview", "sectionLabel"} & set(header):  # wikihowSep's own columns: not a wikihowAll.csv
        missing = ", ".join(c for c in SEP_COLUMNS if c not in header)
        raise InputError(
            f"{path}:1: a wikihowSep.csv header without column(s) {missing} (expected {','.join(SEP_COLUMNS)}); "
            "it is not a wikihowAll.csv either, and its answers would be mangled"
        )
    articles: dict[str, Article] = {}
    for line, row in _csv_rows(path, ALL_COLUMNS):
        if isinstance(row, InputError):
            yield row
            continue
        title = _TITLE_SUFFIX.sub("", (row["title"] or "").strip())
        if not title:
            yield InputError(f"{path}:{line}: empty title")
            continue
        headlines = [h.strip(" ,\n") for h in re.split(r",?\n", row["headline"] or "") if h.strip(" ,\n")]
        paragraphs = [p.strip(" ;,") for p in re.split(r"\n", row["text"] or "") if p.strip(" ;,")]
        steps = list(zip(headlines, paragraphs)) if len(paragraphs) == len(headlines) else [(h, "") for h in headlines]
        article = articles.setdefault(title, Article(title=title, where=f"{path.name}:{line}"))
        article.methods.append(("", steps))
    yield from articles.values()


def file_format(path: Path) -> str | None:
    """``json``, ``jsonl``, ``sep`` (wikihowSep.csv), ``all`` (wikihowAll.csv) or ``None``, from the content:
    a JSON list or mapping, one JSON article per line, or a CSV header with either dataset's columns.
    The file name does not matter."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            head = handle.read(1 << 16)
    except (OSError, UnicodeDecodeError):
        return None
    text = head.lstrip()
    if text.startswith("["):
        return "json"
    if text.startswith("{"):
        first = text.split("\n", 1)[0]
        try:
            obj = json.loads(first)
        except ValueError:
            return "json"  # a mapping spread over lines (or a single article)
        return "jsonl" if isinstance(obj, dict) and "title" in obj else "json"
    header = next(csv.reader(io.StringIO(head)), [])
    if set(SEP_COLUMNS) <= set(header):
        return "sep"
    if set(ALL_COLUMNS) <= set(header):
        return "all"
    return None


def read_articles(path: Path) -> Iterator[Article | InputError]:
    """Articles from one file of any supported format, told by its content (malformed ones come as
    :class:`InputError`)."""
    kind = file_format(path)
    if kind in ("json", "jsonl"):
        yield from _read_json(path, lines=kind == "jsonl")
    elif kind == "sep":
        logger.info("%s: wikihowSep.csv format (no categories: sampling is uniform over its articles)", path)
        yield from _read_sep(path)
    elif kind == "all":
        logger.info("%s: wikihowAll.csv format (no categories, intros or section names)", path)
        yield from _read_all(path)
    else:
        try:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                header = next(csv.reader(handle), [])
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"{path}: cannot read as a wikiHow file ({err})") from err
        raise InputError(
            f"{path}:1: unknown wikiHow CSV header {header[:8]} (expected {','.join(ALL_COLUMNS)} or "
            f"{','.join(SEP_COLUMNS)}, or JSON articles)"
        )


def _input_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir()
                       if p.is_file() and not p.name.startswith(".")
                       and (p.suffix in (".csv", ".json", ".jsonl") or file_format(p) is not None))
        if not files:
            raise InputError(f"{path}: no wikiHow files (.csv/.json/.jsonl, or any file whose content is one)")
        return files
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    return [path]


def category_first_order(articles: list, rng: random.Random) -> Iterator:
    """All articles (anything with a ``category``), each draw a uniform category (among those left) then a
    uniform article within it."""
    groups: dict[str, list] = {}
    for article in articles:
        groups.setdefault(article.category or "", []).append(article)
    names = sorted(groups)
    while names:
        name = rng.choice(names)
        group = groups[name]
        yield group.pop(rng.randrange(len(group)))
        if not group:
            names.remove(name)


def _slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", _TITLE_SUFFIX.sub("", title).strip()).strip("-")


@dataclass
class Candidate:
    """An article as stage 1 leaves it for the global step: its title, top-level category and place, and either
    its record or the first rule of :func:`~lima_hf.data.rules.wikihow_rules` it fails (``[reason, detail]``)."""

    title: str
    category: str | None
    where: str
    record: dict | None = None
    failure: list[str] | None = None


@dataclass
class ArticleShape:
    """What :func:`~lima_hf.data.rules.wikihow_rules` look at: the answer, its methods and its steps."""

    answer: str
    methods: int
    steps: int


def file_candidates(path: Path, config: Config) -> dict:
    """Stage 1 on one wikiHow file: ``events`` in file order, ``["article", candidate]`` for each article (a
    :class:`Candidate` as a dict: converted and screened) and ``["rejection", rejection]`` for each malformed
    one skipped (``on_error="raise"`` raises it)."""
    rules = RuleChain(wikihow_rules(config))
    events: list[list] = []
    for item in tqdm(read_articles(path), desc=f"wikihow {path.name}", unit=" articles", leave=False,
                     disable=not config.progress):
        if isinstance(item, InputError):
            rejections: list[dict] = []
            raise_or_skip(item, on_error=config.on_error, rejections=rejections, source=NAME,
                          id=str(item).split(": ")[0])
            events.extend(["rejection", rejection] for rejection in rejections)
            continue
        events.append(["article", dataclasses.asdict(_candidate(item, rules, config))])
    return {"events": events}


def _candidate(article: Article, rules: RuleChain, config: Config) -> Candidate:
    slug = _slug(article.title)
    methods = [m for m in article.methods if any(_join_step(h, t) for h, t in m[1])]
    steps = sum(len(m[1]) for m in methods)
    response = article_markdown(article)
    candidate = Candidate(article.title, article.category, article.where)
    failure = rules.first_failure(ArticleShape(response, len(methods), steps))
    if failure:
        candidate.failure = list(failure)
        return candidate
    candidate.record = make_record(
        id=f"wikihow/{slug}",
        source=NAME,
        messages=[
            {"role": "user", "content": prompt_from_title(article.title, config.lowercase_title)},
            {"role": "assistant", "content": response},
        ],
        category=article.category,
        url=f"https://www.wikihow.com/{slug.removeprefix('How-to-')}",
        author=AUTHOR,
        license=LICENSE,
        source_id=_TITLE_SUFFIX.sub("", article.title),
        metadata={"methods": len(methods), "steps": steps, "from": article.where},
    )
    return candidate


def _counts(result: dict) -> dict[str, int]:
    """A task's numbers for datatrove's stats: articles kept, rejected per reason, malformed."""
    return dict(Counter("malformed" if kind == "rejection" else (item["failure"] or ["kept"])[0]
                        for kind, item in result["events"]))


def curate(config: Config) -> SourceResult:
    """wikiHow records in category-first order (the first N are the sample of N).

    Stage 1 converts and screens each file's articles (:func:`file_candidates`, on the executor of
    ``--executor``); the global step drops repeated titles (the first wins), draws the category-first order
    and takes records from it until ``count``, writing the rejection of each article it passes over.
    """
    if not config.input:
        raise InputError("wikihow: --input (wikihowAll.csv, wikihowSep.csv, corpus JSON or a folder) is required")
    result = SourceResult()
    articles: dict[str, Candidate] = {}
    files = _input_files(Path(config.input))
    for screened in per_file("wikiHow file", file_candidates, files, config, key={"version": 1}, counts=_counts):
        for kind, item in screened["events"]:
            if kind == "rejection":
                result.rejections.append(item)
                continue
            candidate = Candidate(**item)
            key = prompt_from_title(candidate.title, lowercase=True)
            if key in articles:
                reject(result.rejections, source=NAME, id=_slug(candidate.title), reason="duplicate_title",
                       detail=f"{candidate.where} repeats {articles[key].where}")
                continue
            articles[key] = candidate
    if articles and all(a.category is None for a in articles.values()):
        logger.warning("wikihow: the input has no categories (CSV formats); sampling uniformly over articles")
    rng = random.Random(config.seed)
    for candidate in category_first_order(sorted(articles.values(), key=lambda a: a.title), rng):
        if config.count is not None and len(result.records) >= config.count:
            break
        if candidate.failure:
            reject(result.rejections, source=NAME, id=f"wikihow/{_slug(candidate.title)}", reason=candidate.failure[0],
                   detail=candidate.failure[1])
        else:
            result.records.append(candidate.record)
    return result
