"""``lima-hf curate SOURCE --input PATH --output OUT.jsonl``: curate one raw source alone.

Writes ``OUT.jsonl`` (the records), ``OUT.rejections.jsonl`` (every rejected candidate with its reason)
and ``OUT.<name>.jsonl`` for each extra list of the source (e.g. ``ranked_candidates``,
``multi_turn_candidates``), all atomically, then prints the counts and the rejection summary.
``--config FILE`` reads the source's options from YAML; ``--manifest FILE`` applies a curation manifest.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lima_hf import io as lima_io
from lima_hf.cli_args import CLIError, parse_args
from lima_hf.data.executors import Submitted
from lima_hf.data.sources import SOURCES, load_source, source_name
from lima_hf.errors import InputError
from lima_hf.io import check_output_not_input, check_replaceable_file, claim, file_mode


@dataclass
class CurateArgs:
    """Options of ``lima-hf curate`` besides the source's own."""

    output: str | None = field(
        default=None, metadata={"help": "Records JSONL to write; rejections and extras go beside it."}
    )
    manifest: str | None = field(
        default=None, metadata={"help": "Curation manifest YAML to apply (select/exclude/overrides)."}
    )


def output_paths(output: str | Path, extras: list[str]) -> dict[str, Path]:
    """``records``, ``rejections`` and each extra name -> its file beside ``output``."""
    output = Path(output)
    stem = output.with_suffix("") if output.suffix == ".jsonl" else output
    paths = {
        "records": output if output.suffix == ".jsonl" else output.with_suffix(".jsonl"),
        "rejections": Path(f"{stem}.rejections.jsonl"),
    }
    paths.update({name: Path(f"{stem}.{name}.jsonl") for name in extras})
    return paths


def write_output_set(files: dict[Path, list]) -> None:
    """Write each file of a curation's output (records, rejections, extras) as JSON lines, all or none: every file
    is written to a temporary beside it first, then all are moved in place with Ctrl-C held back, so that an
    error or an interrupt leaves the previous set whole (a file keeps its mode; a new one gets the umask's)."""
    staged: dict[Path, str] = {}
    try:
        for path, items in files.items():
            check_replaceable_file(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, staged[path] = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                for item in items:
                    handle.write(lima_io.dump_jsonl_line(item))
            try:
                os.chmod(staged[path], os.stat(path).st_mode & 0o7777)
            except FileNotFoundError:
                os.chmod(staged[path], file_mode())
        with _interrupt_held_back():
            for path, tmp in staged.items():
                os.replace(tmp, path)
            staged.clear()
            for path in files:
                claim(path)
    finally:
        for tmp in staged.values():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


@contextlib.contextmanager
def _interrupt_held_back():
    """Ctrl-C (SIGINT) arriving inside the block is raised when it ends (main thread only; elsewhere a no-op)."""
    received = []
    try:
        previous = signal.signal(signal.SIGINT, lambda *_: received.append(True))
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def print_report(name: str, result, paths: dict[str, Path]) -> None:
    """Counts per source and category, extra lists, and rejections per reason, as tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"curate {name}: records")
    for column in ("source", "category", "records"):
        table.add_column(column, justify="right" if column == "records" else "left")
    for (source, category), count in sorted(
        Counter((r["source"], r.get("category") or "-") for r in result.records).items()
    ):
        table.add_row(source, str(category), f"{count:,}")
    table.add_row("total", "", f"{len(result.records):,}", style="bold")
    console.print(table)
    if result.extras:
        extras = Table(title="extra outputs")
        extras.add_column("name")
        extras.add_column("items", justify="right")
        extras.add_column("file")
        for extra, items in result.extras.items():
            extras.add_row(extra, f"{len(items):,}", str(paths[extra]))
        console.print(extras)
    rejections = Table(title=f"rejections ({len(result.rejections):,}, in {paths['rejections']})")
    rejections.add_column("reason")
    rejections.add_column("count", justify="right")
    for reason, count in result.rejection_counts().items():
        rejections.add_row(reason, f"{count:,}")
    console.print(rejections)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or argv[0].startswith("-"):
        print(
            f"usage: lima-hf curate SOURCE --input PATH --output OUT.jsonl [--config FILE] [--manifest FILE] "
            f"[--on_error skip|raise] [source options]\nsources: {', '.join(SOURCES)}\n"
            "Run `lima-hf curate SOURCE --help` for a source's options."
        )
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    name, rest = argv[0], argv[1:]
    try:
        name = source_name(name)
    except KeyError:
        raise CLIError(f"unknown source '{name}' (choose from {', '.join(SOURCES)})") from None
    source = load_source(name)
    args, config = parse_args([CurateArgs, source.Config], rest, prog=f"lima-hf curate {name}")
    if not args.output:
        raise CLIError("--output OUT.jsonl is required")
    if not config.input:
        raise CLIError("--input PATH is required")
    inputs = [config.input, args.manifest, *[rest[i + 1] for i, a in enumerate(rest[:-1]) if a == "--config"]]
    for path in output_paths(args.output, []).values():
        check_output_not_input(path, inputs)
        check_replaceable_file(path)
    try:
        result = source.curate(config)
    except Submitted as submitted:  # the per-file stage went to Slurm (or was only shown): nothing to write yet
        print(submitted)
        return 0
    if not result.records and not result.rejections and not any(result.extras.values()):
        raise InputError(f"{config.input}: {name} found nothing to curate (no examples and nothing rejected: "
                         "an empty file or folder?)")
    if args.manifest:
        from lima_hf.data.manifest import candidate_pools, load_manifest

        pools, known = candidate_pools([result])
        result.rejections.extend(load_manifest(args.manifest).apply_to_pools(pools, known, every_key=False))
        kept = {}
        for (_, pool), items in pools.items():
            kept.setdefault(pool, []).extend(items)
        result.records = kept.pop("records", [])
        result.extras.update(kept)
    paths = output_paths(args.output, list(result.extras))
    for path in paths.values():
        check_output_not_input(path, inputs)
        check_replaceable_file(path)
    write_output_set({paths["records"]: result.records, paths["rejections"]: result.rejections,
                      **{paths[extra]: items for extra, items in result.extras.items()}})
    print_report(name, result, paths)
    print(f"wrote {len(result.records):,} records to {paths['records']}")
    if not result.records:
        print(f"lima-hf curate {name}: no records: every candidate was rejected or went to an extra list "
              f"(reasons in {paths['rejections']})", file=sys.stderr)
    return 0

