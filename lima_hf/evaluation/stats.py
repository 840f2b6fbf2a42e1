"""The report figures as plain functions (numpy and the standard library only, so that the ``evaluate``
metric modules can ship this file): label shares with bootstrap intervals over prompts, the pairwise
outcome rules and judge-quality figures (position bias, order agreement, length-controlled win rate), the
Likert mean with its 95% interval, absolute-rating shares, answer lengths.

Bootstrap intervals resample *prompts* (all samples and both orders of a prompt move together), 1,000
times by default, and take the 2.5th and 97.5th percentiles. The Likert interval is the paper's "p = 0.95
two-sided confidence interval" of the mean over prompts x samples: mean +- 1.96 x sd / sqrt(n), with the
sample standard deviation (n - 1). The length-controlled win rate follows AlpacaEval 2: a logistic
regression of the preference (win 1, tie 0.5, loss 0) on the answers' length difference, ``logit p = b0 +
b1 * tanh(d / sd(d))`` with ``d`` = our characters minus the baseline's and ``sd`` its sample standard
deviation, read at zero difference (``sigmoid(b0)``): AlpacaEval's ``length_controlled_minimal`` model. Its
default ``length_controlled_v1`` adds a per-instruction difficulty term fitted on AlpacaEval's own 805
instructions and a regularisation towards its baseline's weights, neither of which exists for other prompt
sets; it fits with scikit-learn's L1 ``LogisticRegressionCV`` where we use Newton's method with a tiny ridge.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .parsing import A_BETTER, ABSOLUTE_LABELS, B_BETTER, NEITHER  # relative: the metric modules ship this file

OUTCOMES = ("win", "tie", "loss")
ORDERS = ("ours_first", "baseline_first")
Z_95 = 1.959963984540054

def bootstrap(groups: Sequence[Sequence[Any]], statistic, n_resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """2.5th and 97.5th percentiles of ``statistic`` over ``n_resamples`` resamples of ``groups``."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_resamples):
        picked = rng.integers(0, len(groups), size=len(groups))
        values.append(statistic([item for i in picked for item in groups[i]]))
    values = np.asarray(values, dtype=float)
    return np.nanpercentile(values, 2.5, axis=0), np.nanpercentile(values, 97.5, axis=0)


def grouped(items: Iterable[dict], key: str = "id") -> list[list[dict]]:
    """``items`` grouped by ``key`` (a prompt's samples together), in first-seen order."""
    groups: dict[Any, list[dict]] = {}
    for item in items:
        groups.setdefault(item[key], []).append(item)
    return list(groups.values())


def shares(outcomes: Sequence[Any], labels: Sequence[Any]) -> list[float]:
    """The share of each label among the outcomes that are one of ``labels`` (NaN when none is)."""
    parsed = [o for o in outcomes if o in labels]
    if not parsed:
        return [math.nan] * len(labels)
    return [sum(o == label for o in parsed) / len(parsed) for label in labels]


def bootstrap_shares(groups: Sequence[Sequence[Any]], labels: Sequence[Any], n_resamples: int, seed: int) -> dict:
    """``label -> [low, high]``: bootstrap 95% intervals of each label's share, resampling ``groups``."""
    if not n_resamples or not any(o in labels for group in groups for o in group):
        return {label: [math.nan, math.nan] for label in labels}
    low, high = bootstrap(groups, lambda sample: shares(sample, labels), n_resamples, seed)
    return {label: [float(low[i]), float(high[i])] for i, label in enumerate(labels)}


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


def ours_perspective(label: str | None, ours_first: bool) -> str | None:
    """A judge label on one order, as a win/tie/loss of the first-named system ("ours")."""
    if label is None:
        return None
    if label == NEITHER:
        return "tie"
    return "win" if (label == A_BETTER) == ours_first else "loss"


def pair_outcome(pair: dict) -> str:
    """The outcome of a pair from the orders it was judged in (``ours_first`` and/or ``baseline_first``
    keys; an order never judged is absent, an unreadable verdict is ``None``): agreement keeps the verdict,
    disagreement is a tie; ``"unparsed"`` when an order has no readable label."""
    verdicts = [ours_perspective(pair[order], order == "ours_first") for order in ORDERS if order in pair]
    if not verdicts or None in verdicts:
        return "unparsed"
    return verdicts[0] if all(v == verdicts[0] for v in verdicts) else "tie"


def combine_orders(ours_first: str | None, baseline_first: str | None) -> str:
    """The outcome of a pair judged in both orders (see :func:`pair_outcome`)."""
    return pair_outcome({"ours_first": ours_first, "baseline_first": baseline_first})


