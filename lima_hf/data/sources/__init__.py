"""The raw sources and their registry. The source contract: a source is one module that declares

- ``NAME``: its registry name (``lima-hf curate NAME``, a build config's ``sources:`` entry);
- ``LABELS``: every value its records' ``source`` column takes, each with the
  :class:`~lima_hf.data.sources.base.CardEntry` the dataset card prints for it;
- ``Config``: a dataclass of its options (fields with help text) inheriting
  :class:`~lima_hf.data.sources.base.SourceConfig`, and ``curate(config) -> SourceResult``.

Adding a source is that module plus one line in :data:`SOURCES`, a :class:`~lima_hf.registry.Registry` (or
:func:`register_source` at run time).
"""

from __future__ import annotations

from types import ModuleType

from lima_hf import compat
from lima_hf.data.sources.base import CardEntry
from lima_hf.errors import InputError
from lima_hf.registry import Registry


def _check_source(name: str, module: ModuleType) -> None:
    missing = [attr for attr in ("NAME", "LABELS", "Config", "curate") if not hasattr(module, attr)]
    if missing:
        raise TypeError(f"source module {module.__name__} lacks {', '.join(missing)} (see lima_hf.data.sources)")


# name -> the module (imported when first used)
SOURCES: Registry[ModuleType] = Registry("source", {
    "stackexchange": "lima_hf.data.sources.stackexchange",
    "wikihow": "lima_hf.data.sources.wikihow",
    "reddit": "lima_hf.data.sources.reddit",
    "natural_instructions": "lima_hf.data.sources.natural_instructions",
    "authored": "lima_hf.data.sources.authored",
    "lima_release": "lima_hf.data.sources.lima_release",
}, _check_source)


def register_source(module: ModuleType) -> None:
    """Add a source module (one that follows the contract above) under its ``NAME``."""
    SOURCES.register(getattr(module, "NAME", module.__name__), module)


def source_name(name: str) -> str:
    """``name``, or the name an old spelling stands for (:data:`lima_hf.compat.SOURCE`, warned); unknown names
    raise ``KeyError``."""
    name = compat.SOURCE(name)
    if name not in SOURCES:
        raise KeyError(f"unknown source '{name}' (choose from {', '.join(SOURCES.names())})")
    return name


def load_source(name: str) -> ModuleType:
    """The module of source ``name`` (see :data:`SOURCES`)."""
    return SOURCES.get(source_name(name))


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
