"""Verifiable instruction following (IFEval, Zhou et al. 2023): every answer is checked by code, no judge.

Each prompt carries instructions a program can verify ("answer in less than 80 words", "no commas", "wrap
it in JSON"; IFEval's ``instruction_id_list`` + ``kwargs``); :mod:`lima_hf.evaluation.instruction_checks`
runs lm-eval's checkers on each answer, strict and loose. Per system the report gives prompt-level
accuracy (all of a prompt's instructions followed) and instruction-level accuracy, strict and loose, with
bootstrap 95% intervals over prompts (a prompt's samples move together), the accuracy per instruction
type, how many answers were empty or cut at the token limit (``finish_reason`` ``length``; they are checked
like any other) and which token ended the others (``stop_token``).

:func:`score_instructions` is the same scoring as a plain function, for the quickstart, ablation scans
and checkpoint selection.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from lima_hf.errors import InputError
from lima_hf.evaluation import plots, stats
from lima_hf.evaluation.instruction_checks import (
    BUNDLED_PROMPTS,
    check_reply,
    load_instruction_prompts,
)
from lima_hf.evaluation.protocols.base import Protocol
from lima_hf.evaluation.reports import pct, write_report
from lima_hf.evaluation.responses import describe_prompts, load_responses

METRICS = ("prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose")
METRIC_NAMES = {
    "prompt_strict": "prompt-level strict",
    "prompt_loose": "prompt-level loose",
    "instruction_strict": "instruction-level strict",
    "instruction_loose": "instruction-level loose",
}

__all__ = ["InstructionFollowing", "check_records", "instruction_summary", "score_instructions"]


def _last(value: Any) -> Any:
    """The last turn's entry of a per-turn list (``finish_reason``, ``stop_token``), or the value itself."""
    if isinstance(value, list):
        return value[-1] if value else None
    return value


def _match(records: Sequence[Mapping], prompts: Sequence[Mapping], name: str) -> list[dict]:
    """``record -> prompt`` by prompt text, else by ``id`` equal to the prompt's ``key``."""
    by_text = {p["prompt"].strip(): p for p in prompts}
    by_key = {str(p["key"]): p for p in prompts}
    matched = []
    for record in records:
        prompt = by_text.get((record.get("prompt") or "").strip())
        if prompt is None and record.get("id") is not None:
            prompt = by_key.get(str(record["id"]))
        if prompt is None:
            shown = record.get("id") if record.get("id") is not None else (record.get("prompt") or "")[:60]
            raise InputError(f"{name}: the answer to {shown!r} is for a prompt that is not in the instruction prompt set")
        matched.append(prompt)
    return matched


def check_records(records: Sequence[Mapping], prompts: Sequence[Mapping], name: str = "answers") -> list[dict]:
    """Every answer of ``records`` (``prompt``/``id``, ``response``, optional ``sample``, ``finish_reason``,
    ``stop_token``) checked against its prompt's instructions: one item per answer with ``strict`` and
    ``loose`` (a bool per instruction), ``empty``, ``cut`` (stopped at the token limit) and ``stop_token``."""
    items = []
    for record, prompt in zip(records, _match(records, prompts, name)):
        response = record.get("response") or ""
        checked = check_reply(prompt, response)
        finish = _last(record.get("finish_reason"))
        items.append({
            "id": str(prompt["key"]),
            "sample": record.get("sample", 0),
            "prompt": prompt["prompt"],
            "response": response,
            "instruction_id_list": prompt["instruction_id_list"],
            "kwargs": prompt["kwargs"],
            **checked,
            "empty": not response.strip(),
            "cut": finish == "length",
            "finish_reason": finish,
            "stop_token": _last(record.get("stop_token")),
        })
    return items


def _accuracies(items: Sequence[Mapping]) -> list[float]:
    if not items:
        return [math.nan] * len(METRICS)
    strict = [v for i in items for v in i["strict"]]
    loose = [v for i in items for v in i["loose"]]
    return [
        float(np.mean([all(i["strict"]) for i in items])),
        float(np.mean([all(i["loose"]) for i in items])),
        float(np.mean(strict)),
        float(np.mean(loose)),
    ]