def length_controlled_win_rate(pairs: Sequence[dict], iterations: int = 50) -> dict[str, float]:
    """AlpacaEval-2-style length control (module docstring): ``{"raw", "length_controlled", "slope", "n"}``.

    ``raw`` is the mean preference (win 1, tie 0.5, loss 0); ``length_controlled`` the fitted preference at
    zero length difference. Fitted by Newton's method on the Bernoulli likelihood with fractional targets
    (a tiny ridge keeps it finite when one side always wins).
    """
    rows = [p for p in pairs if p["outcome"] in OUTCOMES and "ours_response" in p and "baseline_response" in p]
    if not rows:
        return {"n": 0, "raw": math.nan, "length_controlled": math.nan, "slope": math.nan}
    y = np.array([{"win": 1.0, "tie": 0.5, "loss": 0.0}[p["outcome"]] for p in rows])
    diff = np.array([len(p["ours_response"]) - len(p["baseline_response"]) for p in rows], float)
    scale = (diff.std(ddof=1) if len(rows) > 1 else 0.0) or 1.0
    x = np.column_stack([np.ones(len(rows)), np.tanh(diff / scale)])
    beta = np.zeros(2)
    ridge = 1e-3 * np.eye(2)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ beta)))
        gradient = x.T @ (y - p) - ridge @ beta
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    return {"n": len(rows), "raw": float(y.mean()), "length_controlled": float(1 / (1 + math.exp(-beta[0]))),
            "slope": float(beta[1])}


def preference_summary(pairs: Sequence[dict], n_resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Figures of a pairwise comparison from judged pairs (``id``, ``outcome``, judged orders' labels).

    Rates are over parsed pairs; ``unparsed`` counts pairs left out because a verdict was unreadable.
    ``position``: how often the answer shown first won among decisive single-order verdicts;
    ``agreement``: share of pairs judged in both orders whose two verdicts agree; ``length_control``: see
    :func:`length_controlled_win_rate`.
    """
    outcomes = [p["outcome"] for p in pairs]
    counts = {name: outcomes.count(name) for name in (*OUTCOMES, "unparsed")}
    rates = dict(zip(OUTCOMES, shares(outcomes, OUTCOMES)))
    groups = [[p["outcome"] for p in group] for group in grouped(pairs)]
    intervals = bootstrap_shares(groups, OUTCOMES, n_resamples, seed)
    verdicts = [p.get(order) for p in pairs for order in ORDERS]
    decisive = [v for v in verdicts if v in (A_BETTER, B_BETTER)]
    judged_both = [p for p in pairs if p.get("ours_first") is not None and p.get("baseline_first") is not None]
    agree = [ours_perspective(p["ours_first"], True) == ours_perspective(p["baseline_first"], False) for p in judged_both]
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
        "length_control": length_controlled_win_rate(pairs),
        "lengths": {
            "ours": length_summary([p["ours_response"] for p in pairs if "ours_response" in p]),
            "baseline": length_summary([p["baseline_response"] for p in pairs if "baseline_response" in p]),
        },
    }


def _clip(value: float, low: float, high: float) -> float:
    return value if math.isnan(value) else min(high, max(low, value))


def likert_summary(scores: Sequence[int | None]) -> dict[str, Any]:
    """Mean 1-6 score over parsed scores with its 95% interval (clipped to 1-6); ``unparsed`` counts
    unreadable replies."""
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
        "interval_95": [_clip(mean - half, 1.0, 6.0), _clip(mean + half, 1.0, 6.0)],
        "histogram": {str(level): parsed.count(level) for level in range(1, 7)},
    }


def absolute_summary(items: Sequence[dict], n_resamples: int = 1000, seed: int = 0, key: str = "label") -> dict:
    """Shares of Fail / Pass / Excellent over parsed ratings, with bootstrap intervals over prompts."""
    labels = [i[key] for i in items]
    groups = [[i[key] for i in group] for group in grouped(items)]
    return {
        "n": sum(label in ABSOLUTE_LABELS for label in labels),
        "unparsed": sum(label is None for label in labels),
        "counts": {name: labels.count(name) for name in ABSOLUTE_LABELS},
        "rates": dict(zip(ABSOLUTE_LABELS, shares(labels, ABSOLUTE_LABELS))),
        "intervals_95": bootstrap_shares(groups, ABSOLUTE_LABELS, n_resamples, seed),
    }
