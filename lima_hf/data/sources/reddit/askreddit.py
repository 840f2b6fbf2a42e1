"""r/AskReddit: self-contained, title-only questions (test prompts). The rules a question passes are
:func:`lima_hf.data.rules.submission_rules` (``askreddit``); this module gives the question's text."""

from __future__ import annotations

import html
import re

_SERIOUS_TAG = re.compile(
    r"^\s*[\[(]\s*(?:serious|nsfw|meta)\s*[\])]\s*|\s*[\[(]\s*(?:serious|nsfw|meta)\s*[\])]\s*$", re.IGNORECASE
)


def askreddit_question(post: dict) -> str:
    """The question of an AskReddit submission: its title, unescaped, without a [Serious]/[NSFW]/[Meta] tag,
    whitespace collapsed."""
    return " ".join(_SERIOUS_TAG.sub("", html.unescape(post.get("title") or "")).split())
