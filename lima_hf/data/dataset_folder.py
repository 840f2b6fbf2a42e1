"""The Hub-ready dataset folder: Parquet shards per config and split, and a README.md card declaring them.

Layout (what ``datasets.load_dataset(DIR)`` and, after a push, ``load_dataset("org/name")`` read)::

    DIR/README.md                                   dataset card; its YAML ``configs:`` lists every shard
    DIR/data/default/train-00000-of-00001.parquet
    DIR/data/default/validation-00000-of-00001.parquet
    DIR/data/default/test-00000-of-00001.parquet
    DIR/data/multi_turn/train-00000-of-00001.parquet
    DIR/<extra files>                               e.g. the length-distribution plot the card shows
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lima_hf.data.records import RECORD_COLUMNS, normalise_record
from lima_hf.errors import InputError
from lima_hf.io import atomic_folder

DEFAULT_CONFIG = "default"
SPLIT_ORDER = ("train", "validation", "dev", "test")  # dev: the old name of validation

_MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
RECORD_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("messages", pa.list_(_MESSAGE)),
        ("category", pa.string()),
        ("url", pa.string()),
        ("author", pa.string()),
        ("license", pa.string()),
        ("source_id", pa.string()),
        ("score", pa.int64()),
        ("metadata", pa.string()),
    ]
)
assert tuple(RECORD_SCHEMA.names) == RECORD_COLUMNS


def shard_path(config: str, split: str) -> str:
    """Path of a split's single Parquet shard, relative to the dataset folder."""
    return f"data/{config}/{split}-00000-of-00001.parquet"


def _ordered_splits(splits: Mapping[str, Any]) -> list[str]:
    return sorted(splits, key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s))


