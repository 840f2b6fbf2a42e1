"""Calibrate the Stack Exchange answer rules against the released LIMA data.

    python dataset_scripts/calibrate.py --release raw/lima/train.jsonl
    python dataset_scripts/calibrate.py --release raw/lima/train.jsonl --rebuild work/se.jsonl --json calibration.json

Runs each answer rule of ``lima-hf curate stackexchange`` (length window, first person, other answers, removed
content) on its own over the released answers of one source, prints how many pass with examples of each
failure, and, with ``--rebuild`` (records written by ``lima-hf curate stackexchange``), compares the length,
first-person, reference and removed-content distributions of the rebuild with the release's.
"""

from __future__ import annotations

import argparse
import json
import sys

from lima_hf.data.sources.stackexchange.calibration import (
    calibrate,
    calibration_json,
    print_calibration,
    read_rebuild_answers,
    read_release_answers,
)
from lima_hf.errors import InputError
from lima_hf.io import atomic_open


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--release", required=True, help="The released train.jsonl (GAIR/lima layout).")
    parser.add_argument("--source", default="stackexchange", help="Released source label to check (default: %(default)s).")
    parser.add_argument("--rebuild", help="Records JSONL of a rebuild to compare with (lima-hf curate's output).")
    parser.add_argument("--min_chars", type=int, default=1200, help="Shortest answer kept (default: %(default)s).")
    parser.add_argument("--max_chars", type=int, default=4096, help="Longest answer kept (default: %(default)s).")
    parser.add_argument("--examples", type=int, default=3, help="Failures shown per rule (default: %(default)s).")
    parser.add_argument("--json", help="Also write the report as JSON to this file.")
    args = parser.parse_args(argv)
    try:
        release = read_release_answers(args.release, args.source)
        rebuild = read_rebuild_answers(args.rebuild) if args.rebuild else None
        report = calibrate(release, rebuild, min_chars=args.min_chars, max_chars=args.max_chars,
                           examples=args.examples)
        print_calibration(report)
        if args.json:
            with atomic_open(args.json) as out:
                out.write(json.dumps(calibration_json(report), indent=2, ensure_ascii=False) + "\n")
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
