"""What a training run leaves in its output folder, read back: the ``checkpoint-<step>`` folders, the
``trainer_state.json`` (steps, epochs, losses) and the Trainer's pickled ``training_args.bin``."""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

from lima_hf.io import read_json

logger = logging.getLogger(__name__)


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
