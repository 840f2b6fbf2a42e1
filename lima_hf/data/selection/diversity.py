"""Choose ``n`` candidates that spread over the embedding space, optionally under per-group quotas.

- :func:`k_center_greedy` (farthest-point traversal): repeatedly take the candidate farthest (cosine
  distance) from everything chosen so far. It is a 2-approximation of the k-center objective, the radius
  within which every pool candidate has a chosen one, so rare regions of the pool get represented.
- :func:`facility_location`: greedily maximise ``sum_i max_{j in S} sim(i, j)`` over a k-nearest-neighbour
  graph (lazy greedy, a (1 - 1/e)-approximation without quotas). It follows the pool's density: dense
  regions get more picks, outliers fewer.
- :func:`random_selection`: the baseline, uniformly at random.

All three walk candidates in a fixed priority order (the quality ranking) to break ties, so with the same
inputs they return the same selection. Quotas are a partition constraint: once a group has its count, its
remaining candidates are no longer eligible.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence

import numpy as np

from lima_hf.data.selection.index import NeighbourIndex


def _group_codes(groups: Sequence[str] | None, n_items: int, quotas: Mapping[str, int] | None):
    """Group code per item and remaining capacity per code (items of groups without a quota: capacity 0)."""
    if quotas is None:
        return np.zeros(n_items, dtype=np.int64), np.array([n_items])
    names = sorted(set(groups) | set(quotas))
    lookup = {name: code for code, name in enumerate(names)}
    codes = np.fromiter((lookup[g] for g in groups), dtype=np.int64, count=n_items)
    return codes, np.array([quotas.get(name, 0) for name in names])


def _check(embeddings: np.ndarray, n: int, groups, quotas) -> int:
    if n < 0:
        raise ValueError(f"n must be >= 0, not {n}")
    if quotas is not None and (groups is None or len(groups) != len(embeddings)):
        raise ValueError("quotas need one group label per candidate")
    limit = len(embeddings) if quotas is None else sum(quotas.values())
    return min(n, limit, len(embeddings))


def k_center_greedy(
    embeddings: np.ndarray,
    n: int,
    *,
    priority: np.ndarray | None = None,
    groups: Sequence[str] | None = None,
    quotas: Mapping[str, int] | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Positions of ``n`` candidates chosen by farthest-point traversal, in the order chosen.

    ``priority``: positions best first; the first pick is the best eligible candidate and ties go to the
    better one. ``weights``: optional per-candidate multipliers of the distance (e.g. quality), so a pick
    maximises ``distance * weight``.
    """
    n = _check(embeddings, n, groups, quotas)
    size = len(embeddings)
    order = np.arange(size) if priority is None else np.asarray(priority, dtype=np.int64)
    # row r = candidate order[r]; without a priority the input is used as is (no copy of a large pool)
    vectors = np.ascontiguousarray(embeddings if priority is None else embeddings[order], dtype=np.float32)
    codes, capacity = _group_codes(None if groups is None else [groups[i] for i in order], size, quotas)
    factor = None if weights is None else np.asarray(weights, dtype=np.float32)[order]
    eligible = capacity[codes] > 0
    distance = np.full(size, np.inf, dtype=np.float32)
    chosen = []
    for _ in range(n):
        if not eligible.any():
            break
        if not chosen:
            row = int(np.argmax(eligible))  # first pick: the best eligible candidate
        else:
            key = np.where(eligible, distance if factor is None else distance * factor, -np.inf)
            row = int(np.argmax(key))  # argmax takes the first (best-ranked) of ties
        chosen.append(row)
        eligible[row] = False
        capacity[codes[row]] -= 1
        if capacity[codes[row]] == 0:
            eligible &= codes != codes[row]
        np.minimum(distance, 1.0 - vectors @ vectors[row], out=distance)
    return order[np.array(chosen, dtype=np.int64)]


def facility_location(
    embeddings: np.ndarray,
    n: int,
    *,
    priority: np.ndarray | None = None,
    groups: Sequence[str] | None = None,
    quotas: Mapping[str, int] | None = None,
    neighbours: int = 32,
    index: NeighbourIndex | None = None,
) -> np.ndarray:
    """Positions of ``n`` candidates chosen by lazy greedy facility location, in the order chosen.

    Similarities are those of each candidate's ``neighbours`` nearest neighbours (from ``index``, built on
    demand), clipped at zero; a candidate covers the points that have it among their neighbours.
    """
    n = _check(embeddings, n, groups, quotas)
    size = len(embeddings)
    order = np.arange(size) if priority is None else np.asarray(priority, dtype=np.int64)
    rank = np.empty(size, dtype=np.int64)
    rank[order] = np.arange(size)
    codes, capacity = _group_codes(groups, size, quotas)
    index = index if index is not None else NeighbourIndex(embeddings)
    sims, ids = index.search(embeddings, min(neighbours, size))
    points = np.repeat(np.arange(size), ids.shape[1])
    covers, gains = ids.ravel(), np.maximum(sims.ravel(), 0.0)
    valid = covers >= 0
    points, covers, gains = points[valid], covers[valid], gains[valid]
    by_cover = np.argsort(covers, kind="stable")
    points, covers, gains = points[by_cover], covers[by_cover], gains[by_cover]
    starts = np.searchsorted(covers, np.arange(size + 1))

    best = np.zeros(size, dtype=np.float32)  # each point's similarity to its closest chosen candidate

    def gain(j: int) -> float:
        lo, hi = starts[j], starts[j + 1]
        return float(np.maximum(gains[lo:hi] - best[points[lo:hi]], 0.0).sum())

    heap = [(-gain(j), int(rank[j]), int(j)) for j in range(size) if capacity[codes[j]] > 0]
    heapq.heapify(heap)
    chosen: list[int] = []
    while heap and len(chosen) < n:
        _, r, j = heapq.heappop(heap)
        if capacity[codes[j]] == 0:
            continue
        current = gain(j)
        if heap and current < -heap[0][0]:  # stale bound: re-insert with the fresh gain
            heapq.heappush(heap, (-current, r, j))
            continue
        chosen.append(j)
        capacity[codes[j]] -= 1
        lo, hi = starts[j], starts[j + 1]
        np.maximum.at(best, points[lo:hi], gains[lo:hi])
    return np.array(chosen, dtype=np.int64)


def random_selection(
    size: int,
    n: int,
    *,
    seed: int,
    groups: Sequence[str] | None = None,
    quotas: Mapping[str, int] | None = None,
) -> np.ndarray:
    """Positions of ``n`` of ``size`` candidates drawn uniformly at random (within each group's quota)."""
    n = _check(np.empty((size, 0)), n, groups, quotas)
    codes, capacity = _group_codes(groups, size, quotas)
    chosen = []
    for position in np.random.default_rng(seed).permutation(size):
        if len(chosen) == n:
            break
        if capacity[codes[position]] > 0:
            chosen.append(position)
            capacity[codes[position]] -= 1
    return np.array(chosen, dtype=np.int64)
