"""Pushshift Reddit dumps: r/WritingPrompts (train) and r/AskReddit (test prompts).

Input: a Pushshift ``.zst`` file or a folder of them: per-subreddit files (``<Subreddit>_submissions.zst``,
``<Subreddit>_comments.zst``) or monthly dumps of all of Reddit (``RS_YYYY-MM.zst`` submissions,
``RC_YYYY-MM.zst`` comments). Each is zstandard-compressed NDJSON, written with a long window, so it is
decompressed as a stream with ``max_window_size=2**31``; nothing is held but the candidates.

- **WritingPrompts**: submissions tagged ``[WP]`` (tag stripped), not removed, deleted, stickied or NSFW,
  ranked by score (most upvoted first); each paired with its top-scored top-level comment (``parent_id``
  ``t3_<submission id>``; not deleted, removed, stickied or by a bot, length within the configured window).
- **AskReddit**: self-contained, title-only questions (empty body, a question mark, no reference to a
  picture, "this", the body, ...), ranked by score; prompt only (test set).

The paper chose both sets by hand. This source ranks the candidates (``records``, best first, and a compact
``extras["ranked_candidates"]`` list for curators); the final choice is a curation manifest's ``select:``
list (see :mod:`lima_hf.data.manifest`), or the top of the ranking when there is none.
"""

from __future__ import annotations

import heapq
import html
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lima_hf.data.filters import (
    POST_POINTER_PATTERN,
    is_self_contained_title,
    links_to_text,
)
from lima_hf.data.records import SourceResult, make_record, make_rejection
from lima_hf.data.sources.bad_input import raise_or_skip
from lima_hf.data.sources.base import CardEntry, SourceConfig
from lima_hf.io import InputError

NAME = "reddit"
LICENSE = "Reddit user content via the Pushshift archive (no license granted; research use)"
_CREDIT = "The Reddit users named in each row's `author`; data from the Pushshift archive."
LABELS = {
    "writingprompts": CardEntry(
        "r/WritingPrompts (Pushshift)",
        "Most upvoted `[WP]` submissions (tag stripped) paired with their top-scored top-level comment; the final "
        "choice from the curation manifest.",
        LICENSE,
        _CREDIT,
    ),
    "askreddit": CardEntry(
        "r/AskReddit (Pushshift)",
        "Self-contained, title-only questions, ranked by score; the final choice from the curation manifest. "
        "Prompts only (test set).",
        LICENSE,
        _CREDIT,
    ),
}
MAX_WINDOW_SIZE = 2**31
WP_TAG = re.compile(r"^\s*[\[(]\s*([A-Za-z]{2})\s*[\])]\s*:?\s*")
REMOVED = {"[removed]", "[deleted]", ""}
BOTS = {"automoderator", "writingpromptsrobot"}
_URL = re.compile(r"\s*\(?\bhttps?://\S+")
_EDIT_LINE = re.compile(r"^\s*[*_]*\s*(?:edit|update|e)\s*\d*\s*[*_]*\s*[:\-].*$", re.IGNORECASE | re.MULTILINE)
_SERIOUS_TAG = re.compile(
    r"^\s*[\[(]\s*(?:serious|nsfw|meta)\s*[\])]\s*|\s*[\[(]\s*(?:serious|nsfw|meta)\s*[\])]\s*$", re.IGNORECASE
)


