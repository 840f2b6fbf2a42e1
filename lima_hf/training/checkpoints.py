"""A training run's output folder read back: its ``checkpoint-<step>/`` folders and which are complete (a run
killed while saving one leaves it half-written: no ``trainer_state.json``, a 0-byte ``optimizer.pt``, missing
weight shards), the ``trainer_state.json`` (steps, epochs, losses) and the training arguments as JSON (``training_args.json``,
written beside the Trainer's ``training_args.bin`` by :func:`save_training_args`).

Nothing here unpickles: ``training_args.bin`` is a pickle, and unpickling a folder downloaded from anywhere runs
whatever code it names, so it is never read."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from lima_hf.errors import InputError
from lima_hf.io import atomic_open, read_json
from lima_hf.redaction import redact

logger = logging.getLogger(__name__)

_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "adapter_model.safetensors", "adapter_model.bin")
_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
_STATE_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
TRAINING_ARGS_JSON = "training_args.json"
_CHECKPOINT_NAME = re.compile(r"checkpoint-([0-9]+)")
# Fields whose names end in "_token" that hold token *texts*, not credentials: kept in the JSON (to_dict masks them)
_TOKEN_TEXT_FIELDS = ("eot_token", "eos_token", "pad_token")


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


def checkpoint_dirs(folder: str | os.PathLike) -> list[Path]:
    """The ``checkpoint-<step>`` folders of a training output folder, by step (the names the Trainer gives them).

    Listed here rather than with ``transformers.trainer_utils.sort_checkpoints``, whose import pulls in peft and,
    with bitsandbytes installed, a Hub call at import time: reading a folder needs none of that."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    steps = [(int(match.group(1)), path) for path in folder.iterdir()
             if (match := _CHECKPOINT_NAME.fullmatch(path.name)) and path.is_dir()]
    return [path for _, path in sorted(steps)]


def load_trainer_state(folder: str | os.PathLike) -> dict | None:
    """``trainer_state.json`` of a training output folder, else of its last ``checkpoint-*``; None if absent."""
    folder = Path(folder)
    for candidate in [folder, *reversed(checkpoint_dirs(folder))]:
        state = read_json(candidate / "trainer_state.json")
        if state is not None:
            return state
    return None


def training_args_dict(args) -> dict:
    """``args`` (``TrainingArguments`` or a subclass) as a JSON-ready dict: ``to_dict()`` (which masks every
    ``*_token`` field, ``hub_token`` included), with the token texts of :data:`_TOKEN_TEXT_FIELDS` kept."""
    values = args.to_dict()
    for name in _TOKEN_TEXT_FIELDS:
        value = getattr(args, name, None)
        if name in values and (value is None or isinstance(value, str)):
            values[name] = value
    return values


def save_training_args(args, folder: str | os.PathLike) -> Path:
    """Write ``folder/training_args.json`` (:func:`training_args_dict`, passed through the redactor)."""
    path = Path(folder) / TRAINING_ARGS_JSON
    text = redact(json.dumps(training_args_dict(args), indent=2, sort_keys=True, default=str))
    with atomic_open(path, replace="any") as handle:
        handle.write(text + "\n")
    return path


def load_training_args(folder: str | os.PathLike) -> dict | None:
    """The training arguments saved with a model (``training_args.json``) as a dict, or ``None``.

    Read from ``folder``, else from its newest ``checkpoint-*``. The Trainer's pickled ``training_args.bin`` is
    never read: a folder that has only it (saved before lima-hf wrote the JSON) gets one log line saying the
    card will not list the training arguments.
    """
    folder = Path(folder)
    candidates = [folder, *reversed(checkpoint_dirs(folder))]
    for candidate in candidates:
        try:
            values = read_json(candidate / TRAINING_ARGS_JSON)
        except InputError as err:
            logger.warning("%s; the card will not list the training arguments", err)
            return None
        if isinstance(values, dict):
            return values
    for candidate in candidates:
        if (candidate / "training_args.bin").is_file():
            logger.warning(
                "%s has only training_args.bin (a pickle, which lima-hf never loads) and no %s: the card will "
                "not list the training arguments", candidate, TRAINING_ARGS_JSON)
            return None
    return None
