"""A small end-to-end evaluation for demos and the quickstart: a few test prompts, minutes on a CPU."""

from __future__ import annotations

import gc
import json
import os
import re
from pathlib import Path
from typing import Any

from lima_hf.chat import DEFAULT_EOT_TOKEN
from lima_hf.evaluation.backends import BackendArguments
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


def answer_loss(model, tokenizer, conversations, context_length: int = 0) -> float:
    """Mean cross-entropy (nats per token) of ``model`` on the assistant replies of ``conversations``, each
    with its end-of-turn token, as the trainer's loss counts them (eval mode, no dropout). The first
    ``context_length`` tokens of every rendering (a fixed in-context prefix, e.g. :func:`urial_chat_template`'s
    examples) are not counted."""
    import torch

    total, count = 0.0, 0
    model.eval()
    for messages in conversations:
        encoded = tokenizer.apply_chat_template(
            messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
        ids, mask = encoded["input_ids"], encoded["assistant_masks"]
        labels = torch.tensor([[token if keep and n >= context_length else -100
                                for n, (token, keep) in enumerate(zip(ids, mask))]], device=model.device)
        with torch.inference_mode():
            out = model(input_ids=torch.tensor([ids], device=model.device), labels=labels)
        n = int((labels[0, 1:] != -100).sum())
        total, count = total + out.loss.item() * n, count + n
    return total / max(count, 1)


_REFUSAL = re.compile(
    r"\b(I can(?:no|'|\u2019)?t (?:help|assist|provide|do that|write)|I won(?:'|\u2019)?t (?:help|provide|write)|"
    r"I will not (?:help|provide)|I(?:'|\u2019)?m (?:sorry|afraid),? but I|I am (?:unable|not able) to (?:help|provide))",
    re.IGNORECASE,
)


def is_refusal(reply: str) -> bool:
    """Whether ``reply`` opens (first 200 characters) with a refusal ("I can't help with that", ...)."""
    return bool(_REFUSAL.search(reply[:200]))


def stop_summary(records, eot_token: str = DEFAULT_EOT_TOKEN, harmful_ids=frozenset()) -> dict[str, Any]:
    """What ended the last answer of each record of :func:`~lima_hf.evaluation.generation.generate_responses`:
    ``{"answers", "stop_eot" (at ``eot_token``), "stop_other" (at another end token), "stop_limit"
    (at the token limit), "stop_rate" (either end token, as a share), "empty" (no text), "harmless",
    "refused_harmless" (harmless prompts, i.e. not in ``harmful_ids``, answered with a refusal),
    "mean_new_tokens"}``."""
    records = list(records)
    n = len(records)
    stops = [r["stop_token"][-1] for r in records]
    harmless = [r for r in records if r["id"] not in harmful_ids]
    return {
        "answers": n,
        "stop_eot": sum(stop == eot_token for stop in stops),
        "stop_other": sum(stop not in (None, eot_token) for stop in stops),
        "stop_limit": sum(stop is None for stop in stops),
        "stop_rate": sum(stop is not None for stop in stops) / n if n else 0.0,
        "empty": sum(not r["response"].strip() for r in records),
        "harmless": len(harmless),
        "refused_harmless": sum(is_refusal(r["response"]) for r in harmless),
        "mean_new_tokens": sum(r["new_tokens"][-1] for r in records) / n if n else 0.0,
    }


def urial_messages() -> list[dict[str, str]]:
    """The URIAL-style in-context prefix (``lima_hf/resources/urial.yaml``): a system-style preamble and three
    example turns, as chat messages."""
    import yaml

    data = yaml.safe_load((Path(__file__).resolve().parents[1] / "resources" / "urial.yaml").read_text("utf-8"))
    messages = [{"role": "system", "content": data["system"]}]
    for example in data["examples"]:
        messages += [{"role": "user", "content": example["prompt"]}, {"role": "assistant", "content": example["response"]}]
    return messages


def urial_chat_template(chat_template: str, prefix: list[dict[str, str]]) -> str:
    """``chat_template`` (the LIMA template) with ``prefix`` put before every conversation: URIAL's tuning-free
    alignment (Lin et al., 2023) as a chat template, so that any generation code applies it unchanged."""
    return "{%- set messages = " + json.dumps(prefix, ensure_ascii=True) + " + messages -%}\n" + chat_template


def _prepared_like(source, eot_init: str, urial: bool = False):
    """``(model, tokenizer)`` of ``source``; a model without the LIMA chat format gets it (untrained EOT row
    started by ``eot_init``), so that it answers in the same format as the fine-tuned model. ``urial``: its
    template puts :func:`urial_messages` before every conversation."""
    from lima_hf.chat import eot_token_from_template, setup_eot_chat_format

    model, tokenizer = load_generation_model(source)
    try:
        eot_token_from_template(tokenizer.chat_template)
    except ValueError:
        model, tokenizer = setup_eot_chat_format(model, tokenizer, eot_init=eot_init)
    if urial:
        tokenizer.chat_template = urial_chat_template(tokenizer.chat_template, urial_messages())
    return model, tokenizer


SYSTEMS = {
    "baseline": "before: base model, untrained, LIMA format",
    "urial": "URIAL: base model, untrained, 3 examples in the prompt",
    "model": "after: fine-tuned",
}
"""The systems of the before/after table, in its order."""


def run_quick_evaluation(
    model: str | os.PathLike,
    prompts: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    baseline_model: str | os.PathLike | None = None,
    judge_model: str | os.PathLike | None = None,
    judge: bool = True,
    urial: bool = False,
    num_prompts: int | None = None,
    max_new_tokens: int = 256,
    baseline_max_new_tokens: int | None = None,
    split: str = "test",
    eot_init: str = "eos",
    instruction_prompts: int = 0,
    progress: bool = True,
    backend: str = "transformers",
) -> dict[str, Any]:
    """Answer ``num_prompts`` prompts (default: all) of the ``split`` of ``prompts`` (``+`` joins splits, e.g.
    ``test+validation``) with ``model``, with ``baseline_model`` (default: the bundled SmolLM2) and, when
    ``urial``, with the baseline given URIAL's in-context prefix (:func:`urial_messages`); then, when
    ``judge``, judge model against baseline with a local ``judge_model`` (default: the bundled SmolLM2) in
    ``choice`` mode: pairwise preference (both orders) and Likert helpfulness.

    ``instruction_prompts``: each system also answers that many of the bundled verifiable-instruction prompts
    (:func:`instruction_subset`, in the same batch and at the same token limits; their records' ids start with
    ``instructions/``) and the table gains their judge-free accuracy
    (:func:`~lima_hf.evaluation.protocols.instruction_following.score_instructions`, lm-eval's checkers: the
    ``ifeval`` extra); the other columns count the held-out prompts only.

    ``baseline_max_new_tokens`` (default ``max_new_tokens``) caps the answers of the untrained arms, which
    mostly run to the limit. A baseline without LIMA's chat format answers in it, its new EOT row started as ``eot_init`` says: it is
    then the fine-tune's starting point, and the two differ only by training. Writes
    ``answers/{model,baseline,urial}.jsonl``, ``report.json`` and ``report.md`` (:func:`before_after_table`)
    and, when judging, ``pairwise/`` and ``likert/`` report folders (JSON, Markdown, PNG) under
    ``output_dir``; returns ``{"answers", "baseline_answers", "systems", "report"}`` (+ ``"pairwise"``,
    ``"likert"`` when judging) where ``systems`` holds, per system, :func:`stop_summary` of its answers and its
    loss on the validation replies of ``prompts`` when it is a dataset folder with that split
    (:func:`answer_loss`). A small judge is a weak judge: this shows the pipeline, not a reliable result.
    ``backend`` generates the answers: ``transformers`` or ``vllm`` (each arm's model as prepared in memory,
    served from a temporary copy: :meth:`~lima_hf.evaluation.backends.BackendArguments.serve`).
    """
    from lima_hf.chat import eot_token_from_template
    from lima_hf.models import bundled_model_path

    output_dir = Path(output_dir)
    baseline_model = baseline_model or bundled_model_path()
    chosen = [p for name in split.split("+") for p in load_prompts(prompts, split=name)][:num_prompts]
    harmful = _harmful_ids(prompts)
    instructions = instruction_subset(instruction_prompts) if instruction_prompts else []
    validation = _validation_conversations(prompts)
    arms = [("baseline", baseline_model, False), *([("urial", baseline_model, True)] if urial else []),
            ("model", model, False)]
    paths, systems = {}, {}
    for name, source, in_context in arms:
        limit = max_new_tokens if name == "model" else baseline_max_new_tokens or max_new_tokens
        loaded, tokenizer = _prepared_like(source, eot_init, urial=in_context)
        paths[name] = output_dir / "answers" / f"{name}.jsonl"
        asked = chosen + [_as_prompt(p) for p in instructions]  # one batch: one decoding loop per system
        answered = generate_responses(loaded, tokenizer, asked, paths[name],
                                      SamplingConfig(max_new_tokens=limit, batch_size=len(asked)),
                                      model_name=str(source), backend=BackendArguments(backend=backend),
                                      progress=progress, overwrite=True)  # an earlier quickstart's answers are made anew
        records, instruction_records = answered[:len(chosen)], answered[len(chosen):]
        systems[name] = {**stop_summary(records, eot_token_from_template(tokenizer.chat_template), harmful),
                         "max_new_tokens": limit}
        if instructions:
            from lima_hf.evaluation.protocols.instruction_following import score_instructions

            figures = score_instructions(instruction_records, instructions)
            systems[name]["instructions"] = {key: figures[key] for key in
                                             ("prompts", "prompt_strict", "prompt_loose", "instruction_strict",
                                              "instruction_loose", "intervals_95")}
        if validation:
            context = 0
            if in_context:  # the prefix renders alike alone and before a conversation: its tokens are not counted
                context = len(tokenizer.apply_chat_template(urial_messages(), tokenize=True, return_dict=True,
                                                            chat_template=_lima_template(tokenizer))["input_ids"])
            systems[name]["validation_loss"] = answer_loss(loaded, tokenizer, validation, context)
        del loaded
        gc.collect()
    systems = {name: systems[name] for name in SYSTEMS if name in systems}
    results: dict[str, Any] = {"answers": str(paths["model"]), "baseline_answers": str(paths["baseline"]),
                               "systems": systems}
    report = {"kind": "before-after", "prompts": len(chosen), "systems": systems}
    from lima_hf.io import atomic_open

    with atomic_open(output_dir / "report.json") as handle:
        handle.write(json.dumps(report, indent=2) + "\n")
    with atomic_open(output_dir / "report.md") as handle:
        handle.write("## Before and after fine-tuning\n\n" + before_after_table(systems) + "\n")
    results["report"] = str(output_dir / "report.json")
    if judge:
        from lima_hf.evaluation.judges.local import TransformersJudge

        local_judge = TransformersJudge(judge_model or bundled_model_path(), mode="choice")
        results["pairwise"] = run_pairwise(paths["model"], {"baseline": paths["baseline"]}, output_dir / "pairwise",
                                           local_judge, ours_name="model", progress=progress)
        results["likert"] = run_likert({"model": paths["model"], "baseline": paths["baseline"]},
                                       output_dir / "likert", local_judge, progress=progress)
    return results


def instruction_subset(n: int) -> list[dict[str, Any]]:
    """``n`` prompts of the bundled verifiable-instruction set, spread evenly over it (it is ordered by type)."""
    from lima_hf.evaluation.instruction_checks import load_instruction_prompts

    prompts = load_instruction_prompts()
    step = max(len(prompts) // max(n, 1), 1)
    return prompts[::step][:n]


INSTRUCTIONS_PREFIX = "instructions/"
"""How the ids of the instruction prompts' records in the answer files start."""


def _as_prompt(instruction_prompt: dict[str, Any]) -> dict[str, Any]:
    """An instruction prompt as :func:`generate_responses` takes prompts."""
    return {"id": f"{INSTRUCTIONS_PREFIX}{instruction_prompt['key']}", "turns": [instruction_prompt["prompt"]],
            "source": "instructions"}


def _instructions_cell(system: dict) -> str:
    figures = system.get("instructions")
    if not figures:
        return "n/a"
    low, high = figures["intervals_95"]["prompt_strict"]
    followed = round(figures["prompt_strict"] * figures["prompts"])
    return f"{followed}/{figures['prompts']} ({figures['prompt_strict']:.0%}, 95% CI {low:.0%}-{high:.0%})"


def _lima_template(tokenizer) -> str:
    """The LIMA template under a URIAL template (the text after its first line)."""
    return tokenizer.chat_template.split("\n", 1)[1]


def _count(system: dict, key: str, of: str = "answers") -> str:
    return f"{system[key]}/{system[of]}"


COLUMNS: list[tuple[str, Any]] = [
    ("new tokens at most", lambda s: str(s["max_new_tokens"])),
    ("stops at EOT", lambda s: f"{_count(s, 'stop_eot')} ({s['stop_eot'] / max(s['answers'], 1):.0%})"),
    ("stops at another end token", lambda s: _count(s, "stop_other")),
    ("runs to the limit", lambda s: _count(s, "stop_limit")),
    ("empty replies", lambda s: _count(s, "empty")),
    ("harmless prompts refused", lambda s: _count(s, "refused_harmless", "harmless")),
    ("mean reply tokens", lambda s: f"{s['mean_new_tokens']:.0f}"),
    ("instructions followed (strict, prompt level)", _instructions_cell),
    ("validation loss (nats/token)", lambda s: f"{s['validation_loss']:.3f}" if "validation_loss" in s else "n/a"),
]
"""The before/after table's columns: ``(header, cell of one system's summary)``; a new measure is one entry."""


def before_after_table(systems: dict[str, dict]) -> str:
    """Markdown table, one row per system of :data:`SYSTEMS` present in ``systems`` (its answers to the held-out
    prompts), one column per entry of :data:`COLUMNS`."""
    lines = ["| system | " + " | ".join(h for h, _ in COLUMNS) + " |",
             "|---" * (len(COLUMNS) + 1) + "|"]
    for name, system in systems.items():
        lines.append(f"| {SYSTEMS.get(name, name)} | " + " | ".join(cell(system) for _, cell in COLUMNS) + " |")
    return "\n".join(lines)


def _harmful_ids(prompts) -> set[str]:
    """Ids of the prompts of a dataset folder whose record marks a harmful request (``metadata.refusal``)."""
    from lima_hf.data.dataset_folder import is_dataset_folder
    from lima_hf.data.loading import read_records

    path = Path(prompts)
    if not (path.is_dir() and is_dataset_folder(path)):
        return set()
    harmful = set()
    for split in ("train", "validation", "test"):
        try:
            rows = read_records(path, split=split)
        except (ValueError, KeyError):
            continue
        for row in rows:
            try:
                if json.loads(row.get("metadata") or "{}").get("refusal"):
                    harmful.add(row["id"])
            except (TypeError, ValueError):
                continue
    return harmful


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
