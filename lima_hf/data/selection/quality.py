"""One quality score per candidate, from the LIMA curation rules, the vote score and an optional judge.

Signals, each in [0, 1]:

- ``length_window``: 1 if the response length is within ``[min_chars, max_chars]`` (LIMA: 1,200-4,096).
- ``no_first_person``: 1 unless the response is written in the first person (``filters.is_first_person``).
- ``no_other_answers``: 1 unless the response refers to other answers or the site
  (``filters.refers_to_other_answers``).
- ``vote_score``: the record's ``score`` as a mid-rank percentile among the candidates of the same source
  that have a score (vote scales differ between sources); absent when the record has no score.
- ``judge``: an LLM judge's Likert grade ``g`` on a ``1..scale`` scale, as ``(g - 1) / (scale - 1)``;
  absent when the candidate was not judged.

``quality = sum_k w_k s_k / sum_k w_k`` over the signals present for that candidate (an absent signal
neither rewards nor penalises). The ranking sorts by quality, highest first, ties broken by a seeded random
permutation, so it is reproducible without favouring any id order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from lima_hf.data.filters import (
    is_first_person,
    length_in_window,
    refers_to_other_answers,
)
from lima_hf.data.selection.embeddings import response_text
from lima_hf.errors import InputError

SIGNALS = ("length_window", "no_first_person", "no_other_answers", "vote_score", "judge")


@dataclass
class QualityWeights:
    """Weight of each signal in the combined quality score (0 switches a signal off)."""

    length_window: float = 1.0
    no_first_person: float = 1.0
    no_other_answers: float = 1.0
    vote_score: float = 2.0
    judge: float = 3.0

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in SIGNALS}


def _mid_rank_percentiles(values: np.ndarray) -> np.ndarray:
    """For each value, (number below + half the number equal) / count: in (0, 1), 0.5 for a single value."""
    ordered = np.sort(values)
    below = np.searchsorted(ordered, values, side="left")
    equal = np.searchsorted(ordered, values, side="right") - below
    return (below + 0.5 * equal) / len(values)


def quality_signals(
    records: Sequence[Mapping],
    *,
    min_chars: int = 1200,
    max_chars: int = 4096,
    judge_scores: Mapping[str, float] | None = None,
    judge_scale: int = 6,
) -> dict[str, np.ndarray]:
    """Each signal of :data:`SIGNALS` as a float array (``nan`` where absent), one entry per record."""
    responses = [response_text(r) for r in records]
    signals = {
        "length_window": np.array([length_in_window(t, min_chars, max_chars) for t in responses], dtype=float),
        "no_first_person": np.array([not is_first_person(t) for t in responses], dtype=float),
        "no_other_answers": np.array([not refers_to_other_answers(t) for t in responses], dtype=float),
        "vote_score": np.full(len(records), np.nan),
        "judge": np.full(len(records), np.nan),
    }
    by_source: dict[str, list[int]] = {}
    for position, record in enumerate(records):
        if record.get("score") is not None:
            by_source.setdefault(record.get("source") or "", []).append(position)
    for positions in by_source.values():
        scores = np.array([float(records[p]["score"]) for p in positions])
        signals["vote_score"][positions] = _mid_rank_percentiles(scores)
    if judge_scores:
        for position, record in enumerate(records):
            grade = judge_scores.get(record["id"])
            if grade is not None:
                if not 1 <= grade <= judge_scale:
                    raise InputError(f"record {record['id']}: judge grade {grade} outside 1..{judge_scale}")
                signals["judge"][position] = (grade - 1) / (judge_scale - 1)
    return signals


def combine(signals: Mapping[str, np.ndarray], weights: QualityWeights | None = None) -> np.ndarray:
    """The weighted mean of the signals present for each candidate (0.5 when none is present)."""
    weights = (weights or QualityWeights()).as_dict()
    size = len(next(iter(signals.values())))
    total, weight_sum = np.zeros(size), np.zeros(size)
    for name, weight in weights.items():
        if weight < 0:
            raise ValueError(f"quality weight {name} must be >= 0, not {weight}")
        values = signals[name]
        present = ~np.isnan(values)
        total[present] += weight * values[present]
        weight_sum[present] += weight
    return np.where(weight_sum > 0, total / np.maximum(weight_sum, 1e-12), 0.5)


def quality_ranking(quality: np.ndarray, seed: int) -> np.ndarray:
    """Positions sorted by quality, best first; ties in a seeded random order."""
    tiebreak = np.random.default_rng(seed).permutation(len(quality))
    return np.lexsort((tiebreak, -quality))


def load_judge_scores(path) -> dict[str, float]:
    """Judge grades from a JSONL file of ``{"id": ..., "score": grade}`` lines (errors name the line)."""
    from lima_hf.io import read_jsonl

    scores: dict[str, float] = {}
    for line, row in read_jsonl(path):
        if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("score"), (int, float)):
            raise InputError(f"{path}:{line}: expected {{\"id\": ..., \"score\": number}}")
        scores[str(row["id"])] = float(row["score"])
    return scores
