"""Load LIMA data as a ``datasets.DatasetDict`` from wherever it lives.

- a folder written by ``lima-hf build-dataset`` (its Parquet shards, as its card's ``configs:`` declare);
- the released LIMA data in the ``GAIR/lima`` layout (``train.jsonl``/``test.jsonl`` or their folder),
  converted to our schema (``messages`` plus attribution columns);
- a records JSONL or Parquet file written by ``lima-hf curate`` (one ``train`` split);
- a Hub dataset id, through ``datasets.load_dataset`` (``GAIR/lima`` itself is fetched as files and
  converted, because the release ships a loading script that current ``datasets`` no longer runs).
"""

from __future__ import annotations

import os
from pathlib import Path

import datasets

from lima_hf.data.dataset_folder import (
    DEFAULT_CONFIG,
    dataset_folder_configs,
    is_dataset_folder,
    read_records,
    records_table,
)
from lima_hf.data.records import split_name
from lima_hf.io import InputError

RELEASE_REPO = "GAIR/lima"


def _from_records(splits: dict[str, list[dict]]) -> datasets.DatasetDict:
    return datasets.DatasetDict({name: datasets.Dataset(records_table(rows, name)) for name, rows in splits.items()})


def _load_folder(path: Path, config: str) -> datasets.DatasetDict:
    """The shards of a dataset folder read straight into memory.

    A rebuild rewrites a folder in place, and ``datasets`` keys its cache of a local folder by name and
    card, not by content; reading the Parquet shards directly always gives the current files (and no cache
    to race on when several training processes load the same folder).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    configs = dataset_folder_configs(path)
    if config not in configs:
        raise InputError(f"{path}: no config '{config}' (has {', '.join(sorted(configs))})")
    return datasets.DatasetDict(
        {
            split_name(split, str(path)): datasets.Dataset(pa.concat_tables([pq.read_table(shard) for shard in shards]))
            for split, shards in configs[config].items()
        }
    )


def _is_release_file(path: Path) -> bool:
    with open(path, encoding="utf-8", errors="replace") as handle:  # a bad byte is reported by the reader
        for line in handle:
            if line.strip():
                return line.lstrip().startswith("{") and '"conversations"' in line and '"messages"' not in line
    return False


def _load_release(path: Path, config: str) -> datasets.DatasetDict:
    from lima_hf.data.sources import lima_release

    result = lima_release.curate(lima_release.Config(input=str(path)))
    if config == "multi_turn":
        return _from_records({"train": result.extras["multi_turn"]})
    if config != DEFAULT_CONFIG:
        raise InputError(f"{path}: the released LIMA layout has configs 'default' and 'multi_turn', not '{config}'")
    splits = {}
    if result.records:
        splits["train"] = result.records
    if result.extras["test"]:
        splits["test"] = result.extras["test"]
    return _from_records(splits)


def _load_release_from_hub(config: str) -> datasets.DatasetDict:
    import tempfile

    from huggingface_hub import hf_hub_download

    folder = Path(tempfile.mkdtemp(prefix="gair-lima-"))
    for name in ("train.jsonl", "test.jsonl"):
        path = hf_hub_download(RELEASE_REPO, name, repo_type="dataset")
        os.symlink(path, folder / name)
    return _load_release(folder, config)


def load_lima_dataset(path_or_id: str | os.PathLike, config: str = DEFAULT_CONFIG) -> datasets.DatasetDict:
    """LIMA data as a ``DatasetDict`` of ``messages`` rows (plus ``source`` and attribution columns).

    ``config`` is ``default`` (train/validation/test; a folder's old ``dev`` split is read as ``validation``) or ``multi_turn`` (train). A folder of ``train.jsonl`` /
    ``test.jsonl`` files whose rows are not GAIR/lima's goes to ``datasets.load_dataset``.
    """
    path = Path(path_or_id)
    if path.is_dir():
        if is_dataset_folder(path):
            return _load_folder(path, config)
        releases = [path / name for name in ("train.jsonl", "test.jsonl") if (path / name).is_file()]
        if releases and _is_release_file(releases[0]):
            return _load_release(path, config)
        if releases:  # a plain folder of JSON Lines files, as TRL users have: what datasets.load_dataset reads
            return datasets.load_dataset(str(path), config)
        raise InputError(f"{path}: neither a dataset folder (README.md + data/) nor the GAIR/lima layout")
    if path.is_file():
        if path.suffix == ".jsonl" and _is_release_file(path):
            return _load_release(path, config)
        if config != DEFAULT_CONFIG:
            raise InputError(f"{path}: a single records file has only the '{DEFAULT_CONFIG}' config")
        return _from_records({"train": read_records(path)})
    if str(path_or_id).strip("/") == RELEASE_REPO:
        return _load_release_from_hub(config)
    if str(path_or_id).startswith(("/", ".", "~")) or str(path_or_id).count("/") > 1:
        raise InputError(f"{path_or_id}: no such file or folder (and not a Hub dataset id)")
    return datasets.load_dataset(str(path_or_id), config)
