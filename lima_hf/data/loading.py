"""The one reader: every input lima-hf accepts, as a ``datasets.DatasetDict`` of records.

- a folder written by ``lima-hf build-dataset`` (its Parquet shards, as its card's ``configs:`` declare);
- the released LIMA data in the ``GAIR/lima`` layout (``train.jsonl``/``test.jsonl`` or their folder), read
  by the ``lima_release`` source (multi-turn dialogues are the ``multi_turn`` config, ``test.jsonl`` the
  ``test`` split);
- a JSONL or Parquet file of records (what ``lima-hf curate`` writes) or of prompts (``prompt``,
  ``instruction`` or ``question`` text): one split, ``train``;
- a Hub dataset id or a plain folder of data files, through ``datasets.load_dataset`` (``GAIR/lima`` itself
  is fetched as files, because the release ships a loading script that current ``datasets`` no longer runs).

Every row goes through :func:`~lima_hf.data.records.normalise_record`, so training, selection, generation
and the builder see the same records; a row that does not qualify stops with an error naming the file and
line (or row), or, with ``on_error="skip"``, is logged as a ``malformed`` rejection.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import datasets

from lima_hf.data.dataset_folder import (
    DEFAULT_CONFIG,
    SPLIT_ORDER,
    dataset_folder_configs,
    is_dataset_folder,
    records_table,
)
from lima_hf.data.records import find_split, normalise_record, split_name
from lima_hf.data.sources.bad_input import jsonl_objects, raise_or_skip
from lima_hf.errors import InputError

RELEASE_REPO = "GAIR/lima"
RELEASE_FILES = ("train.jsonl", "test.jsonl")

# One split of an input: (where, place, row) per row; `where` names the file and line or row for errors,
# `place` is the line or row number, which also makes the default id.
Rows = Iterable[tuple[str, int, Any]]


def is_release_file(path: Path) -> bool:
    """Whether a JSONL file is in the released LIMA layout (``conversations`` lists, no ``messages``)."""
    with open(path, encoding="utf-8", errors="replace") as handle:  # a bad byte is reported by the reader
        for line in handle:
            if line.strip():
                return line.lstrip().startswith("{") and '"conversations"' in line and '"messages"' not in line
    return False


def _parquet_rows(path: Path) -> Rows:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except (OSError, pa.ArrowException) as err:
        raise InputError(f"{path}: cannot read Parquet ({err})") from err
    return ((f"{path}: row {index}", index, row) for index, row in enumerate(rows))


def _folder_splits(path: Path, config: str) -> dict[str, Rows]:
    configs = dataset_folder_configs(path)
    if config not in configs:
        raise InputError(f"{path}: no config '{config}' (has {', '.join(sorted(configs))})")
    return {
        split_name(split, str(path)): [row for shard in shards for row in _parquet_rows(shard)]
        for split, shards in configs[config].items()
    }


def _release_splits(path: Path, config: str, on_error: str, rejections: list[dict]) -> dict[str, Rows]:
    from lima_hf.data.sources import lima_release

    if config not in (DEFAULT_CONFIG, "multi_turn"):
        raise InputError(f"{path}: the released LIMA layout has configs 'default' and 'multi_turn', not '{config}'")
    result = lima_release.curate(lima_release.Config(input=str(path), on_error=on_error))
    rejections.extend(result.rejections)
    lists = {"train": result.extras["multi_turn"]} if config == "multi_turn" else {
        "train": result.records, "test": result.extras["test"]
    }
    return {
        split: [(record["id"], index, record) for index, record in enumerate(records)]
        for split, records in lists.items()
        if records or config == "multi_turn"
    }


def _datasets_splits(name: str, config: str) -> dict[str, Rows]:
    data = datasets.load_dataset(name, config)
    return {
        split: ((f"{name} {split}: row {index}", index, row) for index, row in enumerate(rows))
        for split, rows in data.items()
    }


def _release_from_hub() -> Path:
    import tempfile

    from huggingface_hub import hf_hub_download

    folder = Path(tempfile.mkdtemp(prefix="gair-lima-"))
    for name in RELEASE_FILES:
        os.symlink(hf_hub_download(RELEASE_REPO, name, repo_type="dataset"), folder / name)
    return folder


def _splits(path_or_id: str | os.PathLike, config: str, on_error: str, rejections: list[dict]) -> dict[str, Rows]:
    """``{split: rows}`` of any supported input (see the module docstring)."""
    path = Path(path_or_id)
    if path.is_dir():
        if is_dataset_folder(path):
            return _folder_splits(path, config)
        releases = [path / name for name in RELEASE_FILES if (path / name).is_file()]
        if releases and is_release_file(releases[0]):
            return _release_splits(path, config, on_error, rejections)
        if releases:  # a plain folder of JSON Lines files, as TRL users have: what datasets.load_dataset reads
            return _datasets_splits(str(path), config)
        raise InputError(f"{path}: neither a dataset folder (README.md + data/) nor the GAIR/lima layout")
    if path.is_file():
        if path.suffix == ".jsonl" and is_release_file(path):
            return _release_splits(path, config, on_error, rejections)
        if config != DEFAULT_CONFIG:
            raise InputError(f"{path}: a single records file has only the '{DEFAULT_CONFIG}' config")
        if path.suffix == ".parquet":
            return {"train": _parquet_rows(path)}
        lines = jsonl_objects(path, on_error=on_error, rejections=rejections, source=None)
        return {"train": ((f"{path}:{line}", line, row) for line, row in lines)}
    if str(path_or_id).strip("/") == RELEASE_REPO:
        return _release_splits(_release_from_hub(), config, on_error, rejections)
    if str(path_or_id).startswith(("/", ".", "~")) or str(path_or_id).count("/") > 1:
        raise InputError(f"{path_or_id}: no such file or folder (and not a Hub dataset id)")
    return _datasets_splits(str(path_or_id), config)


def _records(rows: Rows, prefix: str, needs: str, on_error: str, rejections: list[dict]) -> list[dict]:
    records, seen = [], {}
    for where, place, row in rows:
        row_id = row.get("id") if isinstance(row, dict) else None
        if row_id is not None and where != str(row_id):
            where += f" (id {row_id})"
        try:
            record = normalise_record(row, where, default_id=f"{prefix}/{place}", needs=needs)
            if record["id"] in seen:
                raise InputError(f"{where}: duplicate id '{record['id']}' (also at {seen[record['id']]})")
        except InputError as err:
            source = row.get("source") if isinstance(row, dict) else None
            raise_or_skip(err, on_error=on_error, rejections=rejections, source=source,
                          id=str(row_id if row_id is not None else f"{prefix}/{place}"))
            continue
        seen[record["id"]] = place
        records.append(record)
    return records


def load_lima_dataset(
    path_or_id: str | os.PathLike,
    config: str = DEFAULT_CONFIG,
    *,
    split: str | None = None,
    needs: str = "messages",
    on_error: str = "raise",
    rejections: list[dict] | None = None,
) -> datasets.DatasetDict:
    """Any supported input (see the module docstring) as a ``DatasetDict`` of records.

    ``config`` is ``default`` (train/validation/test; a folder's old ``dev`` split is read as ``validation``,
    announced) or ``multi_turn`` (train). ``split`` reads that split only (a
    single file is one split, whatever the name asked). ``needs`` is what every row must have (``messages``,
    ``prompt`` or ``conversation``, see :func:`~lima_hf.data.records.normalise_record`); ids must be unique
    within a split. ``on_error="skip"`` drops a row that does not qualify and appends it to ``rejections``.
    """
    rejections = [] if rejections is None else rejections
    splits = _splits(path_or_id, config, on_error, rejections)
    if split is not None and len(splits) > 1:
        found = find_split(split, splits, str(path_or_id))
        if found is None:
            raise InputError(f"{path_or_id}: config '{config}' has no split '{split}' (has {', '.join(splits)})")
        splits = {found: splits[found]}
    path = Path(path_or_id)
    stem = path.stem if path.is_file() else None
    return datasets.DatasetDict(
        {
            name: datasets.Dataset(
                records_table(_records(rows, stem or name, needs, on_error, rejections), name)
            )
            for name, rows in splits.items()
        }
    )


def read_records(
    path: str | os.PathLike, *, config: str = DEFAULT_CONFIG, split: str | None = None
) -> list[dict[str, Any]]:
    """The records of any input :func:`load_lima_dataset` reads, as dicts: one ``split`` (``dev`` and
    ``validation`` find each other, announced) or all of them in train/validation/test order."""
    data = load_lima_dataset(path, config, split=split)
    names = sorted(data, key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s))
    return [row for name in names for row in data[name].to_list()]
