"""Which ``checkpoint-<step>/`` folders of a training run are complete (a run killed while saving one
leaves it half-written: no ``trainer_state.json``, a 0-byte ``optimizer.pt``, missing weight shards)."""

from __future__ import annotations

import json
import os
from pathlib import Path

_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "adapter_model.safetensors", "adapter_model.bin")
_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
_STATE_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def incomplete_reason(folder: str | os.PathLike) -> str | None:
    """Why ``folder`` is not a complete Trainer checkpoint, or ``None`` when it is."""
    folder = Path(folder)
    try:
        state = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "no trainer_state.json"
    except (OSError, ValueError):
        return "unreadable trainer_state.json"
    if not isinstance(state, dict):
        return "unreadable trainer_state.json"
    for path in folder.iterdir():
        if path.is_file() and path.suffix in _STATE_SUFFIXES and path.stat().st_size == 0:
            return f"{path.name} is empty"
    if any((folder / name).is_file() for name in _WEIGHTS):
        return None
    for name in _INDEXES:
        index = folder / name
        if index.is_file():
            try:
                shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                return f"unreadable {name}"
            missing = sorted(s for s in shards if not (folder / s).is_file())
            return f"missing weight shard {missing[0]}" if missing else None
    if any(p.is_dir() and p.name.startswith("global_step") for p in folder.iterdir()):
        return None  # a DeepSpeed checkpoint: its shards live in global_step*/
    return "no model weights"


def last_complete_checkpoint(output_dir: str | os.PathLike) -> tuple[Path | None, list[tuple[Path, str]]]:
    """The newest complete ``checkpoint-<step>`` of ``output_dir`` (``None`` if none) and the newer
    incomplete ones skipped, each with its reason."""
    from transformers.trainer_utils import sort_checkpoints

    folders = [Path(p) for p in reversed(sort_checkpoints(str(output_dir))) if Path(p).is_dir()]
    skipped = []
    for folder in folders:
        reason = incomplete_reason(folder)
        if reason is None:
            return folder, skipped
        skipped.append((folder, reason))
    return None, skipped
