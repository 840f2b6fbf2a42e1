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


def turn_end_probabilities(model, tokenizer, conversations, eot_token: str | None = None) -> list[dict[str, float]]:
    """For each conversation, the probability the model gives its end-of-turn token where the last
    assistant reply ends (teacher forcing, in eval mode), and the probability of the model's other stop
    tokens there (e.g. the EOS it had before the EOT): ``[{"eot": p, "other_stop": q}, ...]``."""
    import torch

    from lima_hf.chat import eot_token_from_template

    eot_id = tokenizer.convert_tokens_to_ids(eot_token or eot_token_from_template(tokenizer.chat_template))
    configured = model.generation_config.eos_token_id
    others = [i for i in (configured if isinstance(configured, list) else [configured]) if i not in (None, eot_id)]
    results = []
    model.eval()
    for messages in conversations:
        ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
        if ids[-1] != eot_id:
            raise ValueError("the conversation does not end with the end-of-turn token")
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([ids[:-1]], device=model.device)).logits[0, -1].float()
        probs = torch.softmax(logits, dim=-1)
        results.append({"eot": probs[eot_id].item(), "other_stop": probs[others].sum().item() if others else 0.0})
    return results


def answer_loss(model, tokenizer, conversations) -> float:
    """Mean cross-entropy (nats per token) of ``model`` on the assistant replies of ``conversations``, each
    with its end-of-turn token, as the trainer's loss counts them (eval mode, no dropout)."""
    import torch

    total, count = 0.0, 0
    model.eval()
    for messages in conversations:
        encoded = tokenizer.apply_chat_template(
            messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
        ids, mask = encoded["input_ids"], encoded["assistant_masks"]
        labels = torch.tensor([[token if keep else -100 for token, keep in zip(ids, mask)]], device=model.device)
        with torch.inference_mode():
            out = model(input_ids=torch.tensor([ids], device=model.device), labels=labels)
        n = int((labels[0, 1:] != -100).sum())
        total, count = total + out.loss.item() * n, count + n
    return total / max(count, 1)


def stop_summary(records) -> dict[str, float]:
    """Stop rate and length of answers written by :func:`~lima_hf.evaluation.generation.generate_responses`:
    ``{"answers", "stop_rate" (ended by a stop token), "mean_new_tokens"}``."""
    records = list(records)
    stopped = sum(1 for r in records if r["finish_reason"][-1] != "length")
    return {
        "answers": len(records),
        "stop_rate": stopped / len(records) if records else 0.0,
        "mean_new_tokens": sum(r["new_tokens"][-1] for r in records) / len(records) if records else 0.0,
    }


def _prepared_like(source, eot_init: str):
    """``(model, tokenizer)`` of ``source``; a model without the LIMA chat format gets it (untrained EOT row
    started by ``eot_init``), so that it answers in the same format as the fine-tuned model."""
    from lima_hf.chat import eot_token_from_template, setup_eot_chat_format

    model, tokenizer = load_generation_model(source)
    try:
        eot_token_from_template(tokenizer.chat_template)
    except ValueError:
        model, tokenizer = setup_eot_chat_format(model, tokenizer, eot_init=eot_init)
    return model, tokenizer


def run_quick_evaluation(
    model: str | os.PathLike,
    prompts: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    baseline_model: str | os.PathLike | None = None,
    judge_model: str | os.PathLike | None = None,
    num_prompts: int | None = None,
    max_new_tokens: int = 256,
    split: str = "test",
    eot_init: str = "eos",
    progress: bool = True,
) -> dict[str, Any]:
    """Answer ``num_prompts`` prompts (default: all) of the ``split`` of ``prompts`` with ``model`` and with
    ``baseline_model`` (default: the bundled base model), then judge them with a local ``judge_model``
    (default: the bundled model) in ``choice`` mode: pairwise preference (both orders) and Likert helpfulness.

    A baseline without LIMA's chat format answers in it, its new EOT row started as ``eot_init`` says: it is
    then the fine-tune's starting point, and the two differ only by training. Writes
    ``answers/{model,baseline}.jsonl``, ``pairwise/`` and ``likert/`` report folders (JSON, Markdown, PNG)
    under ``output_dir``; returns ``{"answers", "baseline_answers", "pairwise", "likert", "systems"}`` where
    ``systems`` holds, per system, the stop rate and mean length of its answers (:func:`stop_summary`) and
    its loss on the validation replies of ``prompts`` when it is a dataset folder with that split
    (:func:`answer_loss`). A small judge is a weak judge: this shows the pipeline, not a reliable result.
    """
    from lima_hf.evaluation.judges.local import TransformersJudge
    from lima_hf.models import bundled_model_path

    output_dir = Path(output_dir)
    baseline_model = baseline_model or bundled_model_path()
    judge_model = judge_model or bundled_model_path()
    chosen = load_prompts(prompts, split=split, limit=num_prompts)
    sampling = SamplingConfig(max_new_tokens=max_new_tokens, batch_size=len(chosen))
    validation = _validation_conversations(prompts)
    paths, systems = {}, {}
    for name, source in (("model", model), ("baseline", baseline_model)):
        loaded, tokenizer = _prepared_like(source, eot_init)
        paths[name] = output_dir / "answers" / f"{name}.jsonl"
        records = generate_responses(loaded, tokenizer, chosen, paths[name], sampling, model_name=str(source),
                                     progress=progress, overwrite=True)  # an earlier quickstart's answers are made anew
        systems[name] = stop_summary(records)
        if validation:
            systems[name]["validation_loss"] = answer_loss(loaded, tokenizer, validation)
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
        "systems": systems,
    }


def _validation_conversations(prompts) -> list[list[dict]]:
    """The validation split's conversations of a dataset folder, or [] for other prompt sources."""
    from lima_hf.data.dataset_folder import is_dataset_folder
    from lima_hf.data.loading import read_records
    from lima_hf.data.records import VALIDATION_SPLIT

    path = Path(prompts)
    if not (path.is_dir() and is_dataset_folder(path)):
        return []
    try:
        rows = read_records(path, split=VALIDATION_SPLIT)
    except (ValueError, KeyError):  # no validation split
        return []
    return [list(row["messages"]) for row in rows if row.get("messages")]
