"""The dataset card of a build (a ``huggingface_hub.DatasetCard``): what the data is, how each source was
curated, licenses and attribution, citation, the paper's Table 1 for this build (examples and average
input/output length in tokens of a named tokenizer, per split and source) and a length-distribution plot.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from lima_hf.data.sources import card_entry
from lima_hf.errors import InputError
from lima_hf.paper import CITATION

if TYPE_CHECKING:
    from lima_hf.data.build_config import BuildConfig
    from lima_hf.data.composition import Composition
    from lima_hf.data.sources.base import CardEntry

def load_tokenizer(name: str):
    """The tokenizer the statistics are counted in, and the name to print: ``bundled`` or a path/Hub id."""
    from lima_hf.chat import load_tokenizer as load

    if name == "bundled":
        from lima_hf.models import BUNDLED_MODEL_NAME, bundled_model_path

        return load(bundled_model_path()), f"HuggingFaceTB/{BUNDLED_MODEL_NAME} (bundled)"
    return load(name), name


def length_stats(configs: dict[str, dict[str, list[dict]]], tokenizer, tokenizer_name: str) -> dict[str, Any]:
    """Table 1 rows (split, source, examples, avg input/output tokens) and every example's lengths.

    Input = the user turns, output = the assistant turns, in tokens without special tokens; a multi-turn
    dialogue counts all its turns. Test prompts have no output.
    """
    rows, lengths = [], []
    for config, splits in configs.items():
        for split, records in splits.items():
            label = "multi_turn" if config == "multi_turn" else split
            by_source: dict[str, list[tuple[int, int | None]]] = {}
            for record in records:
                user = [m["content"] for m in record["messages"] if m["role"] == "user"]
                assistant = [m["content"] for m in record["messages"] if m["role"] == "assistant"]
                n_in = sum(len(ids) for ids in tokenizer(user, add_special_tokens=False)["input_ids"])
                n_out = (
                    sum(len(ids) for ids in tokenizer(assistant, add_special_tokens=False)["input_ids"])
                    if assistant
                    else None
                )
                by_source.setdefault(record["source"], []).append((n_in, n_out))
                lengths.append({"split": label, "source": record["source"], "input": n_in, "output": n_out})
            for source in sorted(by_source):
                values = by_source[source]
                outputs = [o for _, o in values if o is not None]
                rows.append(
                    {
                        "split": label,
                        "source": source,
                        "examples": len(values),
                        "avg_input_tokens": round(sum(i for i, _ in values) / len(values), 1),
                        "avg_output_tokens": round(sum(outputs) / len(outputs), 1) if outputs else None,
                    }
                )
    return {"tokenizer": tokenizer_name, "table": rows, "lengths": lengths}


def table1_markdown(stats: dict[str, Any]) -> str:
    """The paper's Table 1 layout for this build, as Markdown."""
    lines = ["| Split | Source | #Examples | Avg Input Len. | Avg Output Len. |", "|---|---|---:|---:|---:|"]
    for row in stats["table"]:
        output = "-" if row["avg_output_tokens"] is None else f"{row['avg_output_tokens']:.1f}"
        lines.append(
            f"| {row['split']} | {row['source']} | {row['examples']:,} | {row['avg_input_tokens']:.1f} | {output} |"
        )
    return "\n".join(lines)


def length_plot_png(stats: dict[str, Any]) -> bytes:
    """A PNG: histograms of input and output lengths (tokens) per source, training and multi-turn data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, key in zip(axes, ("input", "output")):
        by_source: dict[str, list[int]] = {}
        for item in stats["lengths"]:
            if item[key] is not None:
                by_source.setdefault(item["source"], []).append(item[key])
        if by_source:
            axis.hist(list(by_source.values()), bins=30, stacked=True, label=list(by_source))
            axis.legend(fontsize=8)
        axis.set_title(f"{key} length (tokens, {stats['tokenizer']})", fontsize=9)
        axis.set_xlabel("tokens")
        axis.set_ylabel("examples")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def _licenses(composition: Composition) -> dict[str, set[str]]:
    licenses: dict[str, set[str]] = {}
    for splits in composition.configs.values():
        for records in splits.values():
            for record in records:
                licenses.setdefault(record["source"], set()).add(record.get("license") or "unknown")
    return licenses


def card_entries(config: BuildConfig, composition: Composition) -> dict[str, list[CardEntry]]:
    """The card entries of every record label in the build, each declared by the source that emitted it.

    A label whose source declares no entry for it, or that no configured source emitted, is an error.
    """
    in_build = {r["source"] for splits in composition.configs.values() for rs in splits.values() for r in rs}
    modules = {run.name: run.module for run in config.sources}
    entries: dict[str, list[CardEntry]] = {}
    for run, result in composition.results.items():
        pools = [result.records, *result.extras.values()]
        emitted = {i["source"] for pool in pools for i in pool if isinstance(i, dict) and "messages" in i}
        for label in sorted(emitted & in_build):
            entry = card_entry(modules.get(run, run), label)
            if entry not in entries.setdefault(label, []):
                entries[label].append(entry)
    unknown = sorted(in_build - set(entries))
    if unknown:
        raise InputError(f"{config.path}: no configured source emitted the records labelled {', '.join(unknown)}")
    return entries


LICENSE_NAME = "lima-hf-per-row-licenses"
"""The card's ``license_name``: every row keeps its own licence, listed per source in LICENSE.md."""


