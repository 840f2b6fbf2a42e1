"""Selection strategies and their registry, :data:`STRATEGIES`; a selection is a list of steps.

A step is ``{"strategy": NAME, "n": COUNT, ...parameters}`` (``SelectionConfig.steps``; a plain
``--strategy NAME`` is the one-step list). Each step receives the rows left by the previous one, in quality
order (best first), and returns the rows it keeps, in the order chosen. Only the last step may leave out
``n`` (it takes ``--n``) and only it applies the quotas; a filter (``judge_threshold``) may leave out ``n``
anywhere. So "quality threshold, then k-center" is::

    steps:
      - {strategy: judge_threshold, threshold: 4.5}
      - {strategy: k_center}

Strategies (one entry each):

- ``k_center``, ``facility_location``, ``random``: :mod:`.diversity` over the sentence embeddings.
- ``longest``: the ``n`` longest responses in tokens (Zhao et al., ICML 2024, "Long Is More for
  Alignment"), ties in a seeded order; ``max_tokens`` leaves out longer responses first.
- ``judge_threshold``: keep the candidates an LLM judge graded ``>= threshold`` (AlpaGasus, Chen et al.
  2023); grades from ``--judge_scores`` or from the judge itself (cached, resumable).
- ``complexity_quality``: Deita (Liu et al., 2024): complexity x quality scores from a scorer model, the
  judge, or a file, then the embedding-distance diversity filter (a candidate enters only when its cosine
  similarity to every one already chosen is below ``similarity_threshold``).

A strategy is a class with ``name``, ``Params`` (a dataclass of its step parameters), ``needs_n`` and
``select(context, rows, n, params, groups, quotas) -> StepOutput``; adding one is a class plus one entry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lima_hf.data.selection.diversity import (
    facility_location,
    k_center_greedy,
    random_selection,
)
from lima_hf.errors import ConfigError
from lima_hf.registry import Registry

ON_MISSING = ("error", "drop")


class MissingScoresError(ConfigError):
    """A strategy needs a score that some candidates lack (never filled in)."""


@dataclass
class StepOutput:
    """``chosen``: rows kept, in the order chosen; ``rejected``: ``row -> (reason, detail)`` for rows a step
    refused outright (below a threshold, over a cap, without a score under ``on_missing: drop``)."""

    chosen: np.ndarray
    rejected: dict[int, tuple[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class SelectionContext:
    """What strategies see: the pool ``records``, the ``candidates`` (pool positions, best quality first) and
    their unit ``vectors`` (row ``r`` is ``candidates[r]``), the combined ``quality`` per pool position, the
    judge grades (``id -> grade``), an optional ``judge`` (a model judge) and the ``cache_dir`` of judgments
    and scores, and the ``seed``."""

    records: Sequence[dict]
    candidates: np.ndarray
    vectors: np.ndarray
    quality: np.ndarray
    seed: int
    judge_scores: dict[str, float] | None = None
    judge: Any = None
    judge_template: str | None = None
    judge_retries: int = 2
    cache_dir: Path | None = None
    show_progress: bool = False

    def record(self, row: int) -> dict:
        return self.records[int(self.candidates[row])]

    def ids(self, rows: Sequence[int]) -> list[str]:
        return [str(self.record(r)["id"]) for r in rows]


def _missing_message(what: str, ids: Sequence[str], hint: str) -> str:
    shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    return f"{len(ids)} candidates have no {what}: {shown}. {hint}"


def take_in_order(order: Sequence[int], n: int, groups: Sequence[str] | None,
                  quotas: Mapping[str, int] | None) -> np.ndarray:
    """The first ``n`` of ``order`` that fit their group's quota (all of ``order`` may be walked)."""
    left = dict(quotas) if quotas is not None else None
    chosen = []
    for row in order:
        if len(chosen) >= n:
            break
        if left is not None:
            group = groups[row]
            if left.get(group, 0) <= 0:
                continue
            left[group] -= 1
        chosen.append(int(row))
    return np.array(chosen, dtype=np.int64)


def _sub(values: Sequence[str] | None, rows: np.ndarray) -> list[str] | None:
    return None if values is None else [values[r] for r in rows]