def instruction_summary(items: Sequence[Mapping], n_resamples: int = 1000, seed: int = 0,
                        prompts_in_set: int | None = None) -> dict[str, Any]:
    """The figures of checked items (:func:`check_records`): the four accuracies with bootstrap 95%
    intervals over prompts, per instruction type, and the answers' endings."""
    values = _accuracies(items)
    groups = stats.grouped(items)
    if n_resamples and items:
        low, high = stats.bootstrap(groups, _accuracies, n_resamples, seed)
        intervals = {m: [float(low[k]), float(high[k])] for k, m in enumerate(METRICS)}
    else:
        intervals = {m: [math.nan, math.nan] for m in METRICS}
    per_type: dict[str, dict[str, Any]] = {}
    for item in items:
        for k, instruction_id in enumerate(item["instruction_id_list"]):
            row = per_type.setdefault(instruction_id, {"n": 0, "strict_followed": 0, "loose_followed": 0})
            row["n"] += 1
            row["strict_followed"] += bool(item["strict"][k])
            row["loose_followed"] += bool(item["loose"][k])
    for row in per_type.values():
        row["strict"], row["loose"] = row["strict_followed"] / row["n"], row["loose_followed"] / row["n"]
    stopped: dict[str, int] = {}
    for item in items:
        if not item["cut"] and item.get("stop_token") is not None:
            stopped[item["stop_token"]] = stopped.get(item["stop_token"], 0) + 1
    cut = [i for i in items if i["cut"]]
    complete = [i for i in items if not i["cut"]]
    return {
        "answers": len(items),
        "prompts": len(groups),
        "prompts_in_set": prompts_in_set,
        "instructions": sum(len(i["instruction_id_list"]) for i in items),
        **dict(zip(METRICS, values)),
        "intervals_95": intervals,
        "per_type": dict(sorted(per_type.items())),
        "empty": sum(i["empty"] for i in items),
        "cut_at_limit": len(cut),
        "ending_unknown": sum(i.get("finish_reason") is None for i in items),
        "stop_tokens": dict(sorted(stopped.items())),
        "prompt_strict_when_cut": _accuracies(cut)[0],
        "prompt_strict_when_complete": _accuracies(complete)[0],
        "lengths": stats.length_summary([i["response"] for i in items]),
    }


