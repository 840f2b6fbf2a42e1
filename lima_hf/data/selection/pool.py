"""Read a candidate pool: a dataset folder (``lima-hf build-dataset``), a records JSONL or Parquet file
(``lima-hf curate``), the released LIMA layout, or any dataset with a ``messages`` column (local file or Hub
id), normalised to records with an ``id``, a ``source`` and at least one user and one assistant turn."""

from __future__ import annotations

from lima_hf.data.loading import load_lima_dataset
from lima_hf.errors import InputError


def load_pool(
    pool: str, *, config: str = "default", split: str = "train", on_error: str = "raise"
) -> tuple[list[dict], list[dict]]:
    """``(records, skipped)`` of the pool's ``config``/``split``; ``skipped`` lists each row dropped as
    malformed (``on_error="skip"``) with its reason; with ``on_error="raise"`` the first one raises
    :class:`~lima_hf.errors.InputError` naming the pool and the row. A candidate needs a non-empty user and a
    non-empty assistant turn; one without a ``source`` counts as ``unknown``."""
    skipped: list[dict] = []
    data = load_lima_dataset(pool, config, split=split, needs="conversation", on_error=on_error, rejections=skipped)
    records = [{**record, "source": record["source"] or "unknown"} for rows in data.values() for record in rows]
    if not records:
        raise InputError(f"{pool}: no usable candidates in config '{config}' split '{split}'")
    return records, skipped
