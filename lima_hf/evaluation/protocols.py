"""The three evaluations end to end: read answers, judge them (a model or people), write the report.

Each ``run_*`` writes ``output_dir/`` with ``report.json``, ``report.md``, a PNG plot, ``details/`` (every
item with its verdict) and ``judgments/`` (the resumable judge cache). With ``judge=None`` the items are
exported for people under ``output_dir/annotation/<name>/`` and the function returns ``None``; call it
again with ``labels_dir`` (that folder, filled in) to import the labels and write the report.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lima_hf.evaluation import human, plots, reports, stats
from lima_hf.evaluation.absolute import judge_absolute, sample_items
from lima_hf.evaluation.likert import item_key, judge_likert, response_items
from lima_hf.evaluation.pairwise import (
    ORDERS,
    apply_verdicts,
    build_pairs,
    fill_template,
    judge_pairwise,
    pair_key,
    shown,
)
from lima_hf.evaluation.parsing import parse_absolute, parse_likert, parse_preference
from lima_hf.evaluation.responses import describe_prompts, load_responses
from lima_hf.evaluation.templates import load_template

Path_ = str | os.PathLike


def _judge_name(judge, labels_dir) -> str:
    return judge.name if judge is not None else f"people ({labels_dir})"


def run_pairwise(
    ours: Path_,
    baselines: Mapping[str, Path_],
    output_dir: Path_,
    judge=None,
    *,
    ours_name: str = "ours",
    template_path: Path_ | None = None,
    both_orders: bool = True,
    retries: int = 2,
    labels_dir: Path_ | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any] | None:
    """Our answers (``ours``, a response JSONL) against each baseline's; returns the report's figures."""
    output_dir = Path(output_dir)
    template = load_template("pairwise", template_path)
    ours_records = load_responses(ours)
    all_pairs = {
        name: build_pairs(ours_records, load_responses(path), ours_name, name) for name, path in baselines.items()
    }
    if judge is None and labels_dir is None:
        for name, pairs in all_pairs.items():
            _export_pairs(output_dir / "annotation" / name, pairs, template, both_orders, seed)
        return None
    summaries, details = {}, {}
    for name, pairs in all_pairs.items():
        if judge is None:
            folder = Path(labels_dir) / name
            verdicts = human.import_labels(folder / "annotation.csv", folder / "key.jsonl", parse_preference)
            judged = apply_verdicts(pairs, verdicts)
        else:
            cache = output_dir / "judgments" / f"pairwise-{name}.jsonl"
            judged = judge_pairwise(
                pairs, judge, cache, template=template, both_orders=both_orders, retries=retries, progress=progress
            )
        summaries[name] = stats.preference_summary(judged, n_resamples=n_resamples, seed=seed)
        details[name] = judged
    plot = output_dir / "preference.png"
    plots.plot_preference(summaries, plot, system=ours_name)
    figures = {
        "kind": "pairwise",
        "system": ours_name,
        "judge": _judge_name(judge, labels_dir),
        "both_orders": both_orders,
        "baselines": summaries,
    }
    notes = [
        f"judge: {figures['judge']}; "
        + ("each pair judged in both orders, disagreement counted as a tie" if both_orders else "one order per pair"),
        (
            "rates are over parsed pairs, with bootstrap 95% intervals over prompts; "
            "'unparsed' pairs had an unreadable verdict"
        ),
    ]
    reports.write_report(
        output_dir,
        f"Pairwise preference: {ours_name}",
        figures,
        reports.preference_table(summaries, ours_name),
        details,
        notes,
        [str(plot)],
    )
    return figures


def _export_pairs(folder: Path, pairs: list[dict], template: str, both_orders: bool, seed: int) -> None:
    items = []
    for pair in pairs:
        for order in ORDERS if both_orders else [random_order(pair, seed)]:
            answer_a, answer_b = shown(pair, order)
            items.append(
                {"key": pair_key(pair, order), "question": pair["prompt"], "answer_a": answer_a, "answer_b": answer_b}
            )
    placeholder = {"prompt": "<question>", "ours_response": "<answer A>", "baseline_response": "<answer B>"}
    human.export_for_annotation(folder, "pairwise", items, fill_template(template, placeholder, "ours_first"), seed)


def random_order(pair: dict, seed: int) -> str:
    """The one order a pair is shown in when not both: a stable coin flip per pair."""
    import zlib

    return ORDERS[zlib.crc32(f"{seed}|{pair['id']}|{pair['sample']}".encode()) % 2]


def _single_answer_run(
    kind: str,
    systems: Mapping[str, Path_],
    output_dir: Path_,
    judge,
    *,
    template_path,
    retries,
    labels_dir,
    progress,
    sample_size=None,
    seed=0,
) -> dict[str, dict] | None:
    output_dir = Path(output_dir)
    template = load_template(kind, template_path)
    parse = parse_likert if kind == "likert" else parse_absolute
    field_name = "score" if kind == "likert" else "label"
    all_items = {}
    for name, path in systems.items():
        items = response_items(load_responses(path))
        all_items[name] = sample_items(items, sample_size, seed) if kind == "absolute" else items
    if judge is None and labels_dir is None:
        for name, items in all_items.items():
            rows = [{"key": item_key(i), "question": i["prompt"], "answer": i["response"]} for i in items]
            instructions = template.format(question="<question>", answer="<answer>")
            human.export_for_annotation(output_dir / "annotation" / name, kind, rows, instructions, seed)
        return None
    judged = {}
    for name, items in all_items.items():
        if judge is None:
            folder = Path(labels_dir) / name
            verdicts = human.import_labels(folder / "annotation.csv", folder / "key.jsonl", parse)
            judged[name] = [{**i, field_name: verdicts.get(item_key(i), {}).get("label")} for i in items]
        elif kind == "likert":
            judged[name] = judge_likert(
                items,
                judge,
                output_dir / "judgments" / f"likert-{name}.jsonl",
                template=template,
                retries=retries,
                progress=progress,
            )
        else:
            judged[name] = judge_absolute(
                items,
                judge,
                output_dir / "judgments" / f"absolute-{name}.jsonl",
                template=template,
                retries=retries,
                progress=progress,
            )
    return judged


def run_likert(
    systems: Mapping[str, Path_],
    output_dir: Path_,
    judge=None,
    *,
    template_path: Path_ | None = None,
    retries: int = 2,
    labels_dir: Path_ | None = None,
    progress: bool = True,
) -> dict[str, Any] | None:
    """Helpfulness 1-6 of every answer of each system (``name -> response JSONL``); the report's figures."""
    judged = _single_answer_run(
        "likert",
        systems,
        output_dir,
        judge,
        template_path=template_path,
        retries=retries,
        labels_dir=labels_dir,
        progress=progress,
    )
    if judged is None:
        return None
    summaries = {name: stats.likert_summary([i["score"] for i in items]) for name, items in judged.items()}
    for name, items in judged.items():
        summaries[name]["lengths"] = stats.length_summary([i["response"] for i in items])
    plot = Path(output_dir) / "likert.png"
    plots.plot_likert(summaries, plot)
    prompts = {name: describe_prompts(load_responses(path)) for name, path in systems.items()}
    figures = {"kind": "likert", "judge": _judge_name(judge, labels_dir), "prompts": prompts, "systems": summaries}
    notes = [
        f"judge: {figures['judge']}",
        "mean over prompts x samples; 95% interval = mean +- 1.96 sd / sqrt(n); unparsed replies excluded and counted",
        *(f"{name} answered {described}" for name, described in prompts.items()),
    ]
    reports.write_report(
        output_dir, "Likert helpfulness", figures, reports.likert_table(summaries), judged, notes, [str(plot)]
    )
    return figures


