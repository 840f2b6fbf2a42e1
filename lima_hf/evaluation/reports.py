"""Report folders: ``report.json`` (every figure), ``report.md`` (a table), PNG plots, per-item details."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lima_hf.io import atomic_open, write_jsonl


def jsonable(value):
    """``value`` with NaN as ``None``, for JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def pct(rate, interval=None) -> str:
    """``"12.5% [8.0%, 17.0%]"`` (``n/a`` for a missing rate)."""
    if rate is None or (isinstance(rate, float) and math.isnan(rate)):
        return "n/a"
    text = f"{rate:.1%}"
    if interval and not any(v is None or math.isnan(v) for v in interval):
        text += f" [{interval[0]:.1%}, {interval[1]:.1%}]"
    return text


def num(value, digits: int = 2) -> str:
    """A number with ``digits`` decimals (``n/a`` when missing)."""
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def agreement_table(rows: list[dict]) -> str:
    """Markdown table of :func:`lima_hf.evaluation.agreement.agreement_table` rows."""
    lines = ["| rater | rater | shared items | tie-discounted accuracy |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['raters'][0]} | {row['raters'][1]} | {row['items']} | {pct(row['score'])} |")
    return "Agreement (tie-discounted accuracy, LIMA Appendix C):\n\n" + "\n".join(lines)


def read_figures(output_dir: str | os.PathLike) -> dict[str, Any]:
    """The figures of a report folder (its ``report.json``)."""
    from lima_hf.errors import InputError

    path = Path(output_dir) / "report.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable report ({err})") from err


def write_report(
    output_dir: str | os.PathLike,
    title: str,
    figures: dict[str, Any],
    table: str,
    details: Mapping[str, list[dict]] | None = None,
    notes: list[str] | None = None,
    plots: list[str] | None = None,
) -> Path:
    """Write ``report.json`` and ``report.md`` (and ``details/<name>.jsonl``) in ``output_dir``; return it."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with atomic_open(output_dir / "report.json") as handle:
        json.dump(jsonable(figures), handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    for name, rows in (details or {}).items():
        write_jsonl(output_dir / "details" / f"{name}.jsonl", rows)
    body = [f"# {title}", "", table, ""]
    body += [f"- {note}" for note in notes or []]
    body += [""] + [f"![{Path(p).stem}]({Path(p).name})" for p in plots or []]
    with atomic_open(output_dir / "report.md") as handle:
        handle.write("\n".join(body).rstrip() + "\n")
    return output_dir
