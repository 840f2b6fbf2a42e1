"""What every source shares: its options (:class:`SourceConfig`) and the card entry of each record label it
emits (:class:`CardEntry`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CardEntry:
    """How the dataset card describes the records of one label: what they are, how they were curated, their
    license and whom to credit."""

    title: str
    rules: str
    license: str
    attribution: str


class AnyLabel(Mapping):
    """``LABELS`` of a source that keeps its input's labels verbatim: every label gets the same entry."""

    def __init__(self, entry: CardEntry, known: tuple[str, ...] = ()):
        self.entry, self.known = entry, known

    def __getitem__(self, label: str) -> CardEntry:
        return self.entry

    def __iter__(self) -> Iterator[str]:
        return iter(self.known)

    def __len__(self) -> int:
        return len(self.known)

    def __contains__(self, label: object) -> bool:
        return isinstance(label, str)


@dataclass
class SourceConfig:
    """Options common to all sources."""

    input: str | None = field(default=None, metadata={"help": "Path of the raw source (file or folder)."})
    seed: int = field(default=42, metadata={"help": "Random seed; the same inputs, options and seed give identical output."})
    on_error: str = field(
        default="raise",
        metadata={
            "help": "What to do with a malformed record: 'raise' stops with an error naming the file and line; "
            "'skip' records it in the rejection log and goes on.",
            "choices": ["raise", "skip"],
        },
    )
    progress: bool = field(default=True, metadata={"help": "Show progress bars (--no_progress: none)."})

    def __post_init__(self):
        if self.on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', not {self.on_error!r}")