class Strategy:
    """Base of every strategy; see the module docstring."""

    name = "strategy"
    needs_n = True

    @dataclass
    class Params:
        pass

    def select(self, context: SelectionContext, rows: np.ndarray, n: int | None, params,
               groups: Sequence[str] | None, quotas: Mapping[str, int] | None) -> StepOutput:
        raise NotImplementedError


class KCenter(Strategy):
    """Greedy farthest-point traversal (2-approximation of the k-center radius)."""

    name = "k_center"

    @dataclass
    class Params:
        quality_weight: float | None = None  # None: --quality_weight

    def select(self, context, rows, n, params, groups, quotas):
        weights = None
        weight = params.quality_weight
        if weight:
            weights = np.maximum((1 - weight) + weight * context.quality[context.candidates[rows]], 1e-3)
        chosen = k_center_greedy(context.vectors[rows], n, groups=_sub(groups, rows), quotas=quotas, weights=weights)
        return StepOutput(rows[chosen])


class FacilityLocation(Strategy):
    """Lazy greedy facility location over a k-nearest-neighbour graph."""

    name = "facility_location"

    @dataclass
    class Params:
        neighbours: int | None = None  # None: --neighbours
        index: Any = None  # set by the pipeline: a prebuilt NeighbourIndex over exactly these rows

    def select(self, context, rows, n, params, groups, quotas):
        chosen = facility_location(context.vectors[rows], n, groups=_sub(groups, rows), quotas=quotas,
                                   neighbours=params.neighbours, index=params.index)
        return StepOutput(rows[chosen])


class Random(Strategy):
    """Uniform draws with the seed (the baseline)."""

    name = "random"

    def select(self, context, rows, n, params, groups, quotas):
        chosen = random_selection(len(rows), n, seed=context.seed, groups=_sub(groups, rows), quotas=quotas)
        return StepOutput(rows[chosen])


def response_token_counts(records: Sequence[dict], tokenizer: str) -> list[int]:
    """Tokens of each record's assistant turns: ``tokenizer`` is ``whitespace`` (words), ``bundled`` or any
    tokenizer by path/Hub id (no special tokens)."""
    from lima_hf.data.selection.embeddings import response_text

    texts = [response_text(r) for r in records]
    if tokenizer == "whitespace":
        return [len(t.split()) for t in texts]
    from lima_hf.data.card import load_tokenizer

    loaded, _ = load_tokenizer(tokenizer)
    return [len(ids) for ids in loaded(texts, add_special_tokens=False)["input_ids"]]


class Longest(Strategy):
    """The ``n`` longest responses in tokens (Zhao et al., 2024); ties in a seeded random order."""

    name = "longest"

    @dataclass
    class Params:
        tokenizer: str = "bundled"  # 'whitespace' (words), 'bundled' or a tokenizer path/Hub id
        max_tokens: int | None = None  # leave out responses longer than this first (None: no cap)

    def select(self, context, rows, n, params, groups, quotas):
        counts = np.array(response_token_counts([context.record(r) for r in rows], params.tokenizer))
        rejected = {}
        eligible = np.ones(len(rows), dtype=bool)
        if params.max_tokens is not None:
            eligible = counts <= params.max_tokens
            for i in np.flatnonzero(~eligible):
                rejected[int(rows[i])] = ("longest_over_cap",
                                          f"response {counts[i]} tokens > max_tokens {params.max_tokens}")
        tiebreak = np.random.default_rng(context.seed).permutation(len(rows))
        order = np.lexsort((tiebreak, -counts))
        order = order[eligible[order]]
        chosen = take_in_order(order, n, _sub(groups, rows), quotas)
        return StepOutput(rows[chosen] if len(chosen) else np.array([], dtype=np.int64), rejected)


def _grade_with_judge(context: SelectionContext, rows: Sequence[int]) -> dict[str, float]:
    """Grade ``rows`` with the context's judge on the paper's Likert rubric (cached, resumable)."""
    from lima_hf.data.selection.judge_grades import judge_candidates

    if context.cache_dir is None:
        raise ConfigError("grading with a judge needs a cache folder for its judgments")
    grades, _ = judge_candidates([context.record(r) for r in rows], context.judge,
                                 context.cache_dir / "likert.jsonl", template=context.judge_template,
                                 retries=context.judge_retries, progress=context.show_progress)
    return grades


