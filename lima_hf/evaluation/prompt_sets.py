"""Read the prompts to answer from any of the files users have.

- a dataset folder written by ``lima-hf build-dataset`` (a split of its ``default`` config, ``test`` by
  default, ``validation`` for checkpoint selection), or a Parquet shard of one;
- the released LIMA ``test.jsonl`` (``{"conversations": [prompt], "source": ...}``) or its folder;
- a JSONL of prompts, one object a line with ``prompt`` (or ``instruction``/``question``) text, or with
  ``messages`` (``[{"role", "content"}, ...]``); an optional ``id`` names each prompt.

Every prompt becomes ``{"id", "turns", "source"}``: ``turns`` are the user utterances in order (a multi-turn
dialogue is answered turn by turn; assistant turns in the file are reference answers and are not used).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lima_hf.io import InputError, read_jsonl

_TEXT_KEYS = ("prompt", "instruction", "question")


def _turns(obj: Any, where: str) -> list[str]:
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected a JSON object")
    if isinstance(obj.get("messages"), list):
        turns = []
        for message in obj["messages"]:
            if not isinstance(message, dict) or not {"role", "content"} <= message.keys():
                raise InputError(f"{where}: each message needs 'role' and 'content'")
            if message["role"] == "user":
                turns.append(message["content"])
    elif isinstance(obj.get("conversations"), list):
        turns = obj["conversations"][0::2]  # the released layout alternates user, assistant, user, ...
    else:
        key = next((k for k in _TEXT_KEYS if isinstance(obj.get(k), str)), None)
        if key is None:
            raise InputError(
                f"{where}: no prompt: expected 'messages', 'conversations' or one of {', '.join(_TEXT_KEYS)}"
            )
        turns = [obj[key]]
    if not turns or not all(isinstance(t, str) and t.strip() for t in turns):
        raise InputError(f"{where}: no user turn, or an empty one")
    return turns


def _prompt(obj: dict, index: int, default_prefix: str, where: str) -> dict[str, Any]:
    return {
        "id": str(obj["id"]) if obj.get("id") not in (None, "") else f"{default_prefix}-{index:04d}",
        "turns": _turns(obj, where),
        "source": obj.get("source"),
    }


def load_prompts(path: str | os.PathLike, split: str = "test", limit: int | None = None) -> list[dict[str, Any]]:
    """The prompts of ``path`` (see the module docstring) as ``{"id", "turns", "source"}`` dicts.

    ``split`` picks the split of a dataset folder or of the released layout; ``limit`` keeps the first N.
    Duplicate ids are an error naming them.
    """
    from lima_hf.data.dataset_folder import is_dataset_folder, read_records

    path = Path(path)
    if path.is_dir() and not is_dataset_folder(path):
        release = path / f"{split}.jsonl"
        if not release.is_file():
            raise InputError(f"{path}: neither a dataset folder (README.md + data/) nor a folder with {release.name}")
        path = release
    if path.is_dir() or path.suffix == ".parquet":
        rows = read_records(path, split=split) if path.is_dir() else read_records(path)
        prompts = [_prompt(row, i, split, f"{path} row {i}") for i, row in enumerate(rows, start=1)]
    elif path.is_file():
        prompts = [
            _prompt(obj, i, path.stem, f"{path}:{line}") for i, (line, obj) in enumerate(read_jsonl(path), start=1)
        ]
    else:
        raise InputError(f"{path}: prompt file not found")
    if not prompts:
        raise InputError(f"{path}: no prompts")
    seen: dict[str, int] = {}
    for prompt in prompts:
        seen[prompt["id"]] = seen.get(prompt["id"], 0) + 1
    duplicates = sorted(key for key, count in seen.items() if count > 1)
    if duplicates:
        raise InputError(f"{path}: duplicate prompt ids: {', '.join(duplicates[:10])}")
    return prompts[:limit] if limit else prompts
