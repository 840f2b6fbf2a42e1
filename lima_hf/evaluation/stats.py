"""The figures of the reports: preference rates with bootstrap intervals, position bias and agreement,
Likert means with 95% intervals, absolute-rating shares, and response lengths.

Bootstrap intervals resample *prompts* (all samples and both orders of a prompt move together), 1,000
times by default, and take the 2.5th and 97.5th percentiles. The Likert interval is the paper's "p = 0.95
two-sided confidence interval" of the mean over prompts x samples: mean +- 1.96 x sd / sqrt(n), with the
sample standard deviation (n - 1).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .parsing import A_BETTER, ABSOLUTE_LABELS, B_BETTER, NEITHER  # relative: the metric modules ship this file

OUTCOMES = ("win", "tie", "loss")
Z_95 = 1.959963984540054


def ours_perspective(label: str | None, ours_first: bool) -> str | None:
    """A judge label on one order, as a win/tie/loss of the first-named system ("ours")."""
    if label is None:
        return None
    if label == NEITHER:
        return "tie"
    ours_better = (label == A_BETTER) == ours_first
    return "win" if ours_better else "loss"


def combine_orders(ours_first: str | None, baseline_first: str | None) -> str:
    """The outcome of a pair judged in both orders: agreement keeps the verdict, disagreement is a tie.

    Returns ``"win"``, ``"tie"``, ``"loss"`` or ``"unparsed"`` (an order without a readable label).
    """
    return pair_outcome({"ours_first": ours_first, "baseline_first": baseline_first})


def pair_outcome(pair: dict) -> str:
    """The outcome of a pair from the orders it was judged in (``ours_first`` and/or ``baseline_first``
    keys; an order never judged is absent, an unreadable verdict is ``None``)."""
    verdicts = [
        ours_perspective(pair[order], order == "ours_first")
        for order in ("ours_first", "baseline_first")
        if order in pair
    ]
    if not verdicts or None in verdicts:
        return "unparsed"
    return verdicts[0] if all(v == verdicts[0] for v in verdicts) else "tie"


def _bootstrap(
    groups: Sequence[Sequence[Any]], statistic, n_resamples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_resamples):
        picked = rng.integers(0, len(groups), size=len(groups))
        values.append(statistic([item for i in picked for item in groups[i]]))
    values = np.asarray(values, dtype=float)
    return np.nanpercentile(values, 2.5, axis=0), np.nanpercentile(values, 97.5, axis=0)


def _grouped(items: Iterable[dict], key: str = "id") -> list[list[dict]]:
    groups: dict[Any, list[dict]] = {}
    for item in items:
        groups.setdefault(item[key], []).append(item)
    return list(groups.values())


def _shares(outcomes: Sequence[str], labels: Sequence[str]) -> list[float]:
    parsed = [o for o in outcomes if o in labels]
    if not parsed:
        return [math.nan] * len(labels)
    return [sum(o == label for o in parsed) / len(parsed) for label in labels]


def preference_summary(pairs: Sequence[dict], n_resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Figures of a pairwise comparison from pair records (``id``, ``outcome`` and, when judged,
    ``ours_first``/``baseline_first`` labels, ``ours_length``/``baseline_length``).

    Rates are over parsed pairs; ``unparsed`` counts pairs left out because a judge reply was unreadable.
    ``position`` reports how often the judge preferred the answer shown first among its decisive
    single-order verdicts (0.5 = no position bias) and ``agreement`` the share of pairs whose two orders
    gave the same verdict.
    """
    outcomes = [p["outcome"] for p in pairs]
    counts = {name: outcomes.count(name) for name in (*OUTCOMES, "unparsed")}
    rates = dict(zip(OUTCOMES, _shares(outcomes, OUTCOMES)))
    groups = [[p["outcome"] for p in group] for group in _grouped(pairs)]
    if any(o in OUTCOMES for o in outcomes) and n_resamples:
        low, high = _bootstrap(groups, lambda sample: _shares(sample, OUTCOMES), n_resamples, seed)
        intervals = {name: [float(low[i]), float(high[i])] for i, name in enumerate(OUTCOMES)}
    else:
        intervals = {name: [math.nan, math.nan] for name in OUTCOMES}
    verdicts = [p.get(order) for p in pairs for order in ("ours_first", "baseline_first")]
    decisive = [v for v in verdicts if v in (A_BETTER, B_BETTER)]
    judged_both = [p for p in pairs if p.get("ours_first") is not None and p.get("baseline_first") is not None]
    agree = [
        ours_perspective(p["ours_first"], True) == ours_perspective(p["baseline_first"], False) for p in judged_both
    ]
    return {
        "pairs": len(pairs),
        "prompts": len(groups),
        "counts": counts,
        "rates": rates,
        "intervals_95": intervals,
        "win_or_tie": rates["win"] + rates["tie"] if counts["win"] + counts["tie"] + counts["loss"] else math.nan,
        "position": {
            "verdicts": len([v for v in verdicts if v is not None]),
            "first_preferred": sum(v == A_BETTER for v in decisive),
            "second_preferred": sum(v == B_BETTER for v in decisive),
            "neither": sum(v == NEITHER for v in verdicts),
            "first_preferred_rate": sum(v == A_BETTER for v in decisive) / len(decisive) if decisive else math.nan,
        },
        "agreement": {
            "pairs_judged_both_orders": len(judged_both),
            "rate": sum(agree) / len(agree) if agree else math.nan,
        },
        "lengths": {
            "ours": length_summary([p["ours_response"] for p in pairs if "ours_response" in p]),
            "baseline": length_summary([p["baseline_response"] for p in pairs if "baseline_response" in p]),
        },
    }


