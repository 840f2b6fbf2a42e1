"""The card of a selection's dataset folder (a ``huggingface_hub.DatasetCard``): what was selected, from
which pool, how and with which parameters, the licences of the chosen examples and the selection report."""

from __future__ import annotations

from lima_hf.data.selection.report import report_markdown

_RUNTIME_OPTIONS = ("embedding_cache_dir", "device", "show_progress", "embedding_batch_size", "report_points")


def selection_card(report: dict, records: list[dict], pool: str, judge: dict | None = None,
                   decontamination: dict | None = None):
    """The output's ``DatasetCard``: what was selected, how, and with which parameters (``judge``: the LLM
    judge that graded the candidates, if one did; ``decontamination``: ``removed``, ``sets``, ``n`` and
    ``short_prompts`` of the n-gram decontamination, if one ran)."""
    from huggingface_hub import DatasetCard, DatasetCardData

    from lima_hf.data.decontamination import card_section

    # what determines the selection (not where the cache lives or whether bars are drawn)
    method = {k: v for k, v in report["method"].items() if k not in _RUNTIME_OPTIONS}
    if judge:
        method["llm_judge"] = judge
    licenses = sorted({r["license"] for r in records if r.get("license")})
    data = DatasetCardData(
        license=None,
        pretty_name=f"LIMA-style selection of {len(records)} examples",
        tags=["lima", "sft", "data-selection"],
        task_categories=["text-generation"],
        selection={"method": report.get("strategy", method["strategy"]), "pool": pool, "parameters": method},
    )
    body = "\n".join([
        f"# {data.pretty_name}",
        "",
        f"Chosen automatically by `lima-hf select` from `{pool}` ({report['counts']['pool']} candidates).",
        "",
        "Licenses of the selected examples (those of their original sources): "
        + (", ".join(licenses) if licenses else "not recorded in the pool") + ".",
        "",
        "## Selection method and parameters",
        "",
        "| parameter | value |",
        "|---|---|",
        *[f"| `{name}` | `{value}` |" for name, value in method.items()],
        "",
        report_markdown(report).replace("# Selection report", "## Selection report", 1)
        .replace("(coverage.png)", "(selection/coverage.png)").replace("(quality.png)", "(selection/quality.png)")
        .replace("`dropped.jsonl`", "`selection/dropped.jsonl`"),
    ])
    if decontamination:
        body += card_section(decontamination["removed"], decontamination["sets"], decontamination["n"],
                             decontamination["short_prompts"])
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{body}")
