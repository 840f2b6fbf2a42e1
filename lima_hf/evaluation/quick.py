"""A small end-to-end evaluation for demos and the quickstart: a few test prompts, minutes on a CPU."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

from lima_hf.evaluation.generation import (
    SamplingConfig,
    generate_responses,
    load_generation_model,
)
from lima_hf.evaluation.prompt_sets import load_prompts
from lima_hf.evaluation.protocols.likert import run_likert
from lima_hf.evaluation.protocols.pairwise import run_pairwise


def run_quick_evaluation(
    model: str | os.PathLike,
    prompts: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    baseline_model: str | os.PathLike | None = None,
    judge_model: str | os.PathLike | None = None,
    num_prompts: int = 4,
    max_new_tokens: int = 64,
    split: str = "test",
    progress: bool = True,
) -> dict[str, Any]:
    """Answer ``num_prompts`` prompts of ``prompts`` with ``model`` and with ``baseline_model`` (default: the
    bundled base model), then judge them with a local ``judge_model`` (default: the bundled model) in
    ``choice`` mode: pairwise preference (both orders) and Likert helpfulness.

    Writes ``answers/{model,baseline}.jsonl``, ``pairwise/`` and ``likert/`` report folders (JSON, Markdown,
    PNG) under ``output_dir``; returns ``{"answers", "baseline_answers", "pairwise", "likert"}`` (the
    reports' figures). A small judge is a weak judge: this shows the pipeline, not a reliable result.
    """
    from lima_hf.evaluation.judges.local import TransformersJudge
    from lima_hf.models import bundled_model_path

    output_dir = Path(output_dir)
    baseline_model = baseline_model or bundled_model_path()
    judge_model = judge_model or bundled_model_path()
    chosen = load_prompts(prompts, split=split, limit=num_prompts)
    sampling = SamplingConfig(max_new_tokens=max_new_tokens, batch_size=num_prompts)
    paths = {}
    for name, source in (("model", model), ("baseline", baseline_model)):
        loaded, tokenizer = load_generation_model(source)
        paths[name] = output_dir / "answers" / f"{name}.jsonl"
        generate_responses(loaded, tokenizer, chosen, paths[name], sampling, model_name=str(source), progress=progress,
                           overwrite=True)  # answers of an earlier quickstart's model are made anew
        del loaded
        gc.collect()
    judge = TransformersJudge(judge_model, mode="choice")
    pairwise = run_pairwise(
        paths["model"],
        {"baseline": paths["baseline"]},
        output_dir / "pairwise",
        judge,
        ours_name="model",
        progress=progress,
    )
    likert = run_likert(
        {"model": paths["model"], "baseline": paths["baseline"]}, output_dir / "likert", judge, progress=progress
    )
    return {
        "answers": str(paths["model"]),
        "baseline_answers": str(paths["baseline"]),
        "pairwise": pairwise,
        "likert": likert,
    }
