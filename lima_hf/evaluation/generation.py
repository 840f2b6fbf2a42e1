"""Answer prompts in LIMA's sampling protocol: batched, resumable, several samples, multi-turn.

The paper samples with nucleus p=0.9 and temperature 0.7, a repetition penalty of 1.2 on previously
generated tokens only (not the prompt), at most 2,048 new tokens, stopping at the end-of-turn token (listed
in the model's ``generation_config.eos_token_id`` by ``lima_hf.chat.setup_eot_chat_format``).

This module is the driver, the same for every backend (:mod:`lima_hf.evaluation.backends`: ``transformers``
or ``vllm``): prompts are batched after sorting by length, and every finished answer is appended to the
output JSONL at once, so an interrupted run resumes where it stopped and recomputes nothing. A multi-turn
prompt is answered turn by turn, each generated answer becoming the context of the next user turn.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from lima_hf.errors import InputError
from lima_hf.evaluation.backends import BackendArguments, GenerationBackend
from lima_hf.evaluation.backends.transformers_backend import load_generation_model
from lima_hf.evaluation.resumable import ResumableJsonl

__all__ = ["SamplingConfig", "generate_responses", "load_generation_model"]


@dataclass
class SamplingConfig:
    """How answers are sampled; the defaults are the LIMA paper's."""

    top_p: float = field(default=0.9, metadata={"help": "Nucleus sampling probability mass (LIMA: 0.9)."})
    temperature: float = field(default=0.7, metadata={"help": "Sampling temperature (LIMA: 0.7); 0 means greedy."})
    repetition_penalty: float = field(
        default=1.2, metadata={"help": "Penalty on previously generated tokens, not the prompt (LIMA: 1.2)."}
    )
    max_new_tokens: int = field(
        default=2048, metadata={"help": "At most this many new tokens per answer (LIMA: 2048)."}
    )
    num_samples: int = field(default=1, metadata={"help": "Answers sampled per prompt (the paper's ablations: 5)."})
    batch_size: int | None = field(
        default=None,
        metadata={"help": "Prompts generated together, sorted by length (default: 8 with transformers, 256 with "
                  "vllm, which schedules them itself); answers are saved batch by batch."},
    )
    seed: int = field(default=0, metadata={"help": "Random seed; each batch is seeded from it and its first prompt."})


def _key(prompt_id: str, sample: int) -> tuple[str, int]:
    return (str(prompt_id), int(sample))


def _seed(config: SamplingConfig, job: dict[str, Any], depth: int) -> int:
    return config.seed + zlib.crc32(f"{job['prompt']['id']}|{job['sample']}|{depth}".encode())


def _answer_turn(backend: GenerationBackend, jobs: list[dict[str, Any]], depth: int, config: SamplingConfig):
    """Answer user turn ``depth`` of ``jobs`` in batches of ``config.batch_size`` (longest prompts first, so a
    batch wastes little padding); yields each batch's jobs once their answers are appended. A job whose prompt
    does not fit the model's context is marked ``refused`` (its token count) and not answered."""
    prompts = []
    for job in jobs:
        job["messages"].append({"role": "user", "content": job["prompt"]["turns"][depth]})
        prompts.append(backend.prompt_ids(job["messages"]))
    context = backend.context_length
    for index, job in enumerate(jobs):
        if context is not None and len(prompts[index]) >= context:
            job["refused"] = len(prompts[index])
    order = sorted((i for i in range(len(jobs)) if "refused" not in jobs[i]), key=lambda i: -len(prompts[i]))
    for start in range(0, len(order), config.batch_size):
        chunk = order[start : start + config.batch_size]
        answers = backend.generate([prompts[i] for i in chunk], config, [_seed(config, jobs[i], depth) for i in chunk])
        for index, answer in zip(chunk, answers):
            job = jobs[index]
            job["messages"].append({"role": "assistant", "content": answer.text})
            for key in ("finish_reason", "stop_token", "new_tokens"):
                job[key].append(getattr(answer, key))
        yield [jobs[i] for i in chunk]


def _record(job: dict[str, Any], model_name: str, config: SamplingConfig, prompt_set: str | None) -> dict[str, Any]:
    return {
        "id": job["prompt"]["id"],
        "sample": job["sample"],
        "prompt": job["prompt"]["turns"][0],
        "response": job["messages"][-1]["content"],
        "messages": job["messages"],
        "finish_reason": job["finish_reason"],
        "stop_token": job["stop_token"],
        "new_tokens": job["new_tokens"],
        "model": str(model_name),
        "sampling": asdict(config),
        **({"prompt_set": prompt_set} if prompt_set else {}),
    }