def _source_sections(config: BuildConfig, composition: Composition) -> list[str]:
    licenses = _licenses(composition)
    entries = card_entries(config, composition)
    sections = []
    for source in sorted(licenses):
        for entry in entries[source]:
            sections.append(
                f"### {entry.title} (`{source}`)\n\n{entry.rules}\n\n"
                f"- License: {entry.license} (rows: {', '.join(sorted(licenses[source]))})\n"
                f"- Attribution: {entry.attribution}"
            )
    return sections


def license_text(config: BuildConfig, composition: Composition) -> str:
    """LICENSE.md of a build (the card's ``license_link``): the licence and attribution of each source."""
    sections = "\n\n".join(_source_sections(config, composition))
    return (
        f"# Licenses of {config.pretty_name}\n\nThe rows come from several sources under different licenses. "
        "Each row keeps its own `license` (and `author`, `url`); the most restrictive license of the rows you "
        f"use applies to them.\n\n{sections}\n"
    )


def card_text(config: BuildConfig, composition: Composition, summary: dict[str, Any], stats: dict[str, Any]) -> str:
    """The card's Markdown body."""
    counts = summary["counts"]
    sizes = ", ".join(f"{split} {sum(c.values()):,}" for split, c in counts.get("default", {}).items())
    if "multi_turn" in counts:
        sizes += f"; multi_turn {sum(counts['multi_turn'].get('train', {}).values()):,}"
    source_sections = _source_sections(config, composition)
    parts = "\n".join(
        f"| {p['split']} | {p['part']} | {p['requested'] if p['requested'] is not None else 'all'} | {p['taken']} |"
        f"{' shortfall' if p['shortfall'] else ''} |"
        for p in summary["parts"]
    )
    rejected = (
        "\n".join(
            f"| {name} | {reason} | {count:,} |"
            for name, reasons in summary["rejections"].items()
            for reason, count in reasons.items()
        )
        or "| - | - | 0 |"
    )
    manifest_note = ", curation manifest applied" if config.manifest else ""
    return f"""
# {config.pretty_name}

A rebuild of the LIMA alignment data (Zhou et al., 2023, *LIMA: Less Is More for Alignment*) from its raw
sources with [lima-hf](https://github.com/lima-hf/lima-hf). Rows are `messages` (role/content turns, what
TRL's `SFTTrainer` consumes), the `source`, and attribution columns (`url`, `author`, `license`,
`source_id`, `score`, `category`, `metadata`).

Size of this build: {sizes}.

```python
from datasets import load_dataset
lima = load_dataset("<this folder or repository>")                 # train / validation / test
dialogues = load_dataset("<this folder or repository>", "multi_turn")
```

## How it was built

Build config: `{config.name}`, seed {config.seed}, shortfall policy `{config.on_shortfall}`{manifest_note}.
Splits are filled in the order test, validation, train, multi-turn; exact duplicate conversations (whitespace and
case ignored) are removed across sources and splits, and no test or validation prompt appears in train.

| Split | Part | Requested | Taken | |
|---|---|---:|---:|---|
{parts}

## Sources, licenses and attribution

{(chr(10) * 2).join(source_sections)}

Each row keeps its own `license`; the most restrictive license of the rows you use applies to them. The same
list is in LICENSE.md, the card's `license_link`.

## Statistics (the paper's Table 1 for this build)

Lengths in tokens of `{stats["tokenizer"]}` (input = user turns, output = assistant turns).

{table1_markdown(stats)}

![Length distribution](length_distribution.png)

## Rejected candidates

| Source | Reason | Count |
|---|---|---:|
{rejected}

The full rejection logs are written beside the dataset folder (`<folder>.rejections/`).

## Citation

```bibtex
{CITATION}
```
"""


def build_card(config: BuildConfig, composition: Composition, summary: dict[str, Any]):
    """``(DatasetCard, stats)`` for a composed build; stats are counted with ``config.tokenizer``."""
    from huggingface_hub import DatasetCard, DatasetCardData

    tokenizer, tokenizer_name = load_tokenizer(config.tokenizer)
    stats = length_stats(composition.configs, tokenizer, tokenizer_name)
    data = DatasetCardData(
        pretty_name=config.pretty_name,
        language=["en"],
        license="other",
        license_name=LICENSE_NAME,
        license_link="LICENSE.md",
        task_categories=["text-generation"],
        tags=["lima", "sft", "alignment", "instruction-tuning"],
        size_categories=["n<1K"]
        if sum(len(r) for s in composition.configs.values() for r in s.values()) < 1000
        else ["1K<n<10K"],
    )
    body = card_text(config, composition, summary, stats)
    card = DatasetCard.from_template(data, template_str="---\n{{ card_data }}\n---\n{{ body }}", body=body)
    return card, stats
