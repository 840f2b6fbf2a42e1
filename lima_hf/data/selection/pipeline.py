"""The selection pipeline: quality signals -> rule filters -> embeddings -> near-duplicates -> the steps
(strategies, :mod:`.strategies`; quotas in the last). Every candidate that does not make it is accounted for, with its reason."""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from lima_hf.data.rules import RuleChain, selection_rules
from lima_hf.data.selection.config import SelectionConfig
from lima_hf.data.selection.dedup import remove_near_duplicates
from lima_hf.data.selection.embeddings import Embedder, response_text
from lima_hf.data.selection.index import NeighbourIndex
from lima_hf.data.selection.quality import combine, quality_ranking, quality_signals
from lima_hf.data.selection.quotas import resolve_quotas
from lima_hf.data.selection.strategies import STRATEGIES, SelectionContext
from lima_hf.errors import ConfigError


@dataclass
class SelectionResult:
    """What a selection produced.

    ``selected``: positions in the pool, in the order chosen (a prefix of a k-center selection is itself a
    k-center selection); ``candidates``: positions that passed the rule filters, best quality first, with
    ``embeddings`` their rows; ``kept_rows``: the rows left after near-duplicate removal; ``dropped``: one
    ``{"id", "source", "reason", "detail"}`` per candidate removed before the diversity step;
    ``quality``/``signals``: per pool position; ``quotas``: the resolved per-group counts.
    """

    records: Sequence[dict]
    config: SelectionConfig
    selected: np.ndarray
    candidates: np.ndarray
    embeddings: np.ndarray
    quality: np.ndarray
    signals: dict[str, np.ndarray]
    dropped: list[dict[str, Any]]
    quotas: dict[str, int] | None
    kept_rows: np.ndarray
    notes: list[str] = field(default_factory=list)
    index_method: str = "none"
    steps: list[dict[str, Any]] = field(default_factory=list)  # per step: strategy, candidates in and out

    @property
    def selected_records(self) -> list[dict]:
        """The selected records, in the order chosen."""
        return [self.records[p] for p in self.selected]


@dataclass
class Candidate:
    """A record as :func:`~lima_hf.data.rules.selection_rules` see it: its response (``answer``, made when a rule
    first asks for it), vote ``score`` and combined ``quality``."""

    record: dict
    quality: float

    @cached_property
    def answer(self) -> str:
        return response_text(self.record)

    @property
    def score(self):
        return self.record.get("score")


class PoolTooSmallError(ConfigError):
    """Fewer candidates reach a step than it must choose (nothing is made up to fill the gap)."""


def _shortfall(records, candidates: int, after_dedup: int, step_log: list[dict], dropped: list[dict], need: str,
               have: int) -> str:
    reasons = Counter(d["reason"] for d in dropped)
    stages = [f"pool {len(records)}", f"after rule filters {candidates}", f"after near-duplicate removal {after_dedup}"]
    stages += [f"after step {s['step']} ({s['strategy']}) {s['out']}" for s in step_log]
    why = ", ".join(f"{reason} {count}" for reason, count in reasons.most_common()) or "none"
    return (f"{need} but only {have} candidates reach it ({'; '.join(stages)}; dropped: {why}). "
            "Give a larger pool, a smaller n, or looser filters.")


