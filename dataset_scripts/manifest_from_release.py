"""Recover the paper's hand-made choices as a curation manifest, by matching curated candidates against
the released LIMA data.

    lima-hf curate reddit --input raw/pushshift --output work/reddit.jsonl --max_candidates 100000
    lima-hf curate wikihow --input raw/wikihow --output work/wikihow.jsonl
    python dataset_scripts/manifest_from_release.py --release raw/lima/train.jsonl --release raw/lima/test.jsonl \
        --candidates work/reddit.jsonl work/wikihow.jsonl --output dataset_scripts/manifest.yaml

A candidate matches a released example when their prompts (first user turns) or their responses are equal
after whitespace and case normalisation (so an edited prompt still matches by its response). The manifest
selects the matched ids per source, in the release's order; the summary says how many of each source
matched. Only candidates that a source produces can be selected: run the sources with generous candidate
counts (``--max_candidates`` for Reddit; wikiHow and Super-NI produce every eligible item by default).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from lima_hf.data.loading import read_records
from lima_hf.io import read_jsonl


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def match(release_rows: list[dict], candidates: list[dict]) -> tuple[dict[str, list[str]], list[dict]]:
    """``({record source: [matched ids in release order]}, [unmatched release rows])``."""
    by_prompt, by_response = {}, {}
    for record in candidates:
        by_prompt.setdefault(_key(record["messages"][0]["content"]), record)
        if len(record["messages"]) > 1:
            by_response.setdefault(_key(record["messages"][1]["content"]), record)
    selected: dict[str, list[str]] = {}
    unmatched = []
    for row in release_rows:
        turns = row["conversations"]
        record = by_prompt.get(_key(turns[0])) or (by_response.get(_key(turns[1])) if len(turns) > 1 else None)
        if record is None:
            unmatched.append(row)
            continue
        ids = selected.setdefault(record["source"], [])
        if record["id"] not in ids:
            ids.append(record["id"])
    return selected, unmatched


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--release", action="append", required=True, help="Released LIMA jsonl (train.jsonl, test.jsonl); repeatable."
    )
    parser.add_argument(
        "--candidates", nargs="+", required=True, help="Records JSONL files written by `lima-hf curate`."
    )
    parser.add_argument("--output", required=True, help="Manifest YAML to write.")
    args = parser.parse_args(argv)
    release = [row for path in args.release for _, row in read_jsonl(path) if row.get("source") != "multi_turn"]
    candidates = [record for path in args.candidates for record in read_records(path)]
    selected, unmatched = match(release, candidates)
    header = (
        "# Curation manifest recovered from the released LIMA data by dataset_scripts/manifest_from_release.py\n"
        f"# ({sum(map(len, selected.values()))} of {len(release)} released examples matched a candidate).\n"
    )
    Path(args.output).write_text(
        header
        + yaml.safe_dump(
            {s: {"select": ids} for s, ids in sorted(selected.items())}, sort_keys=False, allow_unicode=True
        ),
        encoding="utf-8",
    )
    for source, ids in sorted(selected.items()):
        print(f"{source}: {len(ids)} selected")
    labels: dict[str, int] = {}
    for row in unmatched:
        labels[row.get("source", "?")] = labels.get(row.get("source", "?"), 0) + 1
    print(
        "unmatched released examples by label: " + (", ".join(f"{k} {v}" for k, v in sorted(labels.items())) or "none")
    )
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
