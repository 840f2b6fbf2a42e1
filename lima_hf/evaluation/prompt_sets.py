"""Read the prompts to answer from any of the files users have, through the one reader
(:func:`lima_hf.data.loading.load_lima_dataset`):

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
from typing import Any

from lima_hf.data.loading import load_lima_dataset
from lima_hf.errors import InputError


def load_prompts(path: str | os.PathLike, split: str = "test", limit: int | None = None) -> list[dict[str, Any]]:
    """The prompts of ``path`` (see the module docstring) as ``{"id", "turns", "source"}`` dicts.

    ``split`` picks the split of a dataset folder or of the released layout; ``limit`` keeps the first N.
    Duplicate ids are an error naming them.
    """
    data = load_lima_dataset(path, split=split, needs="prompt")
    prompts = [
        {"id": row["id"], "turns": [m["content"] for m in row["messages"] if m["role"] == "user"], "source": row["source"]}
        for rows in data.values()
        for row in rows
    ]
    if not prompts:
        raise InputError(f"{path}: no prompts")
    return prompts[:limit] if limit else prompts