def run_absolute(
    systems: Mapping[str, Path_],
    output_dir: Path_,
    judge=None,
    *,
    sample_size: int | None = 50,
    template_path: Path_ | None = None,
    retries: int = 2,
    labels_dir: Path_ | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any] | None:
    """Fail / Pass / Excellent ratings of ``sample_size`` random prompts per system; the report's figures."""
    judged = _single_answer_run(
        "absolute",
        systems,
        output_dir,
        judge,
        template_path=template_path,
        retries=retries,
        labels_dir=labels_dir,
        progress=progress,
        sample_size=sample_size,
        seed=seed,
    )
    if judged is None:
        return None
    summaries = {
        name: stats.absolute_summary(items, n_resamples=n_resamples, seed=seed) for name, items in judged.items()
    }
    plot = Path(output_dir) / "absolute.png"
    plots.plot_absolute(summaries, plot)
    figures = {
        "kind": "absolute",
        "judge": _judge_name(judge, labels_dir),
        "sample_size": sample_size,
        "systems": summaries,
    }
    notes = [f"judge: {figures['judge']}", "shares over parsed ratings with bootstrap 95% intervals over prompts"]
    reports.write_report(
        output_dir, "Absolute rating", figures, reports.absolute_table(summaries), judged, notes, [str(plot)]
    )
    return figures
