"""The dataset build config: which sources to curate with which options, and how many examples of each
go into which split. A YAML file read into dataclasses; every error names the file, line and key.

::

    seed: 42
    on_shortfall: fail                 # or take_available: build with what exists and say so
    manifest: manifest.yaml            # optional curation manifest (relative to this file)
    tokenizer: bundled                 # tokenizer named in the card's length statistics
    sources:                           # source name -> options of its Config (input relative to this file)
      wikihow: {input: raw/wikihow, min_methods: 2}
      reddit: {input: raw/pushshift}
      reddit_monthly: {module: reddit, input: raw/monthly}   # a second run of a source: `module:` names it
    splits:
      train:
        - {source: wikihow, count: 200}                       # `source`: a record label (the `source` column)
        - {source: stackexchange, category: stem, count: 200}
        - {source: authored, category: train, count: 200, sample: random}
      validation:                      # LIMA's dev set (`dev`, the old name, is read too)
        - {source: authored, category: validation, count: 50}
      test:
        - {source: askreddit, count: 70}
    multi_turn:
      - {source: stackexchange, pool: multi_turn_candidates, count: 20}
      - {source: authored, pool: multi_turn, count: 10}
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lima_hf import compat
from lima_hf.data.records import VALIDATION_SPLIT, split_name
from lima_hf.data.sources import SOURCES, load_source, source_name
from lima_hf.errors import InputError
from lima_hf.io import read_yaml

SHORTFALL_CHOICES = ("fail", "take_available")
SAMPLE_CHOICES = ("first", "random")


@dataclass
class Part:
    """``count`` examples of one record ``source`` (optionally one ``category``) from one pool."""

    source: str = field(metadata={"help": "The records' `source` value (wikihow, writingprompts, askreddit, ...)."})
    count: int | None = field(default=None, metadata={"help": "How many; all eligible when unset."})
    category: str | None = field(
        default=None, metadata={"help": "Only records of this `category` (e.g. stem, other, train, validation)."}
    )
    pool: str = field(
        default="records", metadata={"help": "`records`, or the name of a source's extra list (e.g. multi_turn)."}
    )
    sample: str = field(
        default="first",
        metadata={
            "help": "`first`: in the source's own order (ranked or category-first); `random`: a seeded random sample."
        },
    )
    on_shortfall: str | None = field(
        default=None, metadata={"help": "Overrides the build's on_shortfall for this part."}
    )

    def describe(self) -> str:
        """``source[/category][ from pool]`` for messages and tables."""
        text = self.source + (f"/{self.category}" if self.category else "")
        return text + (f" ({self.pool})" if self.pool != "records" else "")


@dataclass
class SourceRun:
    """One source to curate: the run's name (its key under ``sources:``), the source's registry name
    (``module``) and the options of its ``Config``."""

    name: str
    module: str
    options: dict[str, Any]

    def make_config(self, seed: int, on_error: str):
        """The source's ``Config`` (the build's ``seed``/``on_error`` unless the options set them); an unknown
        option raises ``TypeError``."""
        return load_source(self.module).Config(**{"seed": seed, "on_error": on_error, **self.options})


@dataclass
class BuildConfig:
    """A whole dataset build; see the module docstring for the YAML form."""

    sources: list[SourceRun] = field(default_factory=list)
    splits: dict[str, list[Part]] = field(default_factory=dict)
    multi_turn: list[Part] = field(default_factory=list)
    seed: int = 42
    on_shortfall: str = "fail"
    on_error: str = "raise"
    manifest: str | None = None
    tokenizer: str = "bundled"
    name: str = "lima"
    pretty_name: str = "LIMA (rebuilt with lima-hf)"
    decontaminate: list[str] = field(default_factory=list)  # "test" (this build's) and/or prompt files
    decontamination_ngram: int = 13  # lima_hf.data.decontamination.DEFAULT_NGRAM
    path: str = "<config>"

    def parts(self) -> list[tuple[str, list[Part]]]:
        """``(split, parts)`` in composition order: test, validation, train, then multi_turn (reserved prompts
        first)."""
        order = ["test", VALIDATION_SPLIT] + [s for s in self.splits if s not in ("test", VALIDATION_SPLIT)]
        result = [(s, self.splits[s]) for s in order if s in self.splits]
        if self.multi_turn:
            result.append(("multi_turn", self.multi_turn))
        return result


_TOP_KEYS = {f.name for f in dataclasses.fields(BuildConfig)} - {"path"}
_PART_KEYS = {f.name for f in dataclasses.fields(Part)}


def _line(nodes: dict, *keys) -> str:
    node = nodes
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
        if node is None:
            return "?"
    return str(node.start_mark.line + 1)


def _parts(value: Any, where, line) -> list[Part]:
    if not isinstance(value, list):
        raise InputError(f"{where()}: expected a list of parts ({{source, count, ...}})")
    parts = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or "source" not in item:
            raise InputError(f"{line(index)}: a part is a mapping with at least 'source'")
        unknown = set(item) - _PART_KEYS
        if unknown:
            raise InputError(
                f"{line(index)}: unknown key(s) {', '.join(sorted(unknown))} "
                f"(allowed: {', '.join(sorted(_PART_KEYS))})"
            )
        part = Part(**item)
        if part.category in compat.SPLIT.old_to_new and part.source == "authored":  # authored categories are split names
            part.category = split_name(part.category, f"{where()}: authored category")
        if part.count is not None and (not isinstance(part.count, int) or part.count < 0):
            raise InputError(f"{line(index)}: count must be a non-negative integer")
        if part.sample not in SAMPLE_CHOICES:
            raise InputError(f"{line(index)}: sample must be one of {', '.join(SAMPLE_CHOICES)}")
        if part.on_shortfall is not None and part.on_shortfall not in SHORTFALL_CHOICES:
            raise InputError(f"{line(index)}: on_shortfall must be one of {', '.join(SHORTFALL_CHOICES)}")
        parts.append(part)
    return parts


def _resolve(value: Any, base: Path) -> Any:
    if isinstance(value, str) and value and not os.path.isabs(os.path.expanduser(value)):
        return str((base / value).resolve())
    return os.path.expanduser(value) if isinstance(value, str) else value


def parse_build_config(
    data: dict, *, path: str = "<config>", base_dir: str | os.PathLike = ".", nodes=None
) -> BuildConfig:
    """A :class:`BuildConfig` from a mapping (relative paths resolved against ``base_dir``)."""
    base = Path(base_dir)
    if not isinstance(data, dict):
        raise InputError(f"{path}: a build config is a YAML mapping")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        key = min(unknown)
        raise InputError(f"{path}:{_line(nodes, key)}: unknown key '{key}' (allowed: {', '.join(sorted(_TOP_KEYS))})")
    config = BuildConfig(path=path, **{k: v for k, v in data.items() if k not in ("sources", "splits", "multi_turn")})
    if config.on_shortfall not in SHORTFALL_CHOICES:
        raise InputError(
            f"{path}:{_line(nodes, 'on_shortfall')}: on_shortfall must be one of {', '.join(SHORTFALL_CHOICES)}"
        )
    if config.on_error not in ("raise", "skip"):
        raise InputError(f"{path}:{_line(nodes, 'on_error')}: on_error must be raise or skip")
    for key, kind in (("seed", int), ("name", str), ("pretty_name", str), ("tokenizer", str)):
        value = getattr(config, key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InputError(f"{path}:{_line(nodes, key)}: {key} must be {'an integer' if kind is int else 'a string'}"
                             f", not {value!r}")
    if config.manifest:
        config.manifest = _resolve(config.manifest, base)
    if isinstance(config.decontaminate, str) or not all(isinstance(p, str) for p in config.decontaminate):
        raise InputError(f"{path}:{_line(nodes, 'decontaminate')}: decontaminate is a list of 'test' and prompt files")
    config.decontaminate = [p if p == "test" else _resolve(p, base) for p in config.decontaminate]
    if config.tokenizer != "bundled" and (base / config.tokenizer).exists():
        config.tokenizer = _resolve(config.tokenizer, base)
    for name, options in (data.get("sources") or {}).items():
        where = f"{path}:{_line(nodes, 'sources', name)}: sources.{name}"
        options = dict(options or {})
        if "source" in options and "module" not in options:
            options[compat.SOURCE_KEY("source", where)] = options.pop("source")
        wanted = options.pop("module", str(name))
        try:
            module = source_name(wanted)
        except KeyError:
            raise InputError(
                f"{where}: unknown source '{wanted}' (choose from {', '.join(SOURCES.names())}; "
                "set `module:` when the key is a label)"
            ) from None
        if "input" in options:
            options["input"] = _resolve(options["input"], base)
        run = SourceRun(name=str(name), module=module, options=options)
        try:
            run.make_config(config.seed, config.on_error)
        except (TypeError, ValueError) as err:
            raise InputError(f"{where}: {err}") from err
        config.sources.append(run)
    splits = data.get("splits") or {}
    if not isinstance(splits, dict):
        raise InputError(f"{path}:{_line(nodes, 'splits')}: splits is a mapping of split: [parts]")
    for split, value in splits.items():
        config.splits[split_name(str(split), f"{path}: splits")] = _parts(
            value,
            lambda s=split: f"{path}:{_line(nodes, 'splits', s)}: splits.{s}",
            lambda i, s=split: f"{path}:{_line(nodes, 'splits', s, i)}: splits.{s}[{i}]",
        )
    if "train" not in config.splits:
        raise InputError(f"{path}: splits needs at least 'train'")
    config.multi_turn = _parts(
        data.get("multi_turn") or [],
        lambda: f"{path}:{_line(nodes, 'multi_turn')}: multi_turn",
        lambda i: f"{path}:{_line(nodes, 'multi_turn', i)}: multi_turn[{i}]",
    )
    return config


def load_build_config(path: str | os.PathLike) -> BuildConfig:
    """Read a build config YAML file (paths inside are relative to the file)."""
    path = Path(path)
    data, nodes = read_yaml(path, "build config")
    return parse_build_config(data or {}, path=str(path), base_dir=path.parent, nodes=nodes)