def select_records(
    records: Sequence[dict],
    config: SelectionConfig,
    *,
    judge_scores: dict[str, float] | None = None,
    embedder: Embedder | None = None,
    embeddings: np.ndarray | None = None,
    judge=None,
    judge_template: str | None = None,
    judge_retries: int = 2,
    cache_dir: str | os.PathLike | None = None,
) -> SelectionResult:
    """Choose ``config.n`` of ``records`` (each with ``id``, ``source`` and ``messages``).

    ``embeddings``: precomputed unit vectors, one row per record (skips the encoder); otherwise ``embedder``
    (default: built from ``config``) encodes the candidates' ``config.embed_field``. ``judge`` (a model judge)
    grades what ``judge_threshold`` or ``complexity_quality`` need and ``--judge_scores`` lacks, caching its
    replies in ``cache_dir``; a strategy that lacks a score stops naming the candidates
    (:class:`~lima_hf.data.selection.strategies.MissingScoresError`) unless its step says ``on_missing: drop``.
    """
    notes: list[str] = []
    signals = quality_signals(records, min_chars=config.min_chars, max_chars=config.max_chars,
                              judge_scores=judge_scores, judge_scale=config.judge_scale)
    quality = combine(signals, config.quality_weights())
    dropped: list[dict[str, Any]] = []
    keep = []
    rules = RuleChain(selection_rules(config))
    for position, record in enumerate(records):
        failure = rules.first_failure(Candidate(record, quality[position]))
        if failure is None:
            keep.append(position)
        else:
            dropped.append({"id": record["id"], "source": record.get("source"), "reason": failure[0],
                            "detail": failure[1]})
    candidates = np.array(keep, dtype=np.int64)

    if embeddings is not None:
        if len(embeddings) != len(records):
            raise ValueError(f"{len(embeddings)} embeddings for {len(records)} records")
        vectors = np.ascontiguousarray(embeddings[candidates], dtype=np.float32)
    else:
        embedder = embedder or Embedder(
            config.embedding_model, batch_size=config.embedding_batch_size, max_seq_length=config.max_seq_length,
            device=config.device, cache_dir=config.embedding_cache_dir, show_progress=config.show_progress,
        )
        vectors = embedder.encode_records([records[p] for p in candidates], config.embed_field)
    if len(candidates) == 0:
        vectors = np.zeros((0, 1), dtype=np.float32)

    # from here on, candidates (and their vectors) are in quality order, best first, so every tie below
    # (which duplicate to keep, which of two equally distant candidates to pick) goes to the better one
    ranking = quality_ranking(quality[candidates], config.seed)
    candidates, vectors = candidates[ranking], np.ascontiguousarray(vectors[ranking])
    index = None  # built only for the steps that search neighbours (dedup, facility location)
    pool_rows = np.arange(len(candidates))
    if config.dedup and len(vectors):
        index = NeighbourIndex(vectors, config.index, nprobe=config.nprobe, seed=config.seed)
        result = remove_near_duplicates(vectors, config.dedup_threshold, index=index, progress=config.show_progress)
        for row in np.flatnonzero(result.duplicate_of >= 0):
            position, original = candidates[row], candidates[result.duplicate_of[row]]
            dropped.append({"id": records[position]["id"], "source": records[position].get("source"),
                            "reason": "near_duplicate",
                            "detail": f"cosine {result.similarity[row]:.3f} to {records[original]['id']}"})
        pool_rows = result.keep

    context = SelectionContext(
        records=records, candidates=candidates, vectors=vectors, quality=quality, seed=config.seed,
        judge_scores=judge_scores, judge=judge, judge_template=judge_template, judge_retries=judge_retries,
        cache_dir=None if cache_dir is None else Path(cache_dir), show_progress=config.show_progress,
    )
    steps = config.parsed_steps()
    rows = pool_rows
    step_log: list[dict[str, Any]] = []
    quotas = None
    groups = [str(records[position].get(config.quota_by) or "unknown") for position in candidates]
    for number, step in enumerate(steps, start=1):
        last = number == len(steps)
        n = step.n if step.n is not None else (config.n if last else None)
        if n is not None and len(rows) < n and STRATEGIES.get(step.strategy).needs_n:  # a filter may keep fewer
            raise PoolTooSmallError(_shortfall(records, len(candidates), len(pool_rows), step_log, dropped,
                                               f"step {number} ({step.describe()}) needs n={n}", len(rows)))
        if last:
            quotas, quota_notes = resolve_quotas([groups[r] for r in rows], n, config.quotas)
            notes += quota_notes
            if quotas is not None:
                unquoted = Counter(groups[r] for r in rows if quotas.get(groups[r], 0) == 0)
                for group, count in sorted(unquoted.items()):
                    notes.append(f"{count} candidates of group '{group}' not eligible: no quota")
        params = dataclasses.replace(step.params)
        if step.strategy == "k_center" and params.quality_weight is None:
            params.quality_weight = config.quality_weight
        if step.strategy == "facility_location":
            params.neighbours = params.neighbours or config.neighbours
            if index is not None and np.array_equal(rows, np.arange(len(vectors))):
                params.index = index
            else:
                index = params.index = NeighbourIndex(vectors[rows], config.index, nprobe=config.nprobe,
                                                      seed=config.seed)
        strategy = STRATEGIES.get(step.strategy)()
        output = strategy.select(context, rows, n, params, groups if last else None, quotas if last else None)
        notes += output.notes
        for row, (reason, detail) in output.rejected.items():
            record = records[candidates[row]]
            dropped.append({"id": record["id"], "source": record.get("source"), "reason": reason,
                            "detail": f"step {number} ({step.strategy}): {detail}"})
        if not last:
            kept = set(output.chosen.tolist())
            for row in rows:
                if int(row) not in kept and int(row) not in output.rejected:
                    record = records[candidates[row]]
                    dropped.append({"id": record["id"], "source": record.get("source"),
                                    "reason": f"not_chosen_by_{step.strategy}",
                                    "detail": f"step {number} ({step.describe()}) kept {len(kept)} of {len(rows)}"})
        step_log.append({"step": number, "strategy": step.describe(), "in": len(rows),
                         "out": len(output.chosen)})
        rows = output.chosen
    chosen_rows = rows
    selected = candidates[chosen_rows]
    if len(selected) < config.n and steps[-1].n is None:
        notes.append(f"selected {len(selected)} of the requested {config.n}: not enough eligible candidates")
    return SelectionResult(
        records=records, config=config, selected=selected, candidates=candidates, embeddings=vectors,
        quality=quality, signals=signals, dropped=dropped, quotas=quotas, kept_rows=pool_rows, notes=notes,
        index_method=index.method if index is not None else "none", steps=step_log,
    )
