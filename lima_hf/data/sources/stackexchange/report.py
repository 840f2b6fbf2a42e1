"""Counts per site and per rule, as rows (written beside the output) and as a printed table."""

from __future__ import annotations

from lima_hf.data.rules import REASONS as RULES

COUNT_COLUMNS = ("questions", "answers", "kept", "eligible", "chosen")


def site_counts(outcomes, records: list[dict], rejections: list[dict]) -> list[dict]:
    """One row per curated site: sizes, candidates, chosen examples and rejections per rule."""
    chosen: dict[str, int] = {}
    for record in records:
        site = record["id"].split("/")[1]
        chosen[site] = chosen.get(site, 0) + 1
    per_site_reasons: dict[str, dict[str, int]] = {}
    for rejection in rejections:
        parts = rejection["id"].split("/")
        if len(parts) >= 3 and parts[0] == "stackexchange":
            reasons = per_site_reasons.setdefault(parts[1], {})
            reasons[rejection["reason"]] = reasons.get(rejection["reason"], 0) + 1
    rows = []
    for outcome in outcomes:
        reasons = per_site_reasons.get(outcome.site, {})
        row = {"site": outcome.site, "label": outcome.label, "questions": outcome.questions, "answers": outcome.answers,
               "kept": outcome.kept, "eligible": len(outcome.candidates), "chosen": chosen.get(outcome.site, 0)}
        row.update({rule: reasons.get(rule, 0) for rule in (*RULES, "not_sampled")})
        row["skipped_rows"] = len(outcome.skipped_rows)
        row["error"] = outcome.error
        row["full_parse"] = outcome.full_parse
        rows.append(row)
    return rows


def print_report(rows: list[dict], rejection_counts: dict[str, int]) -> None:
    """Print the per-site table and the per-rule totals to stderr."""
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True, width=max(Console(stderr=True).width, 200))
    columns = (*COUNT_COLUMNS, *RULES, "not_sampled", "skipped_rows")
    table = Table(title="Stack Exchange: counts per site")
    table.add_column("site", no_wrap=True, min_width=max((len(row["site"]) for row in rows), default=4))
    table.add_column("label")
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(row["site"], row["label"], *(str(row[column]) for column in columns))
    if rows:
        table.add_row("total", "", *(str(sum(row[column] for row in rows)) for column in columns), style="bold")
    console.print(table)
    totals = Table(title="Stack Exchange: rejections per reason")
    totals.add_column("reason")
    totals.add_column("count", justify="right")
    for reason, count in rejection_counts.items():
        totals.add_row(reason, str(count))
    console.print(totals)