class JudgeThreshold(Strategy):
    """AlpaGasus: keep the candidates whose judge grade is ``>= threshold``; with ``n``, the ``n`` best graded."""

    name = "judge_threshold"
    needs_n = False

    @dataclass
    class Params:
        threshold: float = 4.5  # AlpaGasus: 4.5 (its 0-5 scale); on the 1-6 Likert scale it keeps 5 and 6
        on_missing: str = "error"  # a candidate without a grade: 'error' (name it) or 'drop' (report it)

    def select(self, context, rows, n, params, groups, quotas):
        grades = dict(context.judge_scores or {})
        missing = [r for r in rows if str(context.record(r)["id"]) not in grades]
        if missing and context.judge is not None:
            grades.update(_grade_with_judge(context, missing))
            if context.judge_scores is not None:
                context.judge_scores.update(grades)
            missing = [r for r in rows if str(context.record(r)["id"]) not in grades]
        rejected: dict[int, tuple[str, str]] = {}
        if missing:
            if params.on_missing == "error":
                raise MissingScoresError(_missing_message(
                    "judge grade", context.ids(missing),
                    "Grade them (--judge_scores FILE, or --judge_candidates with a judge; unparsed judge replies "
                    "are listed in the judgments cache), or pass on_missing: drop in the judge_threshold step.",
                ))
            for r in missing:
                rejected[int(r)] = ("no_judge_grade", "the judge gave no readable grade")
        kept, scores = [], []
        for r in rows:
            grade = grades.get(str(context.record(r)["id"]))
            if grade is None:
                continue
            if grade >= params.threshold:
                kept.append(int(r))
                scores.append(grade)
            else:
                rejected[int(r)] = ("below_judge_threshold", f"judge grade {grade:g} < {params.threshold:g}")
        kept_rows = np.array(kept, dtype=np.int64)
        if n is None:
            return StepOutput(kept_rows, rejected)
        order = np.argsort(-np.array(scores), kind="stable")  # best graded first; ties keep the quality order
        chosen = take_in_order(order, n, _sub(groups, kept_rows) if groups is not None else None, quotas)
        return StepOutput(kept_rows[chosen] if len(chosen) else kept_rows[:0], rejected)


class ComplexityQuality(Strategy):
    """Deita: rank by complexity x quality, then add a candidate only if its cosine similarity to every one
    already chosen is below ``similarity_threshold``."""

    name = "complexity_quality"

    @dataclass
    class Params:
        scorer: str | None = None  # a scorer model (path/Hub id; with quality_scorer: complexity only) or 'judge'
        quality_scorer: str | None = None  # Deita's second model, for the quality score
        scores: str | None = None  # or a JSONL of {"id", "complexity", "quality"}
        similarity_threshold: float = 0.9  # Deita's tau
        on_missing: str = "error"
        max_length: int = 2048  # scorer model: tokens read per prompt (longer inputs keep their end)

    def select(self, context, rows, n, params, groups, quotas):
        from lima_hf.data.selection import scorers

        records = [context.record(r) for r in rows]
        if params.scores:
            scores, failures = scorers.load_scores(params.scores), []
        elif params.scorer == "judge":
            if context.judge is None:
                raise ConfigError("complexity_quality with scorer: judge needs a judge (--judge http|local "
                                  "--judge_model ...)")
            scores, failures = scorers.judge_scores(records, context.judge, context.cache_dir,
                                                   retries=context.judge_retries, progress=context.show_progress)
        else:
            scores, failures = scorers.model_scores(records, params.scorer, context.cache_dir,
                                                   max_length=params.max_length, progress=context.show_progress,
                                                   quality_scorer=params.quality_scorer)
        rejected: dict[int, tuple[str, str]] = {}
        failed = {f["id"]: f["error"] for f in failures}
        missing = [r for r in rows if str(context.record(r)["id"]) not in scores]
        if missing:
            if params.on_missing == "error":
                ids = context.ids(missing)
                reasons = "; ".join(f"{i}: {failed[i]}" for i in ids[:3] if i in failed)
                raise MissingScoresError(_missing_message(
                    "complexity/quality score", ids,
                    (f"Scorer errors: {reasons}. " if reasons else "")
                    + "Score them, or pass on_missing: drop in the complexity_quality step.",
                ))
            for r in missing:
                rid = str(context.record(r)["id"])
                rejected[int(r)] = ("no_complexity_quality_score", failed.get(rid, "no score"))
        scored = np.array([r for r in rows if str(context.record(r)["id"]) in scores], dtype=np.int64)
        evol = np.array([scores[str(context.record(r)["id"])]["complexity"]
                         * scores[str(context.record(r)["id"])]["quality"] for r in scored])
        order = scored[np.argsort(-evol, kind="stable")] if len(scored) else scored
        left = dict(quotas) if quotas is not None else None
        chosen: list[int] = []
        skipped = 0
        for row in order:
            if len(chosen) >= n:
                break
            if left is not None and left.get(groups[row], 0) <= 0:
                continue
            if chosen and float(np.max(context.vectors[chosen] @ context.vectors[row])) >= params.similarity_threshold:
                skipped += 1
                continue
            chosen.append(int(row))
            if left is not None:
                left[groups[row]] -= 1
        notes = [(f"complexity_quality: {skipped} candidates passed over for cosine >= "
                  f"{params.similarity_threshold} to one already chosen")] if skipped else []
        return StepOutput(np.array(chosen, dtype=np.int64), rejected, notes)


