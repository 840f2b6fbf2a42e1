"""Compatibility shims, all in one place: every old spelling lima-hf still reads, with the version that removes it.

Using one gives a :class:`FutureWarning` naming the new spelling and the release that removes the old one
(:data:`REMOVED_IN`). To drop a shim in that release, delete it here and at the one call site named below.

- the split ``dev`` -> ``validation`` (:data:`SPLIT`; :func:`lima_hf.data.records.split_name` and ``find_split``);
- ``--judge human`` -> ``--judge people`` (:data:`JUDGE`; :func:`lima_hf.evaluation.judges.config.make_judge`);
- the sources ``natural-instructions``, ``lima-release`` -> ``natural_instructions``, ``lima_release``
  (:data:`SOURCE`; :func:`lima_hf.data.sources.source_name`);
- a build config's ``sources.NAME.source:`` -> ``module:`` (:data:`SOURCE_KEY`;
  :func:`lima_hf.data.build_config.parse_build_config`);
- ``lima-hf build-dataset --config BUILD.yaml`` -> ``--dataset_config BUILD.yaml`` (:func:`build_config_given_as_config`;
  ``lima_hf.commands.build_dataset``), and ``dataset_scripts/build_lima.py --config`` likewise (that script);
- transformers releases whose ``TrainingArguments`` has no ``activation_checkpointing`` yet (the floor, 5.18, reads
  ``gradient_checkpointing`` only): :func:`checkpointing_under_old_name` (``LimaSFTConfig.__post_init__``);
  removed when the transformers floor has the field (no warning: nothing the user wrote is old);
- transformers releases whose models take the KV cache as ``past_key_values`` (the floor, 5.18; 5.25 names it
  ``cache``): :func:`cache_keyword` (:func:`lima_hf.evaluation.backends.transformers_backend.decode_shrinking`);
  removed when the transformers floor takes ``cache`` (no warning: nothing the user wrote is old);
- the staging folders of lima-hf's earlier output layout (``.NAME.staging-*``, ``.NAME.old-*``), cleaned up
  (:func:`recover_old_layout`; :func:`lima_hf.io.recover`).
"""

from __future__ import annotations

import os
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

REMOVED_IN = "0.3"
"""The release that removes the shims below (lima-hf is 0.1)."""


def warn(change: str, where: str | None = None, removed_in: str = REMOVED_IN) -> None:
    """A :class:`FutureWarning` saying ``change`` (e.g. "the split 'dev' is now 'validation'") and the release
    that removes the old form; ``where`` (a file, file:line or option) comes first."""
    prefix = f"{where}: " if where else ""
    warnings.warn(f"{prefix}{change}; lima-hf {removed_in} removes the old form", FutureWarning, stacklevel=3)


@dataclass(frozen=True)
class Renamed:
    """Old spellings of one kind of name (``kind``: "the split", "--judge"), read until :data:`REMOVED_IN`."""

    kind: str
    old_to_new: dict[str, str]

    def __call__(self, name: str, where: str | None = None) -> str:
        """``name``, or the name its old spelling stands for (with a :class:`FutureWarning`)."""
        new = self.old_to_new.get(name)
        if new is None:
            return name
        warn(f"{self.kind} '{name}' is now '{new}'", where)
        return new


SPLIT = Renamed("the split", {"dev": "validation"})  # the Hub's name of LIMA's dev set
JUDGE = Renamed("--judge", {"human": "people"})
SOURCE = Renamed("the source", {"natural-instructions": "natural_instructions", "lima-release": "lima_release"})
SOURCE_KEY = Renamed("the key", {"source": "module"})  # a build config's sources.NAME.source: (the module curated)


def checkpointing_under_old_name(args) -> None:
    """Where transformers' ``TrainingArguments`` lacks ``activation_checkpointing`` (transformers 5.18, lima-hf's
    floor), give lima-hf's ``activation_checkpointing`` to ``gradient_checkpointing``, the field its Trainer
    reads there; otherwise checkpointing would be silently off."""
    import dataclasses

    from transformers import TrainingArguments

    if "activation_checkpointing" not in {field.name for field in dataclasses.fields(TrainingArguments)}:
        args.gradient_checkpointing = bool(args.activation_checkpointing)


def cache_keyword(model) -> str:
    """The name of the KV cache argument of ``model``'s forward: ``cache`` in newer transformers releases (5.25;
    ``past_key_values`` is deprecated there), ``past_key_values`` in older ones (5.18, lima-hf's floor)."""
    import inspect

    return "cache" if "cache" in inspect.signature(type(model).forward).parameters else "past_key_values"


def build_config_given_as_config(recipe: str) -> bool:
    """Whether ``lima-hf build-dataset --config RECIPE`` names a build config (the old form, warned: it is read as
    ``--dataset_config``) rather than a recipe of options."""
    from lima_hf.io.readers import read_yaml

    data, _ = read_yaml(recipe, "recipe file")
    if not (isinstance(data, dict) and {"sources", "splits", "multi_turn"} & set(data)):
        return False
    warn(f"--config {recipe} is a build config: it is now given as --dataset_config (--config is a recipe of "
         "options, as in every other command)", "lima-hf build-dataset")
    return True


def recover_old_layout(target: Path, entry: Path) -> None:
    """What lima-hf's earlier output layout (before the ownership mark) left beside ``target``: ``.NAME.staging-*``
    and ``.NAME.old-*/NAME``, once an hour old; a target moved aside comes back, the rest is removed."""
    if not entry.name.startswith((f".{target.name}.staging-", f".{target.name}.old-")) or not entry.is_dir():
        return
    if time.time() - entry.stat().st_mtime < 3600:
        return  # perhaps still being written
    moved = entry / target.name
    if entry.name.startswith(f".{target.name}.old-") and moved.is_dir() and not target.exists():
        os.replace(moved, target)
    shutil.rmtree(entry, ignore_errors=True)
    warn(f"removed {entry.name}, a staging folder of lima-hf's earlier output layout", str(target))