def score_instructions(records: Sequence[Mapping] | str | os.PathLike, prompts: Sequence[Mapping] | str | os.PathLike | None = None,
                       *, n_resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Judge-free instruction-following figures of one system's answers.

    ``records``: what :func:`~lima_hf.evaluation.generation.generate_responses` returns or writes (a list
    of records or a JSONL path; any ``prompt``/``id`` + ``response`` records); ``prompts``: the
    instruction prompts they answer (IFEval-schema records or a JSONL path; ``None``: the bundled set).
    Returns :func:`instruction_summary`'s dict: ``prompt_strict``, ``prompt_loose``,
    ``instruction_strict``, ``instruction_loose`` (0-1), ``intervals_95``, ``per_type``, ``empty``,
    ``cut_at_limit``, ``stop_tokens``, ...
    """
    name = "answers"
    if isinstance(records, (str, os.PathLike)):
        name, records = str(records), load_responses(records)
    if prompts is None or isinstance(prompts, (str, os.PathLike)):
        prompts = load_instruction_prompts(prompts)
    items = check_records(records, prompts, name)
    return instruction_summary(items, n_resamples, seed, prompts_in_set=len(prompts))


def instruction_table(summaries: Mapping[str, dict]) -> str:
    """Markdown: the four accuracies per system, then the answers' endings, then accuracy per type."""
    lines = ["| system | " + " | ".join(METRIC_NAMES[m] for m in METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for name, s in summaries.items():
        lines.append(f"| {name} | " + " | ".join(pct(s[m], s["intervals_95"][m]) for m in METRICS) + " |")
    lines += ["", "| system | prompts | answers | instructions | empty | cut at the token limit | stopped at |",
              "|---|---|---|---|---|---|---|"]
    for name, s in summaries.items():
        of = f" of {s['prompts_in_set']}" if s.get("prompts_in_set") else ""
        ends = ", ".join(f"`{token}` {count}".replace("|", "\\|") for token, count in s["stop_tokens"].items()) or "-"
        lines.append(f"| {name} | {s['prompts']}{of} | {s['answers']} | {s['instructions']} | {s['empty']} | "
                     f"{s['cut_at_limit']} | {ends} |")
    types = sorted({t for s in summaries.values() for t in s["per_type"]})
    lines += ["", "| instruction type | " + " | ".join(f"{n}: strict / loose (n)" for n in summaries) + " |",
              "|---" * (len(summaries) + 1) + "|"]
    for instruction_type in types:
        cells = []
        for s in summaries.values():
            row = s["per_type"].get(instruction_type)
            cells.append(f"{row['strict']:.0%} / {row['loose']:.0%} ({row['n']})" if row else "-")
        lines.append(f"| {instruction_type} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_instructions(summaries: Mapping[str, dict], path) -> None:
    """Left: the four accuracies per system with their 95% intervals; right: strict accuracy per type."""
    plt = plots.pyplot()
    names = list(summaries)
    types = sorted({t for s in summaries.values() for t in s["per_type"]})
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, max(4.5, 0.32 * len(types) + 1.5)),
                                      gridspec_kw={"width_ratios": [1, 1.4]}, layout="constrained")
    width = 0.8 / max(1, len(names))
    for k, name in enumerate(names):
        s = summaries[name]
        xs = np.arange(len(METRICS)) + (k - (len(names) - 1) / 2) * width
        means = [100 * s[m] for m in METRICS]
        errors = [[100 * max(0.0, s[m] - s["intervals_95"][m][0]) if not math.isnan(s["intervals_95"][m][0]) else 0
                   for m in METRICS],
                  [100 * max(0.0, s["intervals_95"][m][1] - s[m]) if not math.isnan(s["intervals_95"][m][1]) else 0
                   for m in METRICS]]
        left.bar(xs, means, width, yerr=errors, capsize=3, label=name)
        ys = np.arange(len(types)) + (k - (len(names) - 1) / 2) * width
        right.barh(ys, [100 * s["per_type"].get(t, {}).get("strict", math.nan) for t in types], width, label=name)
    left.set_xticks(range(len(METRICS)), [m.replace("_", "\n") for m in METRICS])
    left.set_ylim(0, 100)
    left.set_ylabel("% followed (95% CI)")
    left.set_title("Instruction following")
    left.grid(axis="y", alpha=0.3)
    left.legend(loc="upper left", fontsize=8)
    right.set_yticks(range(len(types)), types, fontsize=8)
    right.set_ylim(len(types) - 0.5, -0.5)
    right.set_xlim(0, 100)
    right.set_xlabel("% of instructions followed (strict)")
    right.set_title("Per instruction type")
    right.grid(axis="x", alpha=0.3)
    plots.save(fig, path)
    plt.close(fig)


class _Checkers:
    """Stands where other protocols have a judge: the code that checks the answers."""

    name = "code: lm-eval's IFEval instruction checkers (no judge)"


@dataclass
class InstructionArguments:
    """The instruction prompts the answers are for."""

    prompts: str = field(
        default=BUNDLED_PROMPTS,
        metadata={"help": "IFEval-schema JSONL the answers are for ({key, prompt, instruction_id_list, kwargs} a line; "
                  "IFEval's own input_data.jsonl works); 'bundled' is lima-hf's 110 prompts."},
    )


class InstructionFollowing(Protocol):
    """Verifiable instructions checked by code (module docstring); needs no judge."""

    name = "instructions"
    description = "verifiable instruction following (IFEval-style, strict and loose), checked by code: no judge"
    title = "Instruction following (verifiable instructions, IFEval)"
    template = ""
    placeholders = frozenset()
    choices = labels = ()
    label_help = ""
    plot_file = "instructions.png"
    needs_judge: ClassVar[bool] = False
    Arguments = InstructionArguments

    def __init__(self, judge=None, output_dir=".", **options: Any):
        super().__init__(_Checkers(), output_dir, **options)

    def summarize(self, items: list[dict]) -> dict[str, Any]:
        return instruction_summary(items, self.n_resamples, self.seed, prompts_in_set=self.prompts_in_set)

    def table(self, summaries):
        return instruction_table(summaries)

    def plot(self, summaries, path) -> None:
        plot_instructions(summaries, path)

    def notes(self, summaries) -> list[str]:
        return [
            "prompt-level: every instruction of the prompt followed; instruction-level: each instruction on its own",
            "strict: the answer as it is; loose: also accepted when it passes without its first and/or last line or "
            "without '*' (IFEval's definition); empty answers and answers cut at the token limit are checked like any other",
            "95% intervals: bootstrap over prompts",
            f"prompts: {self.options['prompts']}",
        ]

    def run(self, systems: Mapping[str, os.PathLike | str]) -> dict[str, Any]:
        prompts = load_instruction_prompts(self.options["prompts"])
        self.prompts_in_set = len(prompts)
        records = {name: load_responses(path) for name, path in systems.items()}
        described = {name: describe_prompts(r) for name, r in records.items()}
        judged = {name: check_records(r, prompts, str(systems[name])) for name, r in records.items()}
        summaries = {name: self.summarize(items) for name, items in judged.items()}
        plot = self.output_dir / self.plot_file
        self.plot(summaries, plot)
        figures = {"kind": self.name, "judge": None, "checkers": "lm_eval.tasks.ifeval",
                   "prompt_set": self.options["prompts"], "prompts": described, "systems": summaries}
        notes = self.notes(summaries) + [f"{name} answered {text}" for name, text in described.items()]
        write_report(self.output_dir, self.title, figures, self.table(summaries), judged, notes, [str(plot)])
        return figures
