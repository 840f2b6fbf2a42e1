"""What a selection did, for people: JSON and Markdown reports, a 2-D map of the embedding space and the
quality distributions (PNG), and the list of every dropped candidate with its reason.

Coverage is measured as each candidate's cosine distance to its nearest selected example: the maximum is
the k-center radius (no candidate is farther than this from the selection), the mean and percentiles say
how well the typical candidate is represented. The same figures for a uniformly random selection of the
same size (same seed) are given as the baseline.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections import Counter
from typing import Any

import numpy as np

from lima_hf.data.selection.diversity import random_selection
from lima_hf.data.selection.embeddings import response_text
from lima_hf.data.selection.index import NeighbourIndex
from lima_hf.data.selection.pipeline import SelectionResult
from lima_hf.io import dump_jsonl_line

REPORT_DIR = "selection"


def coverage(embeddings: np.ndarray, selected_rows: np.ndarray) -> dict[str, float]:
    """Distribution of the cosine distance from every row of ``embeddings`` to its nearest selected row."""
    if len(selected_rows) == 0 or len(embeddings) == 0:
        return {"mean": float("nan"), "median": float("nan"), "p90": float("nan"), "max": float("nan")}
    sims, _ = NeighbourIndex(embeddings[selected_rows], "exact").search(embeddings, 1)
    distance = np.clip(1.0 - sims[:, 0].astype(np.float64), 0.0, 2.0)
    return {
        "mean": float(distance.mean()),
        "median": float(np.median(distance)),
        "p90": float(np.percentile(distance, 90)),
        "max": float(distance.max()),
    }


def _summary(values: np.ndarray) -> dict[str, float]:
    if len(values) == 0:
        return {"count": 0}
    return {"count": len(values), "mean": float(values.mean()), "median": float(np.median(values)),
            "min": float(values.min()), "max": float(values.max())}


def _selected_rows(result: SelectionResult) -> np.ndarray:
    row_of = {int(position): row for row, position in enumerate(result.candidates)}
    return np.array([row_of[int(p)] for p in result.selected], dtype=np.int64)


def build_report(result: SelectionResult, pool: str | None = None) -> dict[str, Any]:
    """The report as a JSON-ready dict."""
    records, config = result.records, result.config
    groups = [str(r.get("source") or "unknown") for r in records]
    duplicates = {d["id"] for d in result.dropped if d["reason"] == "near_duplicate"}
    per_source: dict[str, dict[str, int]] = {}
    for name in sorted(set(groups)):
        per_source[name] = {"pool": 0, "candidates": 0, "after_dedup": 0, "selected": 0}
    for group in groups:
        per_source[group]["pool"] += 1
    for position in result.candidates:
        per_source[groups[position]]["candidates"] += 1
        if records[position]["id"] not in duplicates:
            per_source[groups[position]]["after_dedup"] += 1
    for position in result.selected:
        per_source[groups[position]]["selected"] += 1

    selected_rows = _selected_rows(result)
    baseline_rows = result.kept_rows[random_selection(len(result.kept_rows), len(selected_rows), seed=config.seed)]
    selected_quality = result.quality[result.selected]
    lengths = np.array([len(response_text(r)) for r in records], dtype=float)
    mix = Counter(groups[p] for p in result.selected)
    return {
        "pool": pool,
        "strategy": config.method_name(),
        "steps": result.steps,
        "method": dataclasses.asdict(config),
        "index": result.index_method,
        "counts": {"pool": len(records), "candidates": len(result.candidates),
                   "after_dedup": len(result.kept_rows), "selected": len(result.selected)},
        "per_source": per_source,
        "quotas": result.quotas,
        "dropped": dict(Counter(d["reason"] for d in result.dropped).most_common()),
        "quality": {
            "weights": config.quality_weights().as_dict(),
            "pool": _summary(result.quality),
            "selected": _summary(selected_quality),
            "signal_means": {
                name: {"pool": _nanmean(values), "selected": _nanmean(values[result.selected])}
                for name, values in result.signals.items()
            },
        },
        "coverage": {
            "selected": coverage(result.embeddings, selected_rows),
            "random_baseline": coverage(result.embeddings, baseline_rows),
        },
        "response_chars": {"pool": _summary(lengths), "selected": _summary(lengths[result.selected])},
        "source_mix": {name: mix[name] / max(len(result.selected), 1) for name in sorted(mix)},
        "duplicate_rate": {
            "threshold": config.dedup_threshold,
            "pool": _duplicate_rate(result.embeddings, np.arange(len(result.embeddings)), config.dedup_threshold),
            "selected": _duplicate_rate(result.embeddings, selected_rows, config.dedup_threshold),
        },
        "notes": list(result.notes),
    }


def _duplicate_rate(embeddings: np.ndarray, rows: np.ndarray, threshold: float) -> float | None:
    """The share of ``rows`` whose nearest other row (cosine) is at least ``threshold``."""
    if len(rows) < 2:
        return None
    vectors = embeddings[rows]
    sims, ids = NeighbourIndex(vectors).search(vectors, 2)  # exact up to 50,000 rows, approximate above
    nearest = np.where(ids[:, 0] == np.arange(len(rows)), sims[:, 1], sims[:, 0])
    return float((nearest >= threshold).mean())


def _nanmean(values: np.ndarray) -> float | None:
    present = values[~np.isnan(values)]
    return float(present.mean()) if len(present) else None


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if np.isnan(value) else f"{value:.3f}"
    return str(value)


def report_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables."""
    method, counts = report["method"], report["counts"]
    lines = [
        "# Selection report",
        "",
        f"Selected **{counts['selected']}** of {counts['pool']} candidates"
        + (f" from `{report['pool']}`" if report["pool"] else "")
        + f" with **{report['strategy']}** (seed {method['seed']}, embeddings of the {method['embed_field']} by "
        f"`{method['embedding_model']}`"
        + (f", {report['index']} neighbour search)." if report["index"] != "none" else ")."),
        "",
        "| stage | candidates |",
        "|---|---:|",
        f"| pool | {counts['pool']} |",
        f"| after rule filters | {counts['candidates']} |",
        f"| after near-duplicate removal | {counts['after_dedup']} |",
        f"| selected | {counts['selected']} |",
        "",
        "## Per source",
        "",
        "| source | pool | after filters | after dedup | selected |" + (" quota |" if report["quotas"] else ""),
        "|---|---:|---:|---:|---:|" + ("---:|" if report["quotas"] else ""),
    ]
    for name, row in report["per_source"].items():
        quota = f" {report['quotas'].get(name, 0)} |" if report["quotas"] else ""
        lines.append(f"| {name} | {row['pool']} | {row['candidates']} | {row['after_dedup']} | {row['selected']} |{quota}")
    if len(report["steps"]) > 1:
        lines += ["", "## Steps", "", "| step | strategy | candidates in | kept |", "|---:|---|---:|---:|"]
        lines += [f"| {s['step']} | `{s['strategy']}` | {s['in']} | {s['out']} |" for s in report["steps"]]
    chars, dup = report["response_chars"], report["duplicate_rate"]
    lines += ["", "## Length, source mix, duplicates", "",
              "| | pool | selected |", "|---|---:|---:|",
              f"| response characters, mean | {_fmt(chars['pool'].get('mean'))} | {_fmt(chars['selected'].get('mean'))} |",
              (f"| response characters, median | {_fmt(chars['pool'].get('median'))} | "
               f"{_fmt(chars['selected'].get('median'))} |"),
              (f"| duplicate rate (nearest other at cosine >= {dup['threshold']}) | {_fmt(dup['pool'])} | "
               f"{_fmt(dup['selected'])} |"),
              "",
              "Source mix of the selection: " + (", ".join(f"{k} {v:.1%}" for k, v in report["source_mix"].items())
                                                  or "(empty)") + "."]
    lines += ["", "## Dropped", "", "| reason | candidates |", "|---|---:|"]
    lines += [f"| {reason} | {count} |" for reason, count in report["dropped"].items()] or ["| (none) | 0 |"]
    lines += ["", "Every dropped candidate is listed with its reason in `dropped.jsonl`.", "",
              "## Coverage of the embedding space", "",
              ("Cosine distance from each candidate to its nearest selected example (lower is better; max is the "
               "k-center radius)."), "",
              "| selection | mean | median | p90 | max |", "|---|---:|---:|---:|---:|"]
    for name, label in (("selected", report["strategy"]), ("random_baseline", "random (same size)")):
        row = report["coverage"][name]
        lines.append(f"| {label} | {_fmt(row['mean'])} | {_fmt(row['median'])} | {_fmt(row['p90'])} | "
                     f"{_fmt(row['max'])} |")
    quality = report["quality"]
    lines += ["", "![pool and selection in 2-D](coverage.png)", "", "## Quality", "",
              "| signal | weight | pool mean | selected mean |", "|---|---:|---:|---:|"]
    for name, means in quality["signal_means"].items():
        lines.append(f"| {name} | {_fmt(quality['weights'][name])} | {_fmt(means['pool'])} | {_fmt(means['selected'])} |")
    lines.append(f"| **combined** | | {_fmt(quality['pool'].get('mean'))} | {_fmt(quality['selected'].get('mean'))} |")
    lines += ["", "![quality distributions](quality.png)"]
    if report["notes"]:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in report["notes"]]
    return "\n".join(lines) + "\n"


