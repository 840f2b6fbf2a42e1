"""Benchmark of the per-file stage's executors on the sources read one file at a time.

Runs ``lima-hf curate`` IN ONE RUN on the bundled authored examples and wikiHow samples, and on the released
LIMA training set (``../shared/data/lima/train.jsonl``, skipped when absent), alternately with
``--executor pool`` (in this process, today's default) and ``--executor local`` (datatrove's
``LocalPipelineExecutor``, a fresh work folder per run, so nothing is resumed), and prints the best of
``--repeat`` wall times of each and their ratio. The outputs of both are compared byte for byte.

What it shows: the executor's fixed cost per stage (a ``multiprocess`` manager, per-task logs, stats and
completion marks, each task's result written as JSON and read back) against sources that take a second.

Usage: python benchmarks/bench_executors.py [--repeat 3] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import shutil
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESOURCES = PROJECT_ROOT / "lima_hf" / "resources"


def run(source: str, path: Path, executor: str) -> tuple[float, dict[str, str]]:
    """Seconds of one ``curate`` run and the SHA-256 of each file it wrote."""
    from lima_hf.cli import main

    folder = Path(tempfile.mkdtemp(prefix="bench_executors_"))
    try:
        argv = ["curate", source, "--input", str(path), "--output", str(folder / "out" / "o.jsonl"), "--no_progress",
                "--executor", executor, "--work_dir", str(folder / "work")]
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main(argv)
        seconds = time.perf_counter() - start
        if code != 0:
            raise SystemExit(f"curate {source} --executor {executor} failed ({code})")
        return seconds, {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (folder / "out").iterdir()}
    finally:
        shutil.rmtree(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each executor (best taken)")
    parser.add_argument("--data", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    args = parser.parse_args(argv)
    sources = [("authored", RESOURCES / "authored"), ("wikihow", RESOURCES / "samples" / "wikihow")]
    if (args.data / "lima" / "train.jsonl").is_file():
        sources.append(("lima_release", args.data / "lima" / "train.jsonl"))
    print("| source | pool (best) | datatrove local (best) | ratio | same output |")
    print("|---|---|---|---|---|")
    for source, path in sources:
        times: dict[str, list[float]] = {"pool": [], "local": []}
        outputs = {}
        for _ in range(args.repeat):
            for executor, runs in times.items():  # interleaved, so that a change of load hits both
                seconds, outputs[executor] = run(source, path, executor)
                runs.append(seconds)
        pool, local = min(times["pool"]), min(times["local"])
        print(f"| {source} | {pool:.2f} s | {local:.2f} s | {local / pool:.2f}x | "
              f"{'yes' if outputs['pool'] == outputs['local'] else 'NO'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
