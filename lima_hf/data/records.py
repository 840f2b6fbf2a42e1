"""The record every source produces, the rejection log entry, and a source's curation result.

A record is a plain dict with a fixed set of columns, so that every source can be written to JSON lines
and Parquet with one schema:

- ``id``: stable, unique across sources (e.g. ``stackexchange/quantumcomputing.stackexchange.com/a/123``)
- ``source``: the source name (``stackexchange``, ``wikihow``, ``writingprompts``, ``askreddit``,
  ``natural_instructions``, ``authored``, or a released-LIMA label)
- ``messages``: ``[{"role": "user"|"assistant", "content": str}, ...]``, what TRL consumes
- ``category``: the source's sub-grouping (Stack Exchange ``stem``/``other``, wikiHow top category,
  Super-NI task name, ...) or ``None``
- ``url``, ``author``, ``license``: attribution, ``None`` where the source has none
- ``source_id``: the id within the raw source (post id, article title, task instance id, ...)
- ``score``: the source's vote score, ``None`` where it has none
- ``metadata``: a JSON-encoded string of anything else worth keeping (kept as a string so every row has
  the same Parquet type)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lima_hf import compat
from lima_hf.errors import InputError

logger = logging.getLogger(__name__)

PROMPT_KEYS = ("prompt", "instruction", "question")
NEEDS = ("messages", "prompt", "conversation")

VALIDATION_SPLIT = "validation"
"""The Hub's name of the split that LIMA calls the dev set (checkpoint selection); lima-hf called it ``dev``."""


def split_name(name: str, where: str) -> str:
    """The current name of split ``name``: ``dev`` becomes ``validation`` (:data:`lima_hf.compat.SPLIT`, warned)."""
    return compat.SPLIT(name, where)


def find_split(requested: str, available: Iterable[str], where: str) -> str | None:
    """The key of ``available`` that holds split ``requested``, where one side may use the old name ``dev``
    (:data:`lima_hf.compat.SPLIT`, warned); ``None`` when there is none."""
    available = list(available)
    if requested in available:
        return requested
    for old, new in compat.SPLIT.old_to_new.items():
        if requested in (old, new):
            other = old if requested == new else new
            if other in available:
                compat.SPLIT(old, where)
                return other
    return None

RECORD_COLUMNS = ("id", "source", "messages", "category", "url", "author", "license", "source_id", "score", "metadata")


def make_record(
    *,
    id: str,
    source: str,
    messages: list[dict[str, str]],
    category: str | None = None,
    url: str | None = None,
    author: str | None = None,
    license: str | None = None,
    source_id: str | None = None,
    score: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a record with every column present, in the canonical column order."""
    return {
        "id": id,
        "source": source,
        "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
        "category": category,
        "url": url,
        "author": author,
        "license": license,
        "source_id": None if source_id is None else str(source_id),
        "score": None if score is None else int(score),
        "metadata": json.dumps(metadata or {}, ensure_ascii=False, sort_keys=True),
    }


def _messages(row: Mapping[str, Any], where: str) -> tuple[list[dict[str, str]], str]:
    """The turns of ``row`` and the column they came from."""
    if "messages" in row:
        turns = row["messages"]
        if not isinstance(turns, list) or not turns:
            raise InputError(f"{where}: 'messages' must be a non-empty list")
        for turn in turns:
            if not isinstance(turn, Mapping) or not isinstance(turn.get("role"), str) or not isinstance(
                turn.get("content"), str
            ):
                raise InputError(f"{where}: each message needs a 'role' and a 'content' string")
        return [{"role": turn["role"], "content": turn["content"]} for turn in turns], "messages"
    if isinstance(row.get("conversations"), list):  # the released layout: user, assistant, user, ...
        utterances = row["conversations"]
        if not utterances or not all(isinstance(u, str) for u in utterances):
            raise InputError(f"{where}: 'conversations' must be a non-empty list of strings")
        turns = [{"role": "user" if i % 2 == 0 else "assistant", "content": u} for i, u in enumerate(utterances)]
        return turns, "conversations"
    key = next((k for k in PROMPT_KEYS if isinstance(row.get(k), str)), None)
    if key is None:
        raise InputError(
            f"{where}: not a record: expected 'messages', 'conversations' or one of {', '.join(PROMPT_KEYS)}"
        )
    return [{"role": "user", "content": row[key]}], key


def normalise_record(
    row: Any, where: str, *, default_id: str | None = None, needs: str = "messages"
) -> dict[str, Any]:
    """Any row lima-hf reads as a record with every column: a record (``messages``), a released LIMA row
    (``conversations``) or a prompt (``prompt``, ``instruction`` or ``question`` text).

    Columns outside the schema are kept in ``metadata``; a missing ``id`` becomes ``default_id``. ``needs``
    is what the caller must have: ``messages`` (any turns), ``prompt`` (a non-empty user turn) or
    ``conversation`` (a non-empty user and a non-empty assistant turn). A row that does not qualify raises
    :class:`~lima_hf.errors.InputError` starting with ``where`` (the file and line, or the row).
    """
    if not isinstance(row, Mapping):
        raise InputError(f"{where}: not a JSON object")
    messages, used = _messages(row, where)
    roles = {turn["role"] for turn in messages if turn["content"].strip()}
    users = [turn["content"] for turn in messages if turn["role"] == "user"]
    if needs == "prompt" and not (users and all(text.strip() for text in users)):
        raise InputError(f"{where}: no user turn, or an empty one")
    if needs == "conversation" and not {"user", "assistant"} <= roles:
        raise InputError(f"{where}: needs a non-empty user turn and a non-empty assistant turn")
    record = {column: row.get(column) for column in RECORD_COLUMNS}
    record["id"] = str(row["id"]) if row.get("id") not in (None, "") else default_id
    record["messages"] = messages
    extra = {k: v for k, v in row.items() if k not in RECORD_COLUMNS and k != used and _is_json(v)}
    if extra or not isinstance(record["metadata"], str):
        metadata = record["metadata"]
        metadata = dict(json.loads(metadata) if isinstance(metadata, str) else metadata or {})
        record["metadata"] = json.dumps({**metadata, **extra}, ensure_ascii=False, sort_keys=True)
    if record["source_id"] is not None:
        record["source_id"] = str(record["source_id"])
    return record


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def make_rejection(*, source: str, id: str, reason: str, detail: str = "") -> dict[str, str]:
    """One rejection-log line: which candidate, the rule that rejected it (a short code) and details."""
    return {"source": source, "id": str(id), "reason": reason, "detail": detail}


@dataclass
class SourceResult:
    """What curating one source produces.

    ``records`` are the chosen examples; ``rejections`` every candidate that was dropped, with its reason;
    ``extras`` named side outputs written beside the records (e.g. ``multi_turn_candidates``,
    ``ranked_candidates``), each a list of dicts.
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[dict[str, str]] = field(default_factory=list)
    extras: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def rejection_counts(self) -> dict[str, int]:
        """Number of rejections per reason, most frequent first."""
        counts: dict[str, int] = {}
        for rejection in self.rejections:
            counts[rejection["reason"]] = counts.get(rejection["reason"], 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
