"""r/AskReddit: self-contained, title-only questions (test prompts)."""

from __future__ import annotations

import html
import re

from lima_hf.data.filters import POST_POINTER_PATTERN, is_self_contained_title

_SERIOUS_TAG = re.compile(
    r"^\s*[\[(]\s*(?:serious|nsfw|meta)\s*[\])]\s*|\s*[\[(]\s*(?:serious|nsfw|meta)\s*[\])]\s*$", re.IGNORECASE
)


def askreddit_question(post: dict, config) -> tuple[str | None, str]:
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