def likert_summary(scores: Sequence[int | None]) -> dict[str, Any]:
    """Mean 1-6 score over parsed scores with its 95% interval; ``unparsed`` counts unreadable replies."""
    parsed = [int(s) for s in scores if s is not None]
    n = len(parsed)
    mean = statistics.fmean(parsed) if parsed else math.nan
    sd = statistics.stdev(parsed) if n > 1 else math.nan
    half = Z_95 * sd / math.sqrt(n) if n > 1 else math.nan
    return {
        "n": n,
        "unparsed": len(scores) - n,
        "mean": mean,
        "std": sd,
        "interval_95": [mean - half, mean + half],
        "histogram": {str(level): parsed.count(level) for level in range(1, 7)},
    }


def absolute_summary(items: Sequence[dict], n_resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Shares of Fail / Pass / Excellent over parsed ratings, with bootstrap intervals over prompts."""
    labels = [i["label"] for i in items]
    shares = _shares(labels, ABSOLUTE_LABELS)
    groups = [[i["label"] for i in group] for group in _grouped(items)]
    if any(label in ABSOLUTE_LABELS for label in labels) and n_resamples:
        low, high = _bootstrap(groups, lambda sample: _shares(sample, ABSOLUTE_LABELS), n_resamples, seed)
        intervals = {name: [float(low[i]), float(high[i])] for i, name in enumerate(ABSOLUTE_LABELS)}
    else:
        intervals = {name: [math.nan, math.nan] for name in ABSOLUTE_LABELS}
    return {
        "n": sum(label in ABSOLUTE_LABELS for label in labels),
        "unparsed": sum(label is None for label in labels),
        "counts": {name: labels.count(name) for name in ABSOLUTE_LABELS},
        "rates": dict(zip(ABSOLUTE_LABELS, shares)),
        "intervals_95": intervals,
    }


def length_summary(texts: Sequence[str]) -> dict[str, float]:
    """Mean and median length of answers in characters and words."""
    if not texts:
        return {"n": 0}
    chars = [len(t) for t in texts]
    words = [len(t.split()) for t in texts]
    return {
        "n": len(texts),
        "mean_chars": statistics.fmean(chars),
        "median_chars": statistics.median(chars),
        "mean_words": statistics.fmean(words),
        "median_words": statistics.median(words),
    }