def configs_yaml(configs: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The card's ``configs:`` entries for ``{config: {split: ...}}`` (``default`` first and marked default)."""
    names = sorted(configs, key=lambda c: (c != DEFAULT_CONFIG, c))
    entries = []
    for name in names:
        entry: dict[str, Any] = {
            "config_name": name,
            "data_files": [
                {"split": split, "path": shard_path(name, split)} for split in _ordered_splits(configs[name])
            ],
        }
        if name == DEFAULT_CONFIG:
            entry["default"] = True
        entries.append(entry)
    return entries


def records_table(records: list[Mapping[str, Any]], where: str = "records") -> pa.Table:
    """An Arrow table of records in the fixed record schema (missing columns become null)."""
    rows = [normalise_record(record, f"{where}[{index}]") for index, record in enumerate(records)]
    return pa.Table.from_pylist(rows, schema=RECORD_SCHEMA)


def dataset_info_yaml(folder: Path, configs: Mapping[str, Mapping[str, Any]]):
    """The card's ``dataset_info:`` (features, examples and bytes per split), written by ``datasets``' own
    ``DatasetInfosDict.to_dataset_card_data``, as ``push_to_hub`` writes it.

    Besides documenting the data, the sizes make ``datasets``' cache key change when the content does.
    """
    import datasets
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCardData

    infos = DatasetInfosDict()
    for name in configs:
        splits = datasets.SplitDict()
        download_size = 0
        for split in _ordered_splits(configs[name]):
            path = folder / shard_path(name, split)
            table = pq.read_table(path)
            splits.add(datasets.SplitInfo(name=split, num_bytes=table.nbytes, num_examples=table.num_rows))
            download_size += path.stat().st_size
        infos[name] = datasets.DatasetInfo(
            features=datasets.Features.from_arrow_schema(RECORD_SCHEMA),
            splits=splits,
            download_size=download_size,
            dataset_size=sum(split.num_bytes for split in splits.values()),
        )
    card_data = DatasetCardData()
    infos.to_dataset_card_data(card_data)
    return card_data.dataset_info


def _card_text(card, configs: Mapping[str, Mapping[str, Any]], folder: Path) -> str:
    """The README text: ``card`` (a ``DatasetCard``, a string or ``None``) with its YAML ``configs:`` and
    ``dataset_info:`` set."""
    from huggingface_hub import DatasetCard, DatasetCardData

    if card is None:
        card = DatasetCard.from_template(DatasetCardData(), template_str="---\n{{ card_data }}\n---\n")
    elif isinstance(card, str):
        card = DatasetCard(card)
    else:
        card = DatasetCard(str(card))  # a copy: the caller's card is not modified
    card.data.configs = configs_yaml(configs)
    card.data.dataset_info = dataset_info_yaml(folder, configs)
    return str(card)


def is_dataset_folder(path: Path) -> bool:
    """Whether ``path`` looks like a folder written by :func:`write_dataset_folder`."""
    return (path / "README.md").is_file() and (path / "data").is_dir()


def write_dataset_folder(
    output_dir: str | os.PathLike,
    configs: Mapping[str, Mapping[str, list[Mapping[str, Any]]]],
    card=None,
    *,
    files: Mapping[str, bytes | str | os.PathLike] | None = None,
) -> Path:
    """Write ``{config: {split: records}}`` as a Hub-ready dataset folder and return its path.

    ``card`` is a ``huggingface_hub.DatasetCard`` (or its text, or ``None`` for a bare card); its YAML
    ``configs:`` is set to the shards written here. ``files`` maps extra relative paths (e.g. a plot) to
    bytes or to a file to copy. The folder is built in a staging folder beside ``output_dir`` and renamed
    into place (:func:`lima_hf.io.atomic_folder`), so a crash never leaves a half-written dataset; a previous
    output of lima-hf is replaced, any other non-empty folder (or one holding files lima-hf did not write)
    is refused.
    """
    output_dir = Path(output_dir)
    if DEFAULT_CONFIG not in configs:
        raise ValueError(f"configs must include '{DEFAULT_CONFIG}' (got {sorted(configs)})")
    with atomic_folder(output_dir) as staging:
        for config, splits in configs.items():
            for split, records in splits.items():
                target = staging / shard_path(config, split)
                target.parent.mkdir(parents=True, exist_ok=True)
                pq.write_table(records_table(list(records), f"{config}/{split}"), target)
        for relative, content in (files or {}).items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                shutil.copyfile(content, target)
        (staging / "README.md").write_text(_card_text(card, configs, staging), encoding="utf-8")
    return output_dir


def read_card(path: str | os.PathLike):
    """The ``huggingface_hub.DatasetCard`` of a dataset folder; a missing or malformed card raises
    :class:`~lima_hf.errors.InputError`."""
    import yaml
    from huggingface_hub import DatasetCard

    readme = Path(path) / "README.md"
    if not readme.is_file():
        raise InputError(f"{path}: no README.md dataset card (write the folder with `lima-hf build-dataset`)")
    try:
        return DatasetCard.load(readme)
    except (ValueError, yaml.YAMLError) as err:
        raise InputError(f"{readme}: malformed dataset card metadata ({err})") from err


def _data_files(entry: Any) -> list[tuple[str, list[str]]]:
    """``(split, path patterns)`` of a card's ``configs`` entry, in any form the Hub accepts (a pattern, a list
    of patterns, ``{split, path}`` mappings whose path is a pattern or a list)."""
    files = entry.get("data_files") or []
    files = [files] if isinstance(files, (str, dict)) else files
    result = []
    for item in files:
        split, paths = (item.get("split", "train"), item.get("path")) if isinstance(item, dict) else ("train", item)
        result.append((str(split), [paths] if isinstance(paths, str) else list(paths or [])))
    return result


def dataset_folder_configs(path: str | os.PathLike) -> dict[str, dict[str, list[Path]]]:
    """``{config: {split: shard paths}}`` of a dataset folder, read from its card's YAML ``configs:``; a config
    without a name or files, or a pattern that matches no file, raises :class:`~lima_hf.errors.InputError`."""
    path = Path(path)
    readme = path / "README.md"
    entries = read_card(path).data.to_dict().get("configs")
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{readme}: the card's YAML declares no 'configs' (which files make which split)")
    result: dict[str, dict[str, list[Path]]] = {}
    for entry in entries:
        name = entry.get("config_name") if isinstance(entry, dict) else None
        if not name:
            raise InputError(f"{readme}: a 'configs' entry has no config_name: {entry!r}")
        data_files = _data_files(entry)
        if not data_files:
            raise InputError(f"{readme}: config {name!r} lists no data_files")
        splits: dict[str, list[Path]] = {}
        for split, patterns in data_files:
            for pattern in patterns:
                shards = sorted(path.glob(pattern))
                if not shards:
                    raise InputError(f"{readme}: config {name!r} split {split!r} names {pattern!r}, which matches no file")
                splits.setdefault(split, []).extend(shards)
        result[name] = splits
    return result
