"""The selection pipeline: quality signals -> rule filters -> embeddings -> near-duplicates -> quotas ->
diversity selection. Every candidate that does not make it is accounted for, with its reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lima_hf.data.rules import Example, RuleChain, answer_rules
from lima_hf.data.selection.config import SelectionConfig
from lima_hf.data.selection.dedup import remove_near_duplicates
from lima_hf.data.selection.diversity import (
    facility_location,
    k_center_greedy,
    random_selection,
)
from lima_hf.data.selection.embeddings import Embedder, response_text
from lima_hf.data.selection.index import NeighbourIndex
from lima_hf.data.selection.quality import combine, quality_ranking, quality_signals
from lima_hf.data.selection.quotas import resolve_quotas


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

    @property
    def selected_records(self) -> list[dict]:
        """The selected records, in the order chosen."""
        return [self.records[p] for p in self.selected]


def _rule_failure(record: dict, quality: float, config: SelectionConfig) -> tuple[str, str] | None:
    """The first rule ``record`` fails: LIMA's answer rules (:mod:`lima_hf.data.rules`, the curation's own
    objects and reason codes) on its response, then the score and quality floors."""
    if config.lima_rules:
        rules = RuleChain(answer_rules(config.min_chars, config.max_chars))
        failure = rules.first_failure(Example(response_text(record)))
        if failure is not None:
            return failure
    if config.min_score is not None and record.get("score") is not None and record["score"] < config.min_score:
        return "min_score", f"score {record['score']} < {config.min_score}"
    if quality < config.min_quality:
        return "low_quality", f"quality {quality:.3f} < {config.min_quality}"
    return None


def select_records(
    records: Sequence[dict],
    config: SelectionConfig,
    *,
    judge_scores: dict[str, float] | None = None,
    embedder: Embedder | None = None,
    embeddings: np.ndarray | None = None,
) -> SelectionResult:
    """Choose ``config.n`` of ``records`` (each with ``id``, ``source`` and ``messages``).

    ``embeddings``: precomputed unit vectors, one row per record (skips the encoder); otherwise ``embedder``
    (default: built from ``config``) encodes the candidates' ``config.embed_field``.
    """
    signals = quality_signals(records, min_chars=config.min_chars, max_chars=config.max_chars,
                              judge_scores=judge_scores, judge_scale=config.judge_scale)
    quality = combine(signals, config.quality_weights())
    dropped: list[dict[str, Any]] = []
    keep = []
    for position, record in enumerate(records):
        failure = _rule_failure(record, quality[position], config)
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

    groups = [str(records[candidates[r]].get(config.quota_by) or "unknown") for r in pool_rows]
    quotas, notes = resolve_quotas(groups, config.n, config.quotas)
    if quotas is not None:
        unquoted = Counter(g for g in groups if quotas.get(g, 0) == 0)
        for group, count in sorted(unquoted.items()):
            notes.append(f"{count} candidates of group '{group}' not eligible: no quota")
    sub_vectors = vectors if len(pool_rows) == len(vectors) else vectors[pool_rows]
    if config.strategy == "random":
        chosen = random_selection(len(pool_rows), config.n, seed=config.seed, groups=groups, quotas=quotas)
    elif config.strategy == "k_center":
        weights = None
        if config.quality_weight > 0:
            weights = np.maximum((1 - config.quality_weight) + config.quality_weight * quality[candidates[pool_rows]],
                                 1e-3)
        chosen = k_center_greedy(sub_vectors, config.n, groups=groups, quotas=quotas, weights=weights)
    else:
        if index is None or sub_vectors is not vectors:
            index = NeighbourIndex(sub_vectors, config.index, nprobe=config.nprobe, seed=config.seed)
        chosen = facility_location(sub_vectors, config.n, groups=groups, quotas=quotas,
                                   neighbours=config.neighbours, index=index)
    selected = candidates[pool_rows[chosen]]
    if len(selected) < config.n:
        notes.append(f"selected {len(selected)} of the requested {config.n}: not enough eligible candidates")
    return SelectionResult(
        records=records, config=config, selected=selected, candidates=candidates, embeddings=vectors,
        quality=quality, signals=signals, dropped=dropped, quotas=quotas, kept_rows=pool_rows, notes=notes,
        index_method=index.method if index is not None else "none",
    )
