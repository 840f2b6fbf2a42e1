"""The optional LLM-judge quality signal: grade each candidate's answer on the paper's 1-6 Likert
helpfulness rubric with any judge of :mod:`lima_hf.evaluation.judges` (an OpenAI-compatible endpoint or a
local transformers model), as score-then-filter selection methods do; the grades then enter the combined
quality score (``weight_judge``) and ``min_quality`` filters on it."""

from __future__ import annotations

import os
from collections.abc import Sequence

from lima_hf.data.selection.embeddings import prompt_text, response_text


def judge_candidates(
    records: Sequence[dict],
    judge,
    cache_path: str | os.PathLike,
    *,
    template: str | None = None,
    retries: int = 2,
    progress: bool = True,
) -> tuple[dict[str, float], list[dict]]:
    """``(id -> Likert grade, unparsed)``: each record's grade, and the records whose judge reply could not
    be parsed after ``retries`` re-asks (no grade: the judge signal is simply absent for them).

    Judgments are cached in ``cache_path`` (JSON lines), so an interrupted run resumes where it stopped.
    """
    from lima_hf.evaluation.protocols.likert import Likert

    items = [{"id": r["id"], "sample": 0, "prompt": prompt_text(r), "response": response_text(r)} for r in records]
    graded = Likert.grade(items, judge, cache_path, template=template, retries=retries, progress=progress)
    scores = {item["id"]: float(item["score"]) for item in graded if item["score"] is not None}
    unparsed = [{"id": item["id"], "reply": item["reply"]} for item in graded if item["score"] is None]
    return scores, unparsed