def generate_responses(
    model,
    tokenizer,
    prompts: list[dict[str, Any]],
    output_path: str | os.PathLike,
    config: SamplingConfig | None = None,
    *,
    model_name: str | None = None,
    prompt_set: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
    backend: BackendArguments | None = None,
) -> list[dict[str, Any]]:
    """Answer ``prompts`` (``{"id", "turns"}`` dicts, see :func:`~lima_hf.evaluation.prompt_sets.load_prompts`).

    ``model`` is a transformers model (with its ``tokenizer``) or a backend of
    :func:`~lima_hf.evaluation.backends.load_backend` (``tokenizer`` is then ``None``). ``backend`` chooses
    what generates with a transformers ``model`` (default: ``transformers``; ``vllm`` serves a copy of it, see
    :meth:`~lima_hf.evaluation.backends.BackendArguments.serve`).
    Writes one JSON line per prompt and sample to ``output_path`` as soon as it is finished, skipping those
    already there. Returns the records of ``prompts`` in order: ``id``, ``sample``, ``prompt`` (the first
    user turn), ``response`` (the last answer), ``messages`` (the whole conversation), ``finish_reason``
    (``"eos"`` or ``"length"``, per turn), ``stop_token`` (per turn: the text of the token that ended the
    answer, e.g. ``"<|eot|>"`` or another end token, ``None`` at the token limit), ``new_tokens`` (per turn),
    ``model``, ``sampling``, when given, ``prompt_set`` (which prompts these are, e.g. ``"data/lima (test
    split)"``; reports quote it), and ``produced_by`` (model path, revision, weights digest, chat template hash,
    backend and its version, sampling settings): an output made with other settings is refused
    (:class:`~lima_hf.evaluation.resumable.SettingsChangedError`), or started anew with ``overwrite=True``.
    """
    options = {"model_name": model_name, "prompt_set": prompt_set, "progress": progress, "overwrite": overwrite}
    if isinstance(model, GenerationBackend):
        return _drive(model, prompts, output_path, config or SamplingConfig(), **options)
    with (backend or BackendArguments()).serve(model, tokenizer) as served:
        return _drive(served, prompts, output_path, config or SamplingConfig(), **options)


def _drive(backend: GenerationBackend, prompts, output_path, config: SamplingConfig, *, model_name, prompt_set,
           progress, overwrite) -> list[dict[str, Any]]:
    """:func:`generate_responses` with ``backend``."""
    from tqdm.auto import tqdm

    if config.batch_size is None:
        config = replace(config, batch_size=backend.default_batch_size)
    settings = {k: v for k, v in asdict(config).items() if k != "batch_size"}  # batch size: speed, not results
    output = ResumableJsonl(output_path, {**backend.fingerprint(), "sampling": settings},
                            overwrite=overwrite, what="answers")
    done = {_key(r["id"], r["sample"]) for r in output.records}
    jobs = [
        {"prompt": prompt, "sample": sample, "messages": [], "finish_reason": [], "stop_token": [], "new_tokens": []}
        for prompt in prompts
        for sample in range(config.num_samples)
        if _key(prompt["id"], sample) not in done
    ]
    model_name = model_name or backend.model_name
    with tqdm(total=sum(len(j["prompt"]["turns"]) for j in jobs), unit="answer", desc="generating",
              disable=not progress) as bar:
        for depth in range(max((len(j["prompt"]["turns"]) for j in jobs), default=0)):
            active = [j for j in jobs if len(j["prompt"]["turns"]) > depth and "refused" not in j]
            for batch in _answer_turn(backend, active, depth, config):
                output.append([_record(j, model_name, config, prompt_set) for j in batch
                               if len(j["prompt"]["turns"]) == depth + 1])
                bar.update(len(batch))
            bar.update(sum(len(j["prompt"]["turns"]) - depth for j in active if "refused" in j))
    refused = [j for j in jobs if "refused" in j]
    if refused:
        shown = ", ".join(f"id {j['prompt']['id']!r} sample {j['sample']} ({j['refused']:,} tokens)" for j in refused[:5])
        raise InputError(
            f"{len(refused)} prompt(s) longer than the model's context of {backend.context_length:,} tokens were not "
            f"answered: {shown}{' and more' if len(refused) > 5 else ''}; the other answers are saved in {output_path}"
        )
    by_key = {_key(r["id"], r["sample"]): r for r in output.records}
    return [by_key[_key(p["id"], s)] for p in prompts for s in range(config.num_samples)]
