"""A training run's output folder read back: its ``checkpoint-<step>/`` folders and which are complete (a run
killed while saving one leaves it half-written: no ``trainer_state.json``, a 0-byte ``optimizer.pt``, missing
weight shards), the ``trainer_state.json`` (steps, epochs, losses) and the Trainer's pickled ``training_args.bin``."""

from __future__ import annotations

import json
import logging
import os
import pickle
from pathlib import Path

from lima_hf.io import read_json

logger = logging.getLogger(__name__)

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
    folders = [folder for folder in reversed(checkpoint_dirs(Path(output_dir))) if folder.is_dir()]
    skipped = []
    for folder in folders:
        reason = incomplete_reason(folder)
        if reason is None:
            return folder, skipped
        skipped.append((folder, reason))
    return None, skipped


def checkpoint_dirs(folder: Path) -> list[Path]:
    """The ``checkpoint-<step>`` folders of a training output folder, by step (transformers' own listing)."""
    from transformers.trainer_utils import sort_checkpoints

    return [Path(path) for path in sort_checkpoints(str(folder))] if folder.is_dir() else []


def load_trainer_state(folder: str | os.PathLike) -> dict | None:
    """``trainer_state.json`` of a training output folder, else of its last ``checkpoint-*``; None if absent."""
    folder = Path(folder)
    for candidate in [folder, *reversed(checkpoint_dirs(folder))]:
        state = read_json(candidate / "trainer_state.json")
        if state is not None:
            return state
    return None


def load_training_args(folder: str | os.PathLike) -> dict | None:
    """The training arguments saved by the Trainer (``training_args.bin``) as a dict, tokens redacted.

    ``training_args.bin`` is a pickle written by ``transformers.Trainer``; it is read only from the
    folder being pushed, i.e. the user's own training output, and never uploaded.
    """
    folder = Path(folder)
    for candidate in [folder, *reversed(checkpoint_dirs(folder))]:
        path = candidate / "training_args.bin"
        if path.is_file():
            import torch

            try:
                args = torch.load(path, weights_only=False, map_location="cpu")
            except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, RuntimeError) as err:
                # a truncated file, or a pickle of classes from another library version
                logger.warning("cannot read %s (%s); the card will not list the training arguments", path, err)
                return None
            return args.to_dict() if hasattr(args, "to_dict") else None
    return None
