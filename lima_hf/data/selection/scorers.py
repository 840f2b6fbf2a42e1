"""Deita-style complexity and quality scores (Liu et al., 2024) for the ``complexity_quality`` strategy.

Three sources, one result: ``id -> {"complexity", "quality"}`` plus the records that could not be scored
(with the error), never a filled-in value.

- :func:`model_scores`: a scorer model by path or Hub id for both scores, or Deita's two
  (``hkust-nlp/deita-complexity-scorer`` and, as ``quality_scorer``, ``hkust-nlp/deita-quality-scorer``). Deita's prompts; the score is the
  expectation of 1..6 under the model's next-token probabilities of the digits ``1``..``6``.
- :func:`judge_scores`: any model judge of :mod:`lima_hf.evaluation.judges` asked the same two questions;
  the first digit 1-6 of its reply is the score.
- :func:`load_scores`: a JSONL of ``{"id", "complexity", "quality"}`` lines.

Model and judge scores are cached (``CACHE_DIR/deita-*.jsonl``, one file per scorer model, :class:`~lima_hf.evaluation.resumable.ResumableJsonl`
with the scorer's fingerprint), so an interrupted run resumes and other settings are never mixed in.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from pathlib import Path

from lima_hf.data.selection.embeddings import prompt_text, response_text
from lima_hf.errors import InputError

# Deita's scorer prompts (hkust-nlp/deita, src/deita/selection/scorer)
COMPLEXITY_TEMPLATE = ("You are a helpful assistant. Please identify the complexity score of the following user query. "
                       "\n##Query: {instruction}  \n##Complexity: ")
QUALITY_TEMPLATE = ("You are a helpful assistant. Please identify the quality score of the Response corresponding to "
                    "the Question. \n #Question#:\n{instruction}\n#Response#:\n{output} \n##Quality: ")
JUDGE_SUFFIX = "\n\nReply with one digit from 1 (lowest) to 6 (highest)."
KINDS = ("complexity", "quality")


def _prompts(record: dict) -> dict[str, str]:
    instruction, output = prompt_text(record), response_text(record)
    return {"complexity": COMPLEXITY_TEMPLATE.format(instruction=instruction),
            "quality": QUALITY_TEMPLATE.format(instruction=instruction, output=output)}


def _template_hash() -> str:
    return hashlib.sha256((COMPLEXITY_TEMPLATE + QUALITY_TEMPLATE + JUDGE_SUFFIX).encode()).hexdigest()[:16]


def load_scores(path: str) -> dict[str, dict[str, float]]:
    """``id -> {"complexity", "quality"}`` from a JSONL file (errors name the line)."""
    from lima_hf.io import read_jsonl

    scores = {}
    for line, row in read_jsonl(path):
        if not (isinstance(row, dict) and "id" in row
                and all(isinstance(row.get(k), (int, float)) and not isinstance(row.get(k), bool) for k in KINDS)):
            raise InputError(f"{path}:{line}: expected {{\"id\": ..., \"complexity\": number, \"quality\": number}}")
        scores[str(row["id"])] = {k: float(row[k]) for k in KINDS}
    return scores


def _collect(records: Sequence[dict], cached: list[dict]) -> tuple[dict, list[dict]]:
    by_key = {(r["id"], r["kind"]): r for r in cached}
    scores, failures = {}, []
    for record in records:
        rid = str(record["id"])
        rows = [by_key.get((rid, kind)) for kind in KINDS]
        if all(row is not None and row.get("score") is not None for row in rows):
            scores[rid] = {kind: float(row["score"]) for kind, row in zip(KINDS, rows)}
        else:
            errors = [row.get("error") or "no score" for row in rows if row is not None and row.get("score") is None]
            failures.append({"id": rid, "error": "; ".join(errors) or "not scored"})
    return scores, failures


def model_scores(records: Sequence[dict], scorer: str, cache_dir: str | Path | None, *, max_length: int = 2048,
                 progress: bool = False, quality_scorer: str | None = None) -> tuple[dict[str, dict[str, float]], list[dict]]:
    """Score ``records`` with a causal LM (path/Hub id), or complexity with ``scorer`` and quality with
    ``quality_scorer`` (Deita's two models); ``(scores, failures)``. A record whose forward pass fails is a
    failure with its error; nothing is filled in."""
    if quality_scorer:
        rows = (_model_rows(records, scorer, ("complexity",), cache_dir, max_length, progress)
                + _model_rows(records, quality_scorer, ("quality",), cache_dir, max_length, progress))
    else:
        rows = _model_rows(records, scorer, KINDS, cache_dir, max_length, progress)
    return _collect(records, rows)


def _model_rows(records: Sequence[dict], scorer: str, kinds: Sequence[str], cache_dir: str | Path | None,
                max_length: int, progress: bool) -> list[dict]:
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lima_hf.evaluation.resumable import ResumableJsonl
    from lima_hf.models import model_fingerprint

    tokenizer = AutoTokenizer.from_pretrained(scorer)
    model = AutoModelForCausalLM.from_pretrained(scorer)
    model.eval()
    digits = []
    for digit in "123456":
        ids = tokenizer.encode(digit, add_special_tokens=False)
        if not ids:
            raise InputError(f"{scorer}: the tokenizer has no token for the digit {digit}")
        digits.append(ids[-1])
    fingerprint = {**model_fingerprint(model, tokenizer), "templates": _template_hash(), "max_length": max_length}
    name = hashlib.sha256(scorer.encode()).hexdigest()[:8]
    cache = ResumableJsonl(Path(cache_dir or ".") / f"deita-{'-'.join(kinds)}-{name}.jsonl", fingerprint,
                           what="scores", hint="choose another output, or delete the file to score anew")
    done = {(r["id"], r["kind"]) for r in cache.records}
    jobs = [(str(rec["id"]), kind, text) for rec in records for kind, text in _prompts(rec).items()
            if kind in kinds and (str(rec["id"]), kind) not in done]
    for rid, kind, text in tqdm(jobs, desc="scoring (complexity, quality)", disable=not progress):
        try:
            ids = tokenizer(text, add_special_tokens=True)["input_ids"][-max_length:]
            with torch.inference_mode():
                logits = model(torch.tensor([ids], device=model.device)).logits[0, -1, digits].float()
            probs = torch.softmax(logits, dim=-1)
            score = float((probs * torch.arange(1, 7, dtype=probs.dtype, device=probs.device)).sum())
            if not math.isfinite(score):
                raise ValueError("non-finite score")
            cache.append({"id": rid, "kind": kind, "score": score})
        except Exception as err:  # noqa: BLE001 - one bad record is reported, the others are scored
            cache.append({"id": rid, "kind": kind, "score": None, "error": f"{type(err).__name__}: {err}"})
    return cache.records


def _parse_digit(reply: str) -> float | None:
    match = re.search(r"[1-6]", reply or "")
    return float(match.group()) if match else None


def judge_scores(records: Sequence[dict], judge, cache_dir: str | Path | None, *, retries: int = 2,
                 progress: bool = False) -> tuple[dict[str, dict[str, float]], list[dict]]:
    """Ask a model judge Deita's two questions for every record; ``(scores, failures)`` (an unparsed reply
    after ``retries`` re-asks is a failure)."""
    from lima_hf.evaluation.judges.base import run_judge

    requests = [{"key": f"{rec['id']}\x1f{kind}", "prompt": text + JUDGE_SUFFIX}
                for rec in records for kind, text in _prompts(rec).items()]
    verdicts = run_judge(judge, requests, _parse_digit, Path(cache_dir or ".") / "deita-judge-scores.jsonl",
                         retries=retries, choices=list("123456"), progress=progress, desc="deita scores")
    rows = []
    for key, verdict in verdicts.items():
        rid, kind = key.split("\x1f")
        rows.append({"id": rid, "kind": kind, "score": verdict["label"],
                     "error": None if verdict["label"] is not None else f"unparsed judge reply {verdict['reply']!r:.80}"})
    return _collect(records, rows)
