"""One shape for every registry of pluggable parts (sources, protocols, judges, selection strategies, generation
backends, executors): a name maps to an entry, or to the dotted path of one imported when first used, so that
listing the choices imports no optional package."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from lima_hf.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> entry for one kind of part.

    Parameters:
        kind (`str`):
            What the entries are (``"protocol"``, ``"selection strategy"``), used in error messages.
        entries (`dict[str, T | str]`, *optional*):
            Initial entries; a string is a dotted path (``"package.module"`` for a module,
            ``"package.module:Name"`` for an attribute) imported by :meth:`get` the first time.
        check (`Callable[[str, T], None]`, *optional*):
            Called with every entry when registered or first imported; raises ``TypeError`` for one that
            breaks the kind's contract.
    """

    def __init__(self, kind: str, entries: dict[str, T | str] | None = None,
                 check: Callable[[str, T], None] | None = None):
        self.kind = kind
        self._entries: dict[str, T | str] = dict(entries or {})
        self._check = check

    def register(self, name: str, entry: T | None = None):
        """Add ``entry`` under ``name``; without ``entry``, a decorator that registers what it decorates."""
        if entry is None:
            return lambda decorated: self.register(name, decorated)
        if self._check is not None and not isinstance(entry, str):
            self._check(name, entry)
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        """The entry ``name``; an unknown name is a :class:`~lima_hf.errors.ConfigError` listing the choices."""
        if name not in self._entries:
            raise ConfigError(f"unknown {self.kind} {name!r} (choose from {', '.join(self._entries)})")
        entry = self._entries[name]
        if isinstance(entry, str):
            module_name, _, attribute = entry.partition(":")
            entry = importlib.import_module(module_name)
            if attribute:
                entry = getattr(entry, attribute)
            if self._check is not None:
                self._check(name, entry)
            self._entries[name] = entry
        return entry

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def copy(self) -> Registry[T]:
        """A registry of the same kind and entries (a test registers into it and leaves the original as it was)."""
        return Registry(self.kind, self._entries, self._check)

    def items(self) -> Iterator[tuple[str, Any]]:
        """``(name, entry)`` pairs, importing lazy entries."""
        return ((name, self.get(name)) for name in self.names())

    def values(self) -> Iterator[Any]:
        """The entries, importing lazy ones."""
        return (self.get(name) for name in self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