@dataclass
class Config(SourceConfig):
    """Options of the Reddit source. ``input``: a Pushshift ``.zst`` file or a folder of them."""

    writingprompts_subreddit: str = field(
        default="WritingPrompts", metadata={"help": "Subreddit of the story prompts (empty: skip)."}
    )
    askreddit_subreddit: str = field(
        default="AskReddit", metadata={"help": "Subreddit of the test questions (empty: skip)."}
    )
    writingprompts_tags: list[str] = field(
        default_factory=lambda: ["WP"],
        metadata={"help": "Title tags accepted as prompts ([WP]; not [EU], [IP], [OT], ...)."},
    )
    max_candidates: int = field(
        default=1000,
        metadata={"help": "Candidates kept per subreddit (highest scores); manifest choices must be among them."},
    )
    min_submission_score: int = field(default=1, metadata={"help": "Minimum score of a submission."})
    min_comment_score: int = field(default=1, metadata={"help": "Minimum score of the paired top-level comment."})
    min_response_chars: int = field(
        default=500, metadata={"help": "Minimum length of a story (characters, after cleaning)."}
    )
    max_response_chars: int = field(
        default=8000, metadata={"help": "Maximum length of a story (characters, after cleaning)."}
    )
    min_question_words: int = field(default=4, metadata={"help": "Minimum number of words of an AskReddit question."})
    max_question_chars: int = field(
        default=300, metadata={"help": "Maximum length of an AskReddit question (Reddit allows 300)."}
    )


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
    path: str | Path, *, on_error: str = "raise", errors: list | None = None
) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` from a zstandard NDJSON file, streamed with a 2**31 window.

    A malformed line raises :class:`InputError` naming file and line, or (``on_error="skip"``) is appended
    to ``errors``; a truncated or corrupt file always raises, naming the last complete line.
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
            if on_error == "raise" or errors is None:
                raise error from err
            errors.append(error)
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


def clean_comment(text: str) -> str:
    """A Reddit comment as plain Markdown: entities unescaped, links to their text, URLs and edit notes removed."""
    text = html.unescape(text or "")
    text = links_to_text(text)
    text = _URL.sub("", text)
    text = _EDIT_LINE.sub("", text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def writingprompt(title: str, tags: list[str]) -> str | None:
    """The prompt of a ``[WP]`` title (tag stripped), or ``None`` when the title has no accepted tag."""
    match = WP_TAG.match(title or "")
    if not match or match.group(1).upper() not in {t.upper() for t in tags}:
        return None
    return " ".join(html.unescape(title[match.end() :]).split())


def askreddit_question(post: dict, config: Config) -> tuple[str | None, str]:
    """``(question, "")`` for a self-contained title-only question, else ``(None, rejection reason)``."""
    if (post.get("selftext") or "").strip():
        return None, "has_body" if post.get("selftext") not in ("[removed]", "[deleted]") else "body_removed"
    title = " ".join(_SERIOUS_TAG.sub("", html.unescape(post.get("title") or "")).split())
    if not title.endswith("?"):
        return None, "not_a_question"
    if len(title.split()) < config.min_question_words or len(title) > config.max_question_chars:
        return None, "length"
    if not is_self_contained_title(title, min_words=0, pointers=POST_POINTER_PATTERN):
        return None, "not_self_contained"
    return title, ""


def _post_rejection(post: dict) -> str | None:
    if post.get("over_18"):
        return "nsfw"
    if post.get("stickied") or post.get("distinguished") == "moderator":
        return "stickied"
    if post.get("removed_by_category") or post.get("title") in ("[deleted]", "[removed]"):
        return "removed"
    return None


def _files(path: Path) -> list[tuple[str, Path]]:
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


def _scan(path: Path, config: Config, result: SourceResult) -> Iterator[dict]:
    errors: list[InputError] = []
    for _, obj in tqdm(
        iter_zst_lines(path, on_error=config.on_error, errors=errors),
        desc=f"reddit {path.name}",
        unit=" lines",
        leave=False,
    ):
        yield obj
    for error in errors:
        raise_or_skip(error, on_error="skip", rejections=result.rejections, source=NAME, id=str(error).split(": ")[0])


def curate(config: Config) -> SourceResult:
    """Ranked WritingPrompts pairs and AskReddit questions (records), plus ``extras["ranked_candidates"]``."""
    if not config.input:
        raise InputError("reddit: --input (a Pushshift .zst file or a folder of them) is required")
    files = _files(Path(config.input))
    wp_sub = config.writingprompts_subreddit.lower()
    ask_sub = config.askreddit_subreddit.lower()
    result = SourceResult(extras={"ranked_candidates": []})
    wp_heap: list[tuple] = []
    ask_heap: list[tuple] = []
    seen: set[str] = set()

    def keep(heap, score, post_id, item):
        entry = (score, _neg_id(post_id), item)
        if len(heap) < config.max_candidates:
            heapq.heappush(heap, entry)
        elif entry[:2] > heap[0][:2]:
            heapq.heapreplace(heap, entry)

    for kind, path in files:
        if kind != "submissions":
            continue
        for post in _scan(path, config, result):
            sub = str(post.get("subreddit") or "").lower()
            if sub not in (wp_sub, ask_sub) or not post.get("id"):
                continue
            tag = "writingprompts" if sub == wp_sub else "askreddit"
            post_id = str(post["id"])
            if post_id in seen:  # the same post in a per-subreddit file and a monthly dump
                continue
            seen.add(post_id)
            reason = _post_rejection(post)
            score = int(post.get("score") or 0)
            if reason is None and score < config.min_submission_score:
                reason = "low_score"
            if tag == "writingprompts":
                prompt = writingprompt(post.get("title") or "", config.writingprompts_tags)
                if reason is None and prompt is None:
                    reason = "not_a_writing_prompt"
                if reason is None and not prompt:
                    reason = "empty_prompt"
            else:
                prompt, why = askreddit_question(post, config)
                reason = reason or (why or None)
            if reason:
                result.rejections.append(make_rejection(source=tag, id=f"reddit/{tag}/{post_id}", reason=reason))
                continue
            item = {"post": _slim(post), "prompt": prompt}
            keep(wp_heap if tag == "writingprompts" else ask_heap, score, post_id, item)

    wp = {item["post"]["id"]: item for _, _, item in wp_heap}
    best: dict[str, dict] = {}
    rejected_comments: dict[str, dict[str, int]] = {}
    if wp:
        for kind, path in files:
            if kind != "comments":
                continue
            for comment in _scan(path, config, result):
                link = str(comment.get("link_id") or "")
                post_id = link[3:]
                if post_id not in wp or not str(comment.get("parent_id") or "").startswith("t3_"):
                    continue
                body = comment.get("body") or ""
                reason = None
                if body.strip() in REMOVED or comment.get("author") in ("[deleted]", None):
                    reason = "comment_deleted"
                elif (
                    str(comment.get("author")).lower() in BOTS
                    or comment.get("stickied")
                    or comment.get("distinguished")
                ):
                    reason = "comment_by_bot_or_moderator"
                elif int(comment.get("score") or 0) < config.min_comment_score:
                    reason = "comment_low_score"
                else:
                    text = clean_comment(body)
                    if not config.min_response_chars <= len(text) <= config.max_response_chars:
                        reason = "comment_length"
                if reason:
                    counts = rejected_comments.setdefault(post_id, {})
                    counts[reason] = counts.get(reason, 0) + 1
                    continue
                current = best.get(post_id)
                key = (int(comment.get("score") or 0), _neg_id(str(comment.get("id"))))
                if current is None or key > current["key"]:
                    best[post_id] = {"key": key, "comment": _slim(comment), "text": text}

    for heap, tag in ((wp_heap, "writingprompts"), (ask_heap, "askreddit")):
        ranked = [item for _, _, item in sorted(heap, key=lambda e: e[:2], reverse=True)]
        for rank, item in enumerate(ranked, start=1):
            post = item["post"]
            record_id = f"reddit/{tag}/{post['id']}"
            messages = [{"role": "user", "content": item["prompt"]}]
            pair = best.get(post["id"]) if tag == "writingprompts" else None
            row = {
                "rank": rank,
                "id": record_id,
                "source": tag,
                "score": post["score"],
                "num_comments": post.get("num_comments"),
                "title": post.get("title"),
                "eligible": True,
            }
            if tag == "writingprompts":
                if pair is None:
                    reasons = rejected_comments.get(post["id"], {})
                    detail = (
                        ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items()))
                        or "no top-level comment in the input"
                    )
                    result.rejections.append(
                        make_rejection(source=tag, id=record_id, reason="no_eligible_comment", detail=detail)
                    )
                    result.extras["ranked_candidates"].append(
                        {**row, "eligible": False, "reason": "no_eligible_comment"}
                    )
                    continue
                messages.append({"role": "assistant", "content": pair["text"]})
                row["response_score"] = pair["comment"]["score"]
            result.extras["ranked_candidates"].append(row)
            authors = [f"u/{post.get('author')}"] + ([f"u/{pair['comment'].get('author')}"] if pair else [])
            result.records.append(
                make_record(
                    id=record_id,
                    source=tag,
                    messages=messages,
                    url=f"https://www.reddit.com{post['permalink']}"
                    if post.get("permalink")
                    else f"https://www.reddit.com/comments/{post['id']}/",
                    author=", ".join(authors),
                    license=LICENSE,
                    source_id=post["id"] + (f"/{pair['comment']['id']}" if pair else ""),
                    score=post["score"],
                    metadata={
                        "rank": rank,
                        "subreddit": post.get("subreddit"),
                        "created_utc": post.get("created_utc"),
                        **(
                            {"comment_id": pair["comment"]["id"], "comment_score": pair["comment"]["score"]}
                            if pair
                            else {}
                        ),
                    },
                )
            )
    return result


def _neg_id(post_id: str) -> tuple:
    """Tie-break key: among equal scores the lower base-36 id (the earlier post) ranks first."""
    try:
        return (-int(post_id, 36),)
    except ValueError:
        return (0,)


def _slim(obj: dict) -> dict:
    keys = ("id", "title", "author", "score", "num_comments", "permalink", "subreddit", "created_utc")
    slim = {k: obj.get(k) for k in keys if k in obj}
    slim["score"] = int(obj.get("score") or 0)
    slim["created_utc"] = _utc(obj.get("created_utc"))
    return slim
