"""Build the LIMA dataset from the raw dumps (``lima.yaml`` + ``manifest.yaml``) and optionally push it.

    python dataset_scripts/build_lima.py --output lima-dataset
    python dataset_scripts/build_lima.py --output lima-dataset --push my-org/lima --private

The push uploads the Hub-ready folder (Parquet shards, README.md card with Table 1 and the length plot)
with ``lima_hf.hub.push_dataset``; ``datasets.load_dataset("my-org/lima")`` then loads it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build (and push) the LIMA dataset from the raw dumps.")
    parser.add_argument(
        "--dataset_config",
        "--config",  # the old spelling: lima_hf.compat
        dest="dataset_config",
        default=str(HERE / "lima.yaml"),
        help="Build config (default: lima.yaml beside this script).",
    )
    parser.add_argument("--output", required=True, help="Dataset folder to write.")
    parser.add_argument("--push", metavar="REPO_ID", help="Also upload the folder to this Hub dataset repository.")
    parser.add_argument("--private", action="store_true", help="Create the Hub repository as private.")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if any(a.split("=")[0] == "--config" for a in argv):
        from lima_hf import compat

        compat.warn("--config is now --dataset_config", "build_lima.py")

    from lima_hf.cli import main as cli

    code = cli(["build-dataset", "--dataset_config", args.dataset_config, "--output", args.output])
    if code or not args.push:
        return code
    from lima_hf.hub import push_dataset

    result = push_dataset(args.output, args.push, private=args.private)
    print(f"pushed {args.output} to {result.repo_url} ({result.commit_url})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
