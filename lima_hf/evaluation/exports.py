"""Answers in the files other evaluation harnesses read (``lima-hf export FORMAT``), so that a user's
AlpacaEval 2 or MT-Bench run scores lima-hf answers directly. :data:`EXPORTS` is the registry.

- ``alpaca-eval``: AlpacaEval's ``model_outputs.json``, a JSON list of ``{"instruction", "output",
  "generator", "dataset"}`` (``alpaca_eval --model_outputs FILE``; AlpacaEval 2 with length control is
  its default annotator). One answer per instruction: ``--sample`` picks which.
- ``mt-bench``: FastChat's MT-Bench answer file, JSON lines ``{"question_id", "answer_id", "model_id",
  "choices": [{"index": 0, "turns": [answer per turn]}], "tstamp"}`` as ``gen_model_answer.py`` writes
  them; put it at ``data/mt_bench/model_answer/MODEL_ID.jsonl`` and run ``gen_judgment.py --model-list
  MODEL_ID``. Answer MT-Bench's questions with ``lima-hf generate`` from a prompts JSONL of
  ``{"id": question_id, "messages": [user turns]}`` (docs/evaluation.md shows the one-liner): the ids come
  back as ``question_id`` (numbers again when they are numbers), the turns as the dialogue's answers.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lima_hf.errors import InputError
from lima_hf.io import atomic_open, write_jsonl
from lima_hf.registry import Registry

Records = Sequence[Mapping[str, Any]]


def _pick(records: Records, sample: int, source: str) -> list[Mapping[str, Any]]:
    picked = [r for r in records if r.get("sample", 0) == sample]
    if not picked:
        raise InputError(f"{source}: no answers with sample {sample}")
    return picked


def alpaca_eval_outputs(records: Records, generator: str, *, sample: int = 0, dataset: str | None = None,
                        source: str = "answers") -> list[dict[str, Any]]:
    """AlpacaEval ``model_outputs.json`` rows of one sample per prompt."""
    rows = []
    for record in _pick(records, sample, source):
        if record.get("prompt") is None:
            raise InputError(f"{source}: answer {record.get('id')!r} has no prompt text (AlpacaEval matches by instruction)")
        row = {"instruction": record["prompt"], "output": record["response"], "generator": generator}
        if dataset or record.get("prompt_set"):
            row["dataset"] = dataset or record["prompt_set"]
        rows.append(row)
    return rows


def _turn_answers(record: Mapping[str, Any]) -> list[str]:
    answers = [m["content"] for m in record.get("messages") or [] if m.get("role") == "assistant"]
    return answers or [record["response"]]


def mt_bench_answers(records: Records, model_id: str, *, sample: int = 0, source: str = "answers") -> list[dict[str, Any]]:
    """FastChat MT-Bench answer records (one per question, every turn's answer) of one sample per prompt."""
    rows = []
    for record in _pick(records, sample, source):
        if record.get("id") is None:
            raise InputError(f"{source}: MT-Bench answers need the question's id ('id' in the prompts file)")
        question_id: Any = str(record["id"])
        question_id = int(question_id) if question_id.isdigit() else question_id
        turns = _turn_answers(record)
        answer_id = hashlib.sha256(json.dumps([model_id, question_id, turns]).encode()).hexdigest()[:22]
        rows.append({"question_id": question_id, "answer_id": answer_id, "model_id": model_id,
                     "choices": [{"index": 0, "turns": turns}], "tstamp": record.get("tstamp", 0.0)})
    return rows


def _write_alpaca_eval(rows: list[dict], path: Path) -> None:
    with atomic_open(path) as handle:
        json.dump(rows, handle, indent=2, ensure_ascii=False)
        handle.write("\n")


EXPORTS: Registry[tuple[Callable, Callable[[list[dict], Path], Any], str]] = Registry("export format", {
    "alpaca-eval": (alpaca_eval_outputs, _write_alpaca_eval, "AlpacaEval's model_outputs.json (alpaca_eval --model_outputs)"),
    "mt-bench": (mt_bench_answers, lambda rows, path: write_jsonl(path, rows), "FastChat MT-Bench answer JSONL (data/mt_bench/model_answer/MODEL.jsonl)"),
})


def export_answers(format: str, responses: str | os.PathLike, output: str | os.PathLike, name: str, *,
                   sample: int = 0) -> int:
    """Write the answers of ``responses`` (a ``lima-hf generate`` file or any answer JSONL) as ``format``
    (:data:`EXPORTS`) to ``output``, naming the model ``name``; return how many answers were written."""
    from lima_hf.evaluation.responses import load_responses

    convert, write, _ = EXPORTS.get(format)
    records = load_responses(responses)
    rows = convert(records, name, sample=sample, source=str(responses))
    write(rows, Path(output))
    return len(rows)
