"""Answer prompts in LIMA's sampling protocol: batched, resumable, several samples, multi-turn.

The paper samples with nucleus p=0.9 and temperature 0.7, a repetition penalty of 1.2 on previously
generated tokens (transformers' ``RepetitionPenaltyLogitsProcessor`` with ``prompt_ignore_length`` = the
prompt's length),
at most 2,048 new tokens, stopping at the end-of-turn token (listed in the model's
``generation_config.eos_token_id`` by ``lima_hf.chat.setup_eot_chat_format``).

Prompts are batched with left padding after sorting by length (so a batch wastes little padding), and
every finished answer is appended to the output JSONL at once: an interrupted run resumes where it
stopped and recomputes nothing. A multi-turn prompt is answered turn by turn, each generated answer
becoming the context of the next user turn.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

from lima_hf.evaluation.resumable import ResumableJsonl


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
    batch_size: int = field(
        default=8, metadata={"help": "Prompts generated together (left padding, sorted by length)."}
    )
    seed: int = field(default=0, metadata={"help": "Random seed; each batch is seeded from it and its first prompt."})


def load_generation_model(model_path: str | os.PathLike, device: str | None = None, dtype: str = "auto",
                          tokenizer_path: str | os.PathLike | None = None):
    """``(model, tokenizer)`` from a folder or Hub id, in eval mode, on ``device`` (default: CUDA if present); the
    tokenizer from ``tokenizer_path`` when given (:func:`load_tokenizer`)."""
    import torch
    from transformers import AutoModelForCausalLM

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    from lima_hf.chat import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_path or model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).to(device).eval()
    return model, tokenizer


def _stop_ids(model, tokenizer) -> list[int]:
    configured = model.generation_config.eos_token_id
    ids = configured if isinstance(configured, list) else [configured]
    ids = [i for i in ids if i is not None]
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


def _key(prompt_id: str, sample: int) -> tuple[str, int]:
    return (str(prompt_id), int(sample))


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
) -> list[dict[str, Any]]:
    """Answer ``prompts`` (``{"id", "turns"}`` dicts, see :func:`~lima_hf.evaluation.prompt_sets.load_prompts`).

    Writes one JSON line per prompt and sample to ``output_path`` as soon as it is finished, skipping those
    already there. Returns the records of ``prompts`` in order: ``id``, ``sample``, ``prompt`` (the first
    user turn), ``response`` (the last answer), ``messages`` (the whole conversation), ``finish_reason``
    (``"eos"`` or ``"length"``, per turn), ``stop_token`` (per turn: the text of the token that ended the
    answer, e.g. ``"<|eot|>"`` or another end token, ``None`` at the token limit), ``new_tokens`` (per turn), ``model``, ``sampling``, when given,
    ``prompt_set`` (which prompts these are, e.g. ``"data/lima (test split)"``; reports quote it), and
    ``produced_by`` (model path, revision, weights digest, chat template hash and sampling settings): an
    output made with other settings is refused (:class:`~lima_hf.evaluation.resumable.SettingsChangedError`),
    or started anew with ``overwrite=True``.
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import LogitsProcessorList, RepetitionPenaltyLogitsProcessor

    config = config or SamplingConfig()
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError("the tokenizer has no chat template: prepare the model with lima_hf.setup_eot_chat_format")
    from lima_hf.models import model_fingerprint

    settings = {k: v for k, v in asdict(config).items() if k != "batch_size"}  # batch size: speed, not results
    output = ResumableJsonl(output_path, {**model_fingerprint(model, tokenizer), "sampling": settings},
                            overwrite=overwrite, what="answers")
    done = {_key(r["id"], r["sample"]) for r in output.records}
    jobs = [
        {"prompt": prompt, "sample": sample, "messages": [], "finish_reason": [], "stop_token": [], "new_tokens": []}
        for prompt in prompts
        for sample in range(config.num_samples)
        if _key(prompt["id"], sample) not in done
    ]
    model_name = model_name or getattr(model, "name_or_path", None) or type(model).__name__
    stop_ids = _stop_ids(model, tokenizer)
    padding_side, pad_token = tokenizer.padding_side, tokenizer.pad_token
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    bar = tqdm(
        total=sum(len(j["prompt"]["turns"]) for j in jobs), unit="answer", desc="generating", disable=not progress
    )
    context = getattr(model.config, "max_position_embeddings", None)
    refused = []  # (id, sample, tokens) of prompts longer than the model's context: not answered, named at the end
    try:
        for depth in range(max((len(j["prompt"]["turns"]) for j in jobs), default=0)):
            active = [j for j in jobs if len(j["prompt"]["turns"]) > depth]
            texts = []
            for job in active:
                job["messages"].append({"role": "user", "content": job["prompt"]["turns"][depth]})
                texts.append(
                    tokenizer.apply_chat_template(job["messages"], add_generation_prompt=True, tokenize=False)
                )
            lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
            if context:
                fits = [i for i, n in enumerate(lengths) if n < context]
                for i in sorted(set(range(len(active))) - set(fits)):
                    refused.append((active[i]["prompt"]["id"], active[i]["sample"], lengths[i]))
                    jobs.remove(active[i])
                    bar.update(len(active[i]["prompt"]["turns"]) - depth)
                active, texts, lengths = [active[i] for i in fits], [texts[i] for i in fits], [lengths[i] for i in fits]
            order = sorted(range(len(active)), key=lambda i: -lengths[i])
            for start in range(0, len(order), config.batch_size):
                chunk = order[start : start + config.batch_size]
                batch = tokenizer(
                    [texts[i] for i in chunk], add_special_tokens=False, padding=True, return_tensors="pt"
                )
                batch = batch.to(model.device)
                prompt_length = batch["input_ids"].shape[1]
                first = active[chunk[0]]
                torch.manual_seed(
                    config.seed + zlib.crc32(f"{first['prompt']['id']}|{first['sample']}|{depth}".encode())
                )
                sampling = (
                    {"do_sample": True, "top_p": config.top_p, "temperature": config.temperature, "top_k": 0}
                    if config.temperature > 0
                    else {"do_sample": False}
                )
                with torch.inference_mode():
                    generated = model.generate(
                        **batch,
                        **sampling,
                        max_new_tokens=config.max_new_tokens,
                        repetition_penalty=1.0,
                        logits_processor=LogitsProcessorList(  # generated tokens only, as in the paper
                            [RepetitionPenaltyLogitsProcessor(
                                float(config.repetition_penalty), prompt_ignore_length=prompt_length
                            )]
                        ),
                        eos_token_id=stop_ids,
                        pad_token_id=tokenizer.pad_token_id,
                    )
                finished = []
                for row, index in enumerate(chunk):
                    job = active[index]
                    new = generated[row, prompt_length:].tolist()
                    stop = next((n for n, token in enumerate(new) if token in stop_ids), None)
                    tokens = new if stop is None else new[: stop + 1]
                    answer = tokenizer.decode(tokens, skip_special_tokens=True).strip()
                    job["messages"].append({"role": "assistant", "content": answer})
                    job["finish_reason"].append("length" if stop is None else "eos")
                    job["stop_token"].append(None if stop is None else tokenizer.convert_ids_to_tokens(new[stop]))
                    job["new_tokens"].append(len(tokens))
                    if depth == len(job["prompt"]["turns"]) - 1:
                        finished.append(
                            {
                                "id": job["prompt"]["id"],
                                "sample": job["sample"],
                                "prompt": job["prompt"]["turns"][0],
                                "response": answer,
                                "messages": job["messages"],
                                "finish_reason": job["finish_reason"],
                                "stop_token": job["stop_token"],
                                "new_tokens": job["new_tokens"],
                                "model": str(model_name),
                                "sampling": asdict(config),
                                **({"prompt_set": prompt_set} if prompt_set else {}),
                            }
                        )
                output.append(finished)
                bar.update(len(chunk))
    finally:
        bar.close()
        tokenizer.padding_side, tokenizer.pad_token = padding_side, pad_token
    if refused:
        from lima_hf.io import InputError

        shown = ", ".join(f"id {pid!r} sample {sample} ({tokens:,} tokens)" for pid, sample, tokens in refused[:5])
        raise InputError(
            f"{len(refused)} prompt(s) longer than the model's context of {context:,} tokens were not answered: "
            f"{shown}{' and more' if len(refused) > 5 else ''}; the other answers are saved in {output_path}"
        )
    by_key = {_key(r["id"], r["sample"]): r for r in output.records}
    return [by_key[_key(p["id"], s)] for p in prompts for s in range(config.num_samples)]
