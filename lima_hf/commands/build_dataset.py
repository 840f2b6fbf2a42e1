"""``lima-hf build-dataset --dataset_config dataset.yaml --output DIR``: curate every source and compose the dataset.

``--dataset_config`` is the build config (sources, splits, counts; docs/dataset.md); ``--config`` is a recipe
of these options, as in every other command (a build config given as ``--config``, the old form, is still
accepted, with a FutureWarning: :mod:`lima_hf.compat`). The folder written is Hub-ready (Parquet per split, README.md card with the
statistics); the rejection logs go to ``DIR.rejections/``. Shows a progress bar per source, then a summary table and the rejection report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields

from lima_hf import compat
from lima_hf.cli_args import CLIError, parse_args, pop_option


@dataclass
class BuildDatasetArgs:
    """Options of ``lima-hf build-dataset`` (they override the build config's values)."""

    dataset_config: str | None = field(default=None, metadata={"help": "The build config (YAML, docs/dataset.md)."})
    output: str | None = field(default=None, metadata={"help": "Dataset folder to write (a previous build: replaced)."})
    seed: int | None = field(default=None, metadata={"help": "Override the build config's seed."})
    on_shortfall: str | None = field(
        default=None, metadata={"help": "Override: 'fail' or 'take_available'.", "choices": ["fail", "take_available"]}
    )
    tokenizer: str | None = field(
        default=None,
        metadata={"help": "Override the tokenizer of the card's statistics ('bundled' or a path/Hub id)."},
    )
    decontaminate: list[str] | None = field(
        default=None,
        metadata={"help": "Drop training records sharing a long n-gram with these evaluation prompts: 'test' (this "
                  "build's test split) and/or prompt files (JSONL, dataset folders); the card lists what was removed."},
    )
    decontamination_ngram: int | None = field(
        default=None, metadata={"help": "Words an overlap must span to count (default 13, GPT-3's contamination check)."}
    )
    executor: str | None = field(
        default=None,
        metadata={"help": "Override where the per-file stage of every source that has one runs (pool, local, slurm, "
                  "ray; docs/dataset.md). Other executor options go in the source's entry of the build config.",
                  "choices": ["pool", "local", "slurm", "ray"]},
    )


def print_summary(summary: dict, output, rejections_dir) -> None:
    """The composition per split and source, the parts that fell short, and each source's rejections."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="dataset")
    for column in ("config", "split", "source", "examples"):
        table.add_column(column, justify="right" if column == "examples" else "left")
    for config, splits in summary["counts"].items():
        for split, sources in splits.items():
            for source, count in sources.items():
                table.add_row(config, split, source, f"{count:,}")
            table.add_row(config, split, "total", f"{sum(sources.values()):,}", style="bold")
    console.print(table)
    short = [p for p in summary["parts"] if p["shortfall"]]
    if short:
        shortfalls = Table(title="parts with fewer examples than requested (on_shortfall: take_available)")
        for column in ("split", "part", "requested", "taken"):
            shortfalls.add_column(column)
        for part in short:
            shortfalls.add_row(part["split"], part["part"], str(part["requested"]), str(part["taken"]))
        console.print(shortfalls)
    rejected = Table(title=f"rejections (full logs in {rejections_dir})")
    for column in ("source", "reason", "count"):
        rejected.add_column(column, justify="right" if column == "count" else "left")
    for name, reasons in summary["rejections"].items():
        for reason, count in reasons.items():
            rejected.add_row(name, reason, f"{count:,}")
    console.print(rejected)
    console.print(f"wrote {output} (load it with datasets.load_dataset({str(output)!r}))")


def main(argv: list[str]) -> int:
    from lima_hf.data.build_config import load_build_config
    from lima_hf.data.builder import build_dataset, rejections_dir
    from lima_hf.data.executors import Submitted
    from lima_hf.data.sources import load_source

    argv = list(argv)
    recipe = pop_option(argv, "--config", "a recipe file (YAML)")
    if recipe is not None:
        argv = ["--dataset_config" if compat.build_config_given_as_config(recipe) else "--config", recipe, *argv]
    (args,) = parse_args(
        [BuildDatasetArgs],
        argv,
        prog="lima-hf build-dataset",
        description="--dataset_config dataset.yaml (required) is the build config: sources, splits and counts "
        "(docs/dataset.md). The options below override its values.",
    )
    if args.dataset_config is None:
        raise CLIError("--dataset_config dataset.yaml (the build config) is required")
    if not args.output:
        raise CLIError("--output DIR is required")
    config_path = args.dataset_config
    config = load_build_config(config_path)
    for key in ("seed", "on_shortfall", "tokenizer", "decontaminate", "decontamination_ngram"):
        if getattr(args, key) is not None:
            setattr(config, key, getattr(args, key))
    if args.executor is not None:
        for run in config.sources:
            if "executor" in {f.name for f in fields(load_source(run.module).Config)}:
                run.options["executor"] = args.executor
    try:
        path = build_dataset(config, args.output)
    except Submitted as submitted:  # a per-file stage went to Slurm (or was only shown): the build goes on later
        print(submitted)
        return 0
    summary = json.loads((path / "build_summary.json").read_text(encoding="utf-8"))
    print_summary(summary, path, rejections_dir(path))
    return 0
