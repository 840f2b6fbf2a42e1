"""Read systems' answers (ours from ``lima-hf generate``, baselines from any JSONL) and line them up.

A response file has one JSON object per line with the answer in ``response`` (or ``output``, ``answer``,
``completion``, or the last assistant turn of ``messages``), the prompt in ``prompt`` (or ``instruction``,
``question``, or the first user turn of ``messages``), an optional ``id`` and an optional ``sample``
number. Systems are matched by ``id`` when every record has one, otherwise by prompt text; two systems
that do not answer the same prompts are an error listing the missing prompts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lima_hf.errors import InputError
from lima_hf.io import read_jsonl

_RESPONSE_KEYS = ("response", "output", "answer", "completion")
_PROMPT_KEYS = ("prompt", "instruction", "question")


def _first(obj: dict, keys: tuple[str, ...]) -> str | None:
    return next((obj[k] for k in keys if isinstance(obj.get(k), str)), None)


def load_responses(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Records ``{"id", "sample", "prompt", "response"}`` (and ``messages``, ``prompt_set``, ``finish_reason``, ``stop_token`` when the file has them) of a
    response file (``id`` may be ``None``)."""
    path = Path(path)
    records, samples, seen = [], {}, {}
    for line, obj in read_jsonl(path):
        where = f"{path}:{line}"
        if not isinstance(obj, dict):
            raise InputError(f"{where}: expected a JSON object")
        messages = obj.get("messages") if isinstance(obj.get("messages"), list) else []
        response = _first(obj, _RESPONSE_KEYS)
        if response is None:
            answers = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
            response = answers[-1] if answers else None
        prompt = _first(obj, _PROMPT_KEYS)
        if prompt is None:
            users = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
            prompt = users[0] if users else None
        if not isinstance(response, str):
            raise InputError(
                f"{where}: no answer (expected one of {', '.join(_RESPONSE_KEYS)} or assistant 'messages')"
            )
        prompt_id = None if obj.get("id") in (None, "") else str(obj["id"])
        if prompt_id is None and prompt is None:
            raise InputError(f"{where}: neither an 'id' nor a prompt to match the answer with")
        group = prompt_id if prompt_id is not None else prompt.strip()
        sample = int(obj["sample"]) if isinstance(obj.get("sample"), int) else samples.get(group, 0)
        samples[group] = sample + 1
        if (group, sample) in seen:
            first_line, first = seen[(group, sample)]
            if (first["prompt"], first["response"]) != (prompt, response):
                raise InputError(f"{where}: a second, different answer for {'id' if prompt_id else 'prompt'} "
                                 f"{group!r} sample {sample} (the first is at line {first_line}); keep one")
            continue  # the same answer twice: counted once
        record = {"id": prompt_id, "sample": sample, "prompt": prompt, "response": response}
        seen[(group, sample)] = (line, record)
        if messages and all(isinstance(m, dict) and {"role", "content"} <= m.keys() for m in messages):
            record["messages"] = messages
        if isinstance(obj.get("prompt_set"), str):
            record["prompt_set"] = obj["prompt_set"]
        for key in ("finish_reason", "stop_token"):  # how generation ended (lima-hf generate)
            if key in obj:
                record[key] = obj[key]
        records.append(record)
    if not records:
        raise InputError(f"{path}: no answers")
    return records


def describe_prompts(records: list[dict[str, Any]]) -> str:
    """Which prompts answers are for, for reports: ``"300 prompts x 5 samples, data/lima (test split)"``."""
    groups = group_by_prompt(records)
    samples = sorted({len(group) for group in groups.values()})
    per_prompt = str(samples[0]) if len(samples) == 1 else f"{samples[0]}-{samples[-1]}"
    sets = sorted({r["prompt_set"] for r in records if r.get("prompt_set")})
    where = ", ".join(sets) if sets else "prompt set not recorded"
    return f"{len(groups)} prompts x {per_prompt} samples, {where}"


def group_by_prompt(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """``id -> records sorted by sample`` (records without ids are keyed by their prompt text)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        key = record["id"] if record["id"] is not None else record["prompt"].strip()
        grouped.setdefault(key, []).append(record)
    return {key: sorted(group, key=lambda r: r["sample"]) for key, group in grouped.items()}


def _describe(keys: list[str], prompts: dict[str, str]) -> str:
    shown = [
        f"{k!r} ({prompts.get(k, '')[:60]!r})" if prompts.get(k) and prompts.get(k) != k else repr(k)
        for k in keys[:10]
    ]
    return ", ".join(shown) + (f" and {len(keys) - 10} more" if len(keys) > 10 else "")


def align(
    reference: list[dict[str, Any]], other: list[dict[str, Any]], reference_name: str, other_name: str
) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    """Both systems' answers grouped under the reference's prompt ids; error if the prompt sets differ."""
    ref = group_by_prompt(reference)
    by_id = all(r["id"] is not None for r in other) and all(r["id"] is not None for r in reference)
    if by_id:
        oth = group_by_prompt(other)
    else:
        text_to_id = {}
        for key, group in ref.items():
            if group[0]["prompt"] is None:
                raise InputError(
                    f"{reference_name}: answers without prompt text cannot be matched with {other_name} by prompt"
                )
            text_to_id[group[0]["prompt"].strip()] = key
        oth = {}
        for record in other:
            text = (record["prompt"] or "").strip()
            oth.setdefault(text_to_id.get(text, text or str(record["id"])), []).append(record)
        oth = {k: sorted(v, key=lambda r: r["sample"]) for k, v in oth.items()}
    if by_id:
        for key, group in ref.items():
            mine, theirs = (group[0]["prompt"] or "").strip(), (oth.get(key, [{}])[0].get("prompt") or "").strip()
            if mine and theirs and mine != theirs:
                raise InputError(f"{other_name} answers another prompt under id {key!r} than {reference_name} "
                                 f"({theirs[:60]!r} vs {mine[:60]!r}); both must answer the same prompt set")
    missing = [k for k in ref if k not in oth]
    extra = [k for k in oth if k not in ref]
    if missing or extra:
        prompts = {k: (g[0]["prompt"] or "") for d in (ref, oth) for k, g in d.items()}
        parts = []
        if missing:
            parts.append(f"{len(missing)} prompts missing from {other_name}: {_describe(missing, prompts)}")
        if extra:
            parts.append(f"{len(extra)} prompts only in {other_name}: {_describe(extra, prompts)}")
        how = "id" if by_id else "prompt text"
        raise InputError(
            f"{reference_name} and {other_name} answer different prompts (matched by {how}): " + "; ".join(parts)
        )
    return ref, {k: oth[k] for k in ref}