def _check_strategy(name: str, entry) -> None:
    if not (isinstance(entry, type) and issubclass(entry, Strategy) and dataclasses.is_dataclass(entry.Params)):
        raise TypeError(f"selection strategy {name!r} must be a Strategy subclass with a Params dataclass")


STRATEGIES: Registry[type[Strategy]] = Registry("selection strategy", {
    KCenter.name: KCenter,
    FacilityLocation.name: FacilityLocation,
    Random.name: Random,
    Longest.name: Longest,
    JudgeThreshold.name: JudgeThreshold,
    ComplexityQuality.name: ComplexityQuality,
}, check=_check_strategy)


@dataclass
class Step:
    """One parsed step: the strategy, its ``n`` (``None``: the last step's ``--n``, or a filter) and params."""

    strategy: str
    n: int | None
    params: Any

    def describe(self) -> str:
        shown = {k: v for k, v in dataclasses.asdict(self.params).items() if v is not None and k != "index"}
        inner = ", ".join([*([f"n={self.n}"] if self.n is not None else []), *(f"{k}={v}" for k, v in shown.items())])
        return f"{self.strategy}({inner})"


def parse_steps(spec: Sequence[Mapping[str, Any]]) -> list[Step]:
    """Check a list of ``{"strategy", "n"?, ...params}`` mappings; errors name the step and the key."""
    if not isinstance(spec, (list, tuple)) or not spec:
        raise ValueError("steps must be a non-empty list of {strategy: NAME, ...} mappings")
    steps = []
    for number, item in enumerate(spec, start=1):
        if not isinstance(item, Mapping) or "strategy" not in item:
            raise ValueError(f"step {number}: expected a mapping with 'strategy', not {item!r}")
        name = item["strategy"]
        try:
            strategy = STRATEGIES.get(name)
        except ConfigError as err:
            raise ValueError(f"step {number}: {err}") from None
        allowed = [f.name for f in dataclasses.fields(strategy.Params) if f.name != "index"]
        unknown = sorted(set(item) - {"strategy", "n", *allowed})
        if unknown:
            raise ValueError(f"step {number} ({name}): unknown key(s) {', '.join(unknown)} "
                             f"(allowed: n, {', '.join(allowed) or '-'})")
        n = item.get("n")
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
            raise ValueError(f"step {number} ({name}): n must be a positive integer, not {n!r}")
        if n is None and strategy.needs_n and number < len(spec):
            raise ValueError(f"step {number} ({name}) needs n: only the last step takes --n")
        params = strategy.Params(**{k: v for k, v in item.items() if k not in ("strategy", "n")})
        if getattr(params, "on_missing", "error") not in ON_MISSING:
            raise ValueError(f"step {number} ({name}): on_missing must be one of {', '.join(ON_MISSING)}")
        if name == "complexity_quality" and (params.scorer is None) == (params.scores is None):
            raise ValueError(f"step {number} (complexity_quality): give exactly one of scorer (a model path/Hub "
                             "id, or 'judge') and scores (a JSONL file)")
        if name == "complexity_quality" and params.quality_scorer and params.scorer in (None, "judge"):
            raise ValueError(f"step {number} (complexity_quality): quality_scorer goes with a scorer model "
                             "(scorer: the complexity model)")
        steps.append(Step(name, n, params))
    return steps
