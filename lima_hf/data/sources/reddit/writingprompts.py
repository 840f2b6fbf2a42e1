"""r/WritingPrompts: a ``[WP]`` title is the prompt, its best top-level comment the story."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from lima_hf.data.filters import links_to_text
from lima_hf.data.rules import RuleChain, comment_rules
from lima_hf.data.sources.reddit.pushshift import slim, tie_break

WP_TAG = re.compile(r"^\s*[\[(]\s*([A-Za-z]{2})\s*[\])]\s*:?\s*")
_URL = re.compile(r"\s*\(?\bhttps?://\S+")
_EDIT_LINE = re.compile(r"^\s*[*_]*\s*(?:edit|update|e)\s*\d*\s*[*_]*\s*[:\-].*$", re.IGNORECASE | re.MULTILINE)


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


@dataclass
class Comment:
    """A top-level comment as :func:`lima_hf.data.rules.comment_rules` see it; ``text`` (the cleaned story) is
    made when a rule first asks for it."""

    comment: dict

    @property
    def score(self) -> int:
        return int(self.comment.get("score") or 0)

    @cached_property
    def text(self) -> str:
        return clean_comment(self.comment.get("body") or "")


def top_comments(
    comments: Iterable[dict], post_ids: set[str], config
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, int]]]:
    """The best eligible top-level comment of each post in ``post_ids`` (highest score, then the earliest), and
    per post the rejected comments counted by the reason of the first rule of
    :func:`~lima_hf.data.rules.comment_rules` they fail."""
    rules = RuleChain(comment_rules(config))
    best: dict[str, dict[str, Any]] = {}
    rejected: dict[str, dict[str, int]] = {}
    for comment in comments:
        post_id = str(comment.get("link_id") or "")[3:]
        if post_id not in post_ids or not str(comment.get("parent_id") or "").startswith("t3_"):
            continue
        example = Comment(comment)
        failure = rules.first_failure(example)
        if failure:
            counts = rejected.setdefault(post_id, {})
            counts[failure[0]] = counts.get(failure[0], 0) + 1
            continue
        current = best.get(post_id)
        key = (example.score, tie_break(str(comment.get("id"))))
        if current is None or key > current["key"]:
            best[post_id] = {"key": key, "comment": slim(comment), "text": example.text}
    return best, rejected
