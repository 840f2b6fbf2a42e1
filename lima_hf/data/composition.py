"""Compose the LIMA splits from curated sources: the part of ``build_dataset`` before anything is written.

For a :class:`~lima_hf.data.build_config.BuildConfig`:

1. curate every configured source (each with its own progress bar), then apply the curation manifest
   to each pool of candidates (``select``/``exclude``/``overrides``);
2. fill the splits in the order test, validation, train, multi_turn, each part taking ``count`` candidates in the
   source's own order (ranked, or category-first for wikiHow) or a seeded random sample; a candidate is
   skipped when its conversation exactly duplicates one already taken (whitespace and case ignored), when
   its prompt is a test or validation prompt (so no test prompt reaches train), or when another part took it;
3. a part with fewer eligible candidates than ``count`` fails the build, or (``on_shortfall:
   take_available``) takes what exists; the summary says so either way.

Same inputs, config and seed give identical output.
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lima_hf.data.build_config import BuildConfig
from lima_hf.data.dataset_folder import DEFAULT_CONFIG
from lima_hf.data.manifest import candidate_pools, load_manifest
from lima_hf.data.records import VALIDATION_SPLIT, SourceResult, make_rejection
from lima_hf.data.sources import load_source
from lima_hf.errors import InputError
from lima_hf.io import atomic_folder, write_jsonl

logger = logging.getLogger(__name__)
COMPOSITION = "composition"


@dataclass
class PartReport:
    """What one part of a split got."""

    split: str
    part: str
    requested: int | None
    taken: int
    available: int
    shortfall: bool


@dataclass
class Composition:
    """A composed dataset: ``configs[config][split]`` records plus what happened on the way."""

    configs: dict[str, dict[str, list[dict]]]
    results: dict[str, SourceResult] = field(default_factory=dict)  # per source run
    rejections: list[dict] = field(default_factory=list)  # composition-level: duplicates, test prompts in train
    parts: list[PartReport] = field(default_factory=list)


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def conversation_key(record: dict) -> str:
    """The exact-duplicate key of a record: its turns, whitespace and case normalised."""
    return "\x1e".join(f"{m['role']}\x1f{_normalise(m['content'])}" for m in record["messages"])


def prompt_key(record: dict) -> str:
    """The normalised first user turn (what "a test prompt appears in train" compares)."""
    return _normalise(record["messages"][0]["content"])


def curate_sources(config: BuildConfig) -> dict[str, SourceResult]:
    """Run every configured source; returns its result by run name."""
    results = {}
    for run in tqdm(config.sources, desc="curating sources", unit=" source"):
        tqdm.write(f"curating {run.name} ({run.module}) from {run.options.get('input')}")
        results[run.name] = load_source(run.module).curate(run.make_config(config.seed, config.on_error))
    return results


def compose(config: BuildConfig, results: dict[str, SourceResult] | None = None) -> Composition:
    """Curate (unless ``results`` are given) and compose the splits of ``config``."""
    results = curate_sources(config) if results is None else results
    manifest = load_manifest(config.manifest) if config.manifest else None
    composition = Composition(configs={DEFAULT_CONFIG: {}}, results=results)
    pools, known = candidate_pools(results.values())
    if manifest is not None:
        composition.rejections.extend(manifest.apply_to_pools(pools, known))
    taken_keys: dict[str, str] = {}
    reserved: dict[str, tuple[str, str]] = {}  # prompt -> (split, id) of test and validation prompts
    used: set[tuple[str, str]] = set()
    for split, parts in config.parts():
        chosen: list[dict] = []
        for index, part in enumerate(parts):
            candidates = [
                r
                for r in pools.get((part.source, part.pool), [])
                if part.category is None or r.get("category") == part.category
            ]
            if part.sample == "random":
                candidates = list(candidates)
                random.Random(f"{config.seed}:{split}:{index}").shuffle(candidates)
            taken = []
            for record in candidates:
                if part.count is not None and len(taken) >= part.count:
                    break
                if (part.pool, record["id"]) in used:
                    continue
                key, prompt = conversation_key(record), prompt_key(record)
                reason = None
                if key in taken_keys:
                    reason, detail = "duplicate", f"same conversation as {taken_keys[key]}"
                elif prompt in reserved and reserved[prompt][0] != split:
                    reason, detail = (
                        f"{reserved[prompt][0]}_prompt_in_{split}",
                        f"same prompt as {reserved[prompt][1]}",
                    )
                if reason:
                    composition.rejections.append(
                        make_rejection(source=record["source"], id=record["id"], reason=reason, detail=detail)
                    )
                    continue
                taken.append(record)
                used.add((part.pool, record["id"]))
                taken_keys[key] = record["id"]
            available = len(taken)
            short = part.count is not None and available < part.count
            composition.parts.append(PartReport(split, part.describe(), part.count, available, len(candidates), short))
            hint = ""
            if (part.source, part.pool) not in pools:
                known = ", ".join(sorted(s if p == "records" else f"{s} ({p})" for s, p in pools))
                hint = f"; no curated source produced '{part.source}' in pool '{part.pool}' (have: {known})"
                logger.warning("%s: %s%s", split, part.describe(), hint)
            if short and (part.on_shortfall or config.on_shortfall) == "fail":
                raise InputError(
                    f"{config.path}: {split}: {part.describe()} needs {part.count} examples but only {available} are "
                    f"eligible (of {len(candidates)} candidates, after the manifest, deduplication and the "
                    f"test-prompt check){hint}; add input, lower the count, or set on_shortfall: take_available"
                )
            if short:
                logger.warning("%s: %s: took %d of the %d requested", split, part.describe(), available, part.count)
            chosen.extend(taken)
        if split in ("test", VALIDATION_SPLIT):
            for record in chosen:
                reserved.setdefault(prompt_key(record), (split, record["id"]))
        if split == "multi_turn":
            composition.configs["multi_turn"] = {"train": chosen}
        else:
            composition.configs[DEFAULT_CONFIG][split] = chosen
    composition.configs[DEFAULT_CONFIG] = {s: composition.configs[DEFAULT_CONFIG][s] for s in config.splits}
    return composition


def write_rejection_logs(composition: Composition, directory: str | os.PathLike) -> Path:
    """One ``<source run>.jsonl`` per source (and ``composition.jsonl``) of every rejected candidate; the
    folder is replaced whole (a previous build's logs go with it)."""
    directory = Path(directory)
    with atomic_folder(directory) as staging:
        for name, result in composition.results.items():
            write_jsonl(staging / f"{name}.jsonl", result.rejections, replace="any")
        write_jsonl(staging / f"{COMPOSITION}.jsonl", composition.rejections, replace="any")
    return directory


def build_summary(composition: Composition) -> dict[str, Any]:
    """Counts per config, split and source; parts with shortfalls; rejections per source and reason."""
    counts = {
        config: {split: _count_by(records, "source") for split, records in splits.items()}
        for config, splits in composition.configs.items()
    }
    rejections = {name: result.rejection_counts() for name, result in composition.results.items()}
    rejections[COMPOSITION] = SourceResult(rejections=composition.rejections).rejection_counts()
    return {
        "counts": counts,
        "parts": [vars(p) for p in composition.parts],
        "rejections": rejections,
    }


def _count_by(records: list[dict], key: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        counts[record[key]] = counts.get(record[key], 0) + 1
    return counts
