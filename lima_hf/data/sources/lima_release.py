"""The released LIMA data (``GAIR/lima`` layout): import it as-is into our schema, and export ours back.

Released layout, one JSON object per line: ``{"conversations": [user, assistant, user, ...], "source": label}``
with labels ``stackexchange``, ``wikihow``, ``writingprompts``, ``nlp``, ``authors`` and ``multi_turn`` in
``train.jsonl`` and ``test.jsonl`` holding single-prompt conversations. Released labels are kept verbatim as
the record ``source``. Single-turn training pairs become ``records``; dialogues with more than two
utterances go to ``extras["multi_turn"]`` and test prompts (``test.jsonl`` beside ``train.jsonl``, or an
input that is itself a test file) to ``extras["test"]``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lima_hf.data.executors import ExecutorConfig, per_file
from lima_hf.data.records import SourceResult, make_record
from lima_hf.data.sources.bad_input import jsonl_objects, raise_or_skip
from lima_hf.data.sources.base import AnyLabel, CardEntry, SourceConfig
from lima_hf.io import InputError, write_jsonl

NAME = "lima_release"
LICENSE = "CC BY-NC-SA 4.0 (or stricter, per original source)"
CITATION_URL = "https://huggingface.co/datasets/GAIR/lima"

# our source names -> the released labels (the inverse is used when a record carries one of ours)
RELEASE_LABELS = {
    "stackexchange": "stackexchange",
    "wikihow": "wikihow",
    "writingprompts": "writingprompts",
    "natural_instructions": "nlp",
    "authored": "authors",
    "askreddit": "askreddit",
}
# Released labels are kept verbatim (the test set has many); the card describes every one as the release.
LABELS = AnyLabel(
    CardEntry(
        title="The released LIMA data (GAIR/lima)",
        rules="Imported as released; the released source labels are kept.",
        license="CC BY-NC-SA 4.0, or stricter per original source",
        attribution=f"Zhou et al. (2023), {CITATION_URL}",
    ),
    known=(*RELEASE_LABELS.values(), "multi_turn"),
)


@dataclass
class Config(ExecutorConfig, SourceConfig):
    """Options of the released-LIMA importer. ``input``: ``train.jsonl``, ``test.jsonl`` or a folder with them."""


def _files(path: Path) -> list[tuple[str, Path]]:
    if path.is_dir():
        found = [
            (split, path / f"{split}.jsonl") for split in ("train", "test") if (path / f"{split}.jsonl").is_file()
        ]
        if not found:
            raise InputError(f"{path}: no train.jsonl or test.jsonl in the GAIR/lima layout")
        return found
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    return [(_split(path), path)]


def _split(path: Path) -> str:
    """``test`` for a file named ``test*`` (``test.jsonl``), else ``train``."""
    return "test" if path.stem.startswith("test") else "train"


def _conversation(obj: Any, where: str) -> tuple[list[str], str]:
    if not isinstance(obj, dict) or "conversations" not in obj:
        raise InputError(f"{where}: not a GAIR/lima row (a JSON object with 'conversations')")
    turns = obj["conversations"]
    if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
        raise InputError(f"{where}: 'conversations' must be a non-empty list of strings")
    if any(not t.strip() for t in turns):
        raise InputError(f"{where}: empty utterance in 'conversations'")
    return turns, str(obj.get("source") or "unknown")


def import_rows(
    path: str | os.PathLike, *, split: str, on_error: str = "raise"
) -> Iterable[tuple[dict | None, dict | None]]:
    """Yield ``(record, None)`` per valid row of one released file, or ``(None, rejection)`` when skipping."""
    path = Path(path)
    malformed: list[dict] = []
    for line, obj in jsonl_objects(path, on_error=on_error, rejections=malformed, source=NAME):
        while malformed:
            yield None, malformed.pop(0)
        where = f"{path}:{line}"
        try:
            turns, label = _conversation(obj, where)
        except InputError as err:
            raise_or_skip(err, on_error=on_error, rejections=malformed, source=NAME, id=f"{path.name}:{line}")
            yield None, malformed.pop()
            continue
        messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]
        yield (
            make_record(
                id=f"{NAME}/{split}/{line}",
                source=label,
                messages=messages,
                license=LICENSE,
                url=CITATION_URL,
                source_id=f"{split}:{line}",
                metadata={"release_split": split, "release_line": line},
            ),
            None,
        )
    for rejection in malformed:  # malformed lines after the last good one
        yield None, rejection


def file_rows(path: Path, config: Config) -> dict:
    """Stage 1 on one released file (``test*``: the test split, else train): its training pairs (``records``),
    dialogues (``multi_turn``), test prompts (``test``) and malformed rows skipped (``rejections``;
    ``on_error="raise"`` raises)."""
    rows: dict[str, list] = {"records": [], "multi_turn": [], "test": [], "rejections": []}
    split = _split(path)
    for record, rejection in import_rows(path, split=split, on_error=config.on_error):
        if rejection is not None:
            rows["rejections"].append(rejection)
        elif split == "test":
            rows["test"].append(record)
        elif len(record["messages"]) > 2 or record["source"] == "multi_turn":
            rows["multi_turn"].append(record)
        else:
            rows["records"].append(record)
    return rows


def _counts(rows: dict) -> dict[str, int]:
    """A task's numbers for datatrove's stats."""
    return {name: len(items) for name, items in rows.items()}


def curate(config: Config) -> SourceResult:
    """Import the released LIMA data as records (train pairs), ``multi_turn`` and ``test`` extras (stage 1:
    :func:`file_rows` per file, on the executor of ``--executor``; the global step joins them in order)."""
    if not config.input:
        raise InputError(f"{NAME}: --input (train.jsonl, test.jsonl or their folder) is required")
    result = SourceResult(extras={"multi_turn": [], "test": []})
    files = [path for _, path in _files(Path(config.input))]
    for rows in per_file("GAIR/lima file", file_rows, files, config, key={"version": 1}, counts=_counts):
        result.records += rows["records"]
        result.rejections += rows["rejections"]
        for name in ("multi_turn", "test"):
            result.extras[name] += rows[name]
    return result


def to_release_row(record: dict[str, Any], *, multi_turn: bool = False) -> dict[str, Any]:
    """One record in the released layout; our source names map to the released labels."""
    source = "multi_turn" if multi_turn else RELEASE_LABELS.get(record["source"], record["source"])
    return {"conversations": [m["content"] for m in record["messages"]], "source": source}


def export_release(path: str | os.PathLike, records: Iterable[dict], multi_turn: Iterable[dict] = ()) -> int:
    """Write records (then multi-turn dialogues, as in the release) as a GAIR/lima ``.jsonl``; returns the count."""
    rows = [to_release_row(r) for r in records] + [to_release_row(r, multi_turn=True) for r in multi_turn]
    return write_jsonl(path, rows)
