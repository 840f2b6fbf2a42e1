"""Multi-turn candidates from Comments.xml: the asker follows up under an answer and the answerer replies.

For every eligible question/answer pair of a site, the comments under the answer written by the asker
(the question's owner) or the answerer (the answer's owner) are taken in order; consecutive comments by
the same person are merged, a leading ``@name`` is dropped, and the chain is cut to start with the asker
and end with the answerer. A chain with at least ``min_exchanges`` asker/answerer pairs becomes a
dialogue ``user: prompt, assistant: answer, user: follow-up, assistant: reply, ...`` for a curator to pick
and edit (the paper used 20 such dialogues). Other people's comments are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from lima_hf.data.sources.stackexchange.posts import row_license
from lima_hf.data.sources.stackexchange.rows import (
    RowError,
    attribute,
    check_layout,
    iter_parsed_rows,
    iter_rows,
    parse_row,
    report_or_raise,
)

_LEADING_MENTION = re.compile(r"^(?:@[\w.\-]+[,:]?\s*)+")


@dataclass
class Comment:
    id: int
    post_id: int
    user_id: str | None
    text: str
    creation_date: str
    license: str


@dataclass
class Thread:
    """The people whose comments count under one answer."""

    answer_id: int
    asker: str
    answerer: str


def read_comments(
    stream: BinaryIO,
    name: str,
    answer_ids: set[int],
    on_skip: Callable[[RowError], None] | None = None,
) -> dict[int, list[Comment]]:
    """The comments under ``answer_ids``, in file order (ordered by ``Id``, i.e. by time).

    Raises ``LayoutDeparture`` where the file leaves the dump layout: read it with :func:`read_comments_parsed`.
    """
    found: dict[int, list[Comment]] = {}
    wanted = {str(i).encode() for i in answer_ids}
    for line, row in iter_rows(stream, name, on_skip):
        post_id = attribute(row, "PostId")
        if post_id is None:
            check_layout(row, "PostId", f"{name}:{line}")
        if post_id not in wanted:
            continue
        try:
            values = parse_row(row, f"{name}:{line}")
        except RowError as err:
            report_or_raise(err, on_skip)
            continue
        _add_comment(found, values, f"{name}:{line}", on_skip)
    return found


def read_comments_parsed(
    stream: BinaryIO,
    name: str,
    answer_ids: set[int],
    on_skip: Callable[[RowError], None] | None = None,
) -> dict[int, list[Comment]]:
    """:func:`read_comments` over any valid XML, every row fully parsed."""
    found: dict[int, list[Comment]] = {}
    wanted = {str(i) for i in answer_ids}
    for line, values in iter_parsed_rows(stream, name):
        if values.get("PostId") in wanted:
            _add_comment(found, values, f"{name}:{line}", on_skip)
    return found


def _add_comment(found: dict[int, list[Comment]], values: dict[str, str], location: str, on_skip) -> None:
    try:
        comment = Comment(int(values["Id"]), int(values["PostId"]), values.get("UserId"),
                          values.get("Text", ""), values.get("CreationDate", ""), row_license(values))
    except (KeyError, ValueError) as err:
        report_or_raise(RowError(location, "malformed_row", f"comment without a valid Id/PostId ({err})"), on_skip)
        return
    found.setdefault(comment.post_id, []).append(comment)


def dialogue_turns(comments: list[Comment], thread: Thread, min_exchanges: int = 1) -> list[tuple[str, list[Comment]]]:
    """The ``(role, comments)`` turns of an asker/answerer chain (``role`` user or assistant), or ``[]``."""
    if thread.asker == thread.answerer:
        return []
    roles = {thread.asker: "user", thread.answerer: "assistant"}
    turns: list[tuple[str, list[Comment]]] = []
    for comment in sorted(comments, key=lambda c: (c.creation_date, c.id)):
        role = roles.get(comment.user_id)
        if role is None:  # someone else, or a deleted user
            continue
        if turns and turns[-1][0] == role:
            turns[-1][1].append(comment)
        elif turns or role == "user":
            turns.append((role, [comment]))
    if turns and turns[-1][0] == "user":
        turns.pop()
    if len(turns) // 2 < min_exchanges:
        return []
    return turns


def comment_text(text: str) -> str:
    """A comment as a chat turn: without the leading ``@name`` addressing."""
    return _LEADING_MENTION.sub("", text.strip()).strip()


def turn_text(group: list[Comment]) -> str:
    """The text of one turn: its comments, each without leading ``@name``, one paragraph each."""
    return "\n\n".join(text for text in (comment_text(c.text) for c in group) if text)