def _projection(vectors: np.ndarray) -> np.ndarray:
    """2-D PCA coordinates (sign-fixed, so the picture is reproducible)."""
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    components = components[:2]
    components *= np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])[:, None]
    return centred @ components.T


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def coverage_plot(result: SelectionResult) -> bytes:
    """PNG: a 2-D PCA projection of the candidates (grey) and the selection (coloured by source)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = np.arange(len(result.candidates))
    if len(rows) > result.config.report_points:
        rows = np.sort(np.random.default_rng(result.config.seed).choice(rows, result.config.report_points, replace=False))
    selected_rows = _selected_rows(result)
    fit_rows = np.union1d(rows, selected_rows)
    figure, axis = plt.subplots(figsize=(7, 6))
    if len(fit_rows) >= 2 and result.embeddings.shape[1] >= 2:
        points = _projection(result.embeddings[fit_rows])
        where = {row: i for i, row in enumerate(fit_rows)}
        pool_xy = points[[where[r] for r in rows]]
        axis.scatter(pool_xy[:, 0], pool_xy[:, 1], s=4, c="#c8c8c8", label=f"candidates ({len(result.candidates)})",
                     linewidths=0)
        sources = [str(result.records[p].get("source") or "unknown") for p in result.selected]
        for name in sorted(set(sources)):
            mine = [where[r] for r, s in zip(selected_rows, sources) if s == name]
            axis.scatter(points[mine, 0], points[mine, 1], s=10, label=f"selected: {name} ({len(mine)})")
        axis.legend(loc="best", fontsize=7, markerscale=2)
    axis.set_title(f"{result.config.method_name()}: {len(result.selected)} of {len(result.candidates)} (PCA of embeddings)")
    axis.set_xlabel("PC 1")
    axis.set_ylabel("PC 2")
    data = _png(figure)
    plt.close(figure)
    return data


def quality_plot(result: SelectionResult) -> bytes:
    """PNG: histograms of the combined quality score, pool against selection."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    bins = np.linspace(0, 1, 21)
    axis.hist(result.quality, bins=bins, density=True, alpha=0.5, label=f"pool ({len(result.quality)})")
    if len(result.selected):
        axis.hist(result.quality[result.selected], bins=bins, density=True, alpha=0.5,
                  label=f"selected ({len(result.selected)})")
    axis.set_xlabel("combined quality")
    axis.set_ylabel("density")
    axis.legend()
    data = _png(figure)
    plt.close(figure)
    return data


def report_files(result: SelectionResult, pool: str | None = None) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The report dict, and the files to write under ``selection/`` of the output dataset folder."""
    report = build_report(result, pool)
    files = {
        f"{REPORT_DIR}/report.json": (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode(),
        f"{REPORT_DIR}/report.md": report_markdown(report).encode(),
        f"{REPORT_DIR}/coverage.png": coverage_plot(result),
        f"{REPORT_DIR}/quality.png": quality_plot(result),
        f"{REPORT_DIR}/dropped.jsonl": "".join(dump_jsonl_line(d) for d in result.dropped).encode(),
    }
    return report, files
