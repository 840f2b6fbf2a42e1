"""Curation output is byte-identical to the reference made before the rule layer and the executors.

``tests/data/curate_reference.sha256`` holds the SHA-256 of every records, rejections and extras file that
lima-hf 0d5ea2f (before issue #24) wrote for the runs below, on the real dumps in ``../shared/data`` and the
bundled quickstart samples (the quickstart build's train and test Parquet files re-recorded after #26 left the refusals out of its manifest and tagged the harmful test prompt; its rejection logs are the pre-#24 ones). Any change of a record, a rejection, a reason code or a detail shows up here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from lima_hf.cli import main

REFERENCE = Path(__file__).parent / "data" / "curate_reference.sha256"
QUICKSTART = Path(__file__).resolve().parent.parent / "lima_hf" / "resources" / "quickstart_dataset.yaml"
QUIET = ["--no_progress", "--no_report"]
STACKEXCHANGE_RUNS = {
    "se": [],
    "seu": ["--unfiltered", "true"],
    "sek": ["--top_k", "40", "--min_answer_score", "2", "--min_chars", "500"],
}


def _reference(prefix: str) -> dict[str, str]:
    rows = (line.split() for line in REFERENCE.read_text().splitlines() if line.strip())
    return {path: digest for digest, path in rows if path.startswith(prefix + "/")}


def _digests(root: Path, prefix: str) -> dict[str, str]:
    found = {}
    for path in sorted((root / prefix).rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_file() and (path.suffix == ".parquet" or path.suffix == ".jsonl") and path.name != "composition.jsonl":
            found[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def run_stackexchange(shared_data: Path, output: Path, options: list[str]) -> int:
    return main(["curate", "stackexchange", "--input", str(shared_data / "stackexchange"), "--output", str(output),
                 *QUIET, *options])


@pytest.mark.parametrize("run", list(STACKEXCHANGE_RUNS))
def test_stackexchange_output_matches_the_reference(shared_data, tmp_path, run):
    assert run_stackexchange(shared_data, tmp_path / run / "se.jsonl", STACKEXCHANGE_RUNS[run]) == 0
    assert _digests(tmp_path, run) == _reference(run)


def test_reddit_output_matches_the_reference(shared_data, tmp_path):
    assert main(["curate", "reddit", "--input", str(shared_data / "pushshift"), "--output", str(tmp_path / "rd/rd.jsonl"),
                 "--askreddit_subreddit", "AskMen", "--writingprompts_subreddit", "reddit.com", "--no_progress"]) == 0
    assert _digests(tmp_path, "rd") == _reference("rd")


RESOURCES = QUICKSTART.parent
# prefix -> (source, input (a shared-data folder name, or a path under lima_hf/resources), options)
FILE_SOURCE_RUNS = {
    "wh": ("wikihow", "samples/wikihow", []),
    "whc": ("wikihow", "samples/wikihow", ["--count", "4", "--min_steps", "3", "--min_chars", "300"]),
    "ni": ("natural_instructions", "super_natural_instructions", []),
    "nia": ("natural_instructions", "super_natural_instructions", ["--split_file", "no/such/split.txt"]),
    "nis": ("natural_instructions", "samples/natural-instructions", ["--count", "2"]),
    "au": ("authored", "authored", []),
    "lr": ("lima_release", "lima", []),
}
"""The sources read one file at a time (wikiHow, Super-NI, authored, the released LIMA data), recorded with
lima-hf 3465151, before their per-file stage went on the executors."""


def file_source_argv(shared_data: Path, output: Path, run: str, options: list[str] = ()) -> list[str]:
    """The command line of the run ``run`` of :data:`FILE_SOURCE_RUNS`, writing ``output``."""
    source, folder, extra = FILE_SOURCE_RUNS[run]
    path = shared_data / folder if (shared_data / folder).exists() else RESOURCES / folder
    return ["curate", source, "--input", str(path), "--output", str(output), "--no_progress", *extra, *options]


def run_file_source(shared_data: Path, output: Path, run: str, options: list[str] = ()) -> int:
    return main(file_source_argv(shared_data, output, run, options))


@pytest.mark.parametrize("run", list(FILE_SOURCE_RUNS))
def test_file_source_output_matches_the_reference(shared_data, tmp_path, run):
    assert run_file_source(shared_data, tmp_path / run / "out.jsonl", run) == 0
    assert _digests(tmp_path, run) == _reference(run)


def test_quickstart_build_matches_the_reference(tmp_path):
    assert main(["build-dataset", "--dataset_config", str(QUICKSTART), "--output", str(tmp_path / "qs/ds")]) == 0
    assert _digests(tmp_path, "qs") == _reference("qs")
