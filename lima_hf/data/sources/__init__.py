"""The raw sources and their registry. The source contract: a source is one module that declares

- ``NAME``: its registry name (``lima-hf curate NAME``, a build config's ``sources:`` entry);
- ``LABELS``: every value its records' ``source`` column takes, each with the
  :class:`~lima_hf.data.sources.base.CardEntry` the dataset card prints for it;
- ``Config``: a dataclass of its options (fields with help text) inheriting
  :class:`~lima_hf.data.sources.base.SourceConfig`, and ``curate(config) -> SourceResult``.

Adding a source is that module plus one line in :data:`SOURCES` (or :func:`register_source` at run time).
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType

from lima_hf.data.sources.base import CardEntry
from lima_hf.io import InputError

logger = logging.getLogger(__name__)

# name -> the module (imported when first used)
SOURCES: dict[str, str | ModuleType] = {
    "stackexchange": "lima_hf.data.sources.stackexchange",
    "wikihow": "lima_hf.data.sources.wikihow",
    "reddit": "lima_hf.data.sources.reddit",
    "natural_instructions": "lima_hf.data.sources.natural_instructions",
    "authored": "lima_hf.data.sources.authored",
    "lima_release": "lima_hf.data.sources.lima_release",
}
# spellings of earlier versions -> the name
OLD_NAMES = {"natural-instructions": "natural_instructions", "lima-release": "lima_release"}


def register_source(module: ModuleType) -> None:
    """Add a source module (one that follows the contract above) under its ``NAME``."""
    missing = [attr for attr in ("NAME", "LABELS", "Config", "curate") if not hasattr(module, attr)]
    if missing:
        raise TypeError(f"source module {module.__name__} lacks {', '.join(missing)} (see lima_hf.data.sources)")
    SOURCES[module.NAME] = module


def source_name(name: str) -> str:
    """``name``, or the name an old spelling stands for (with a note saying so); unknown names raise ``KeyError``."""
    if name in OLD_NAMES:
        logger.warning("source '%s' is now spelled '%s'; please use the new name", name, OLD_NAMES[name])
        name = OLD_NAMES[name]
    if name not in SOURCES:
        raise KeyError(f"unknown source '{name}' (choose from {', '.join(SOURCES)})")
    return name


def load_source(name: str) -> ModuleType:
    """The module of source ``name`` (see :data:`SOURCES`)."""
    name = source_name(name)
    module = SOURCES[name]
    return importlib.import_module(module) if isinstance(module, str) else module


def card_entry(name: str, label: str) -> CardEntry:
    """The card entry source ``name`` declares for its records labelled ``label``; a label the source does not
    declare raises :class:`~lima_hf.io.InputError` (a card never borrows another source's text)."""
    labels = load_source(name).LABELS
    if label not in labels:
        raise InputError(
            f"source '{name}' emitted records labelled '{label}' but declares no card entry for it "
            f"(add '{label}' to LABELS in {load_source(name).__name__}; declared: {', '.join(labels) or 'none'})"
        )
    return labels[label]
