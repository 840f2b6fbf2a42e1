"""The evaluation protocols and their registry, :data:`PROTOCOLS` (``lima-hf evaluate NAME``).

- ``pairwise``: :class:`~lima_hf.evaluation.protocols.pairwise.Pairwise` (Figures 1-2);
- ``likert``: :class:`~lima_hf.evaluation.protocols.likert.Likert` (the ablations, Figures 5-6);
- ``absolute``: :class:`~lima_hf.evaluation.protocols.absolute.Absolute` (Figure 3);
- ``multi-turn``: :class:`~lima_hf.evaluation.protocols.multi_turn.MultiTurn` (Section 4.4's dialogues);
- ``instructions``: :class:`~lima_hf.evaluation.protocols.instruction_following.InstructionFollowing` (IFEval-style
  verifiable instructions, checked by code: no judge).

A protocol is one module with one :class:`~lima_hf.evaluation.protocols.base.Protocol` subclass; adding one
is that module plus one entry here, or :func:`register_protocol` from anywhere. The command line
(``lima-hf evaluate``) and :func:`evaluate` are derived from the registry.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from lima_hf.evaluation.protocols.absolute import Absolute
from lima_hf.evaluation.protocols.base import Protocol
from lima_hf.evaluation.protocols.instruction_following import InstructionFollowing
from lima_hf.evaluation.protocols.likert import Likert
from lima_hf.evaluation.protocols.multi_turn import MultiTurn
from lima_hf.evaluation.protocols.pairwise import Pairwise
from lima_hf.registry import Registry


def _check_protocol(name: str, protocol: type) -> None:
    if not (isinstance(protocol, type) and issubclass(protocol, Protocol)) or protocol.name != name:
        raise TypeError(f"protocol {name!r}: {protocol!r} is not a Protocol subclass whose name is {name!r}")


PROTOCOLS: Registry[type[Protocol]] = Registry(
    "protocol", {p.name: p for p in (Pairwise, Likert, Absolute, MultiTurn, InstructionFollowing)}, _check_protocol
)


def register_protocol(protocol: type[Protocol]) -> type[Protocol]:
    """Add ``protocol`` to :data:`PROTOCOLS` under its ``name`` (usable as a class decorator)."""
    return PROTOCOLS.register(protocol.name, protocol)


def evaluate(protocol: str, systems: Mapping[str, str | os.PathLike], output_dir: str | os.PathLike, judge,
             **options: Any) -> dict[str, Any]:
    """Run the protocol ``protocol`` of :data:`PROTOCOLS` on ``systems`` (``name -> response JSONL``; for
    pairwise the first is ours) with ``judge``; write the report in ``output_dir`` and return its figures.
    ``options`` are the protocol's (``both_orders``, ``sample_size``, ...) and :class:`Protocol`'s."""
    return PROTOCOLS.get(protocol)(judge, output_dir, **options).run(systems)


__all__ = ["PROTOCOLS", "Protocol", "evaluate", "register_protocol"]
