"""People as a judge: the same tasks as a model judge, labelled in a sheet or on the annotation page.

:class:`PeopleJudge` answers a :class:`~lima_hf.evaluation.judges.base.JudgeTask` from one of:

- an annotation database (``database``, SQLite, :mod:`lima_hf.evaluation.annotation.store`): the task's
  items are added to it the first time (then :class:`LabelsPending`: serve them with ``lima-hf annotate``);
  later runs read the labels in. Each item's verdict is its first label; every annotator's labels are
  kept for the agreement figures; items nobody labelled yet count as unparsed.
- a folder of filled-in sheets (``labels_dir``, the ``annotation/`` folder exported before): ``<name>/
  annotation.csv`` (or a JSONL of ``{"item", "label"}``) with ``key.jsonl`` beside it.
- neither: the items are exported as ``annotation.csv`` (an opaque item number, the question, the
  answer(s), an empty ``label`` column), ``instructions.md`` and ``key.jsonl`` (which prompt, sample and
  order each item is; keep it from annotators) under ``OUTPUT_DIR/annotation/<name>/``, then
  :class:`LabelsPending`.

Of requests that show the same pair in two orders (one ``group``) people label one, chosen by a stable
coin flip per pair, as in the paper's study. Empty or unreadable labels are counted as unparsed.
"""

from __future__ import annotations

import csv
import io
import os
import random
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lima_hf.errors import InputError
from lima_hf.evaluation.judges.base import Judge, JudgeTask, LabelsPending
from lima_hf.io import atomic_open, read_jsonl, write_jsonl


@dataclass
class PeopleJudgeArguments:
    """Options of ``--judge people``."""

    labels: str | None = field(
        default=None, metadata={"help": "People: the folder of filled-in annotation sheets to import."}
    )
    database: str | None = field(
        default=None,
        metadata={"help": "People: the annotation database (SQLite) that `lima-hf annotate` serves; created and "
                  "filled with the items on the first run, read for labels on the next."},
    )


def for_people(task: JudgeTask, seed: int = 0) -> list[dict[str, Any]]:
    """The requests of ``task`` a person labels: one per ``group`` (a stable coin flip), all others as they are."""
    groups: dict[str, list[dict]] = {}
    chosen = []
    for request in task.requests:
        if request.get("group") is None:
            chosen.append(request)
        else:
            groups.setdefault(request["group"], []).append(request)
    for group, requests in groups.items():
        chosen.append(requests[zlib.crc32(f"{seed}|{group}".encode()) % len(requests)])
    order = {id(r): i for i, r in enumerate(task.requests)}
    return sorted(chosen, key=lambda r: order[id(r)])


class PeopleJudge(Judge):
    """Labels from people; see the module docstring."""

    Arguments = PeopleJudgeArguments
    needs_model = False

    def __init__(self, labels_dir: str | os.PathLike | None = None, database: str | os.PathLike | None = None,
                 seed: int = 0):
        if labels_dir is not None and database is not None:
            raise ValueError("people's labels come from a sheet folder or a database, not both")
        self.labels_dir = Path(labels_dir) if labels_dir is not None else None
        self.database = Path(database) if database is not None else None
        self.seed = seed
        source = self.database or self.labels_dir
        self.name = f"people ({source})" if source else "people"

    @classmethod
    def from_arguments(cls, args) -> PeopleJudge:
        """The judge of ``lima-hf ... --judge people`` options."""
        return cls(labels_dir=args.labels, database=args.database)

    def verdicts(self, task: JudgeTask, progress: bool = True) -> dict[str, dict[str, Any]]:
        requests = for_people(task, self.seed)
        if self.database is not None:
            return self._from_database(task, requests)
        if self.labels_dir is not None:
            folder = self.labels_dir / task.name
            return import_labels(folder / "annotation.csv", folder / "key.jsonl", task.parse)
        export_for_annotation(task.annotation_dir, task, requests, self.seed)
        raise LabelsPending(
            f"exported for annotation: {task.annotation_dir / 'annotation.csv'} (instructions.md beside it); fill "
            f"in the label column, then run again with --labels {task.annotation_dir.parent}"
        )

    def _from_database(self, task: JudgeTask, requests: list[dict]) -> dict[str, dict[str, Any]]:
        from lima_hf.evaluation.annotation.store import AnnotationStore

        with AnnotationStore(self.database) as store:
            store.add_task(task, requests)
            labels = store.labels(task.protocol, task.name)
        if not labels:
            raise LabelsPending(
                f"{len(requests)} {task.protocol} items ({task.name}) wait for people in {self.database}: serve them "
                f"with `lima-hf annotate --database {self.database}`, then run this command again"
            )
        verdicts = {}
        for request in requests:
            given = labels.get(request["key"], [])
            first = given[0] if given else None
            verdicts[request["key"]] = {
                "label": task.parse(first["label"]) if first else None,
                "reply": first["label"] if first else None,
                "attempts": len(given),
                "annotators": {g["annotator"]: task.parse(g["label"]) for g in given},
            }
        return verdicts


def export_for_annotation(folder: str | os.PathLike, task: JudgeTask, requests: list[dict], seed: int = 0) -> Path:
    """Write the annotation folder for ``requests`` (their ``fields`` become the columns) in a shuffled order;
    return the CSV path."""
    folder = Path(folder)
    order = list(range(len(requests)))
    random.Random(seed).shuffle(order)
    columns = ["item", *requests[0]["fields"], "label"] if requests else ["item", "label"]
    csv_path = folder / "annotation.csv"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for number, index in enumerate(order, start=1):
        writer.writerow({**requests[index]["fields"], "item": number, "label": ""})
    with atomic_open(csv_path) as handle:
        handle.write(buffer.getvalue())
    write_jsonl(folder / "key.jsonl", ({"item": n, "key": requests[i]["key"]} for n, i in enumerate(order, start=1)))
    with atomic_open(folder / "instructions.md") as handle:
        handle.write(
            f"# Annotation ({task.protocol})\n\nFor each row of `annotation.csv`, read the question and the "
            f"answer(s), then write in the `label` column {task.label_help}.\nThe question each annotator "
            "answers:\n\n"
            + "\n".join(f"> {line}" for line in task.instructions.splitlines())
            + "\n\nDo not open `key.jsonl`: it says which system wrote which answer.\n"
        )
    return csv_path


def import_labels(labels_path: str | os.PathLike, key_path: str | os.PathLike, parse) -> dict[str, dict]:
    """Verdicts ``key -> {"label", "reply", "attempts"}`` from a filled-in annotation file and its key."""
    labels_path, key_path = Path(labels_path), Path(key_path)
    key = {str(obj["item"]): obj["key"] for _, obj in read_jsonl(key_path)}
    if labels_path.suffix == ".jsonl":
        rows = [(f"{labels_path}:{line}", obj) for line, obj in read_jsonl(labels_path)]
    else:
        try:
            with open(labels_path, encoding="utf-8-sig", newline="") as handle:
                rows = [(f"{labels_path}:{n}", row) for n, row in enumerate(csv.DictReader(handle), start=2)]
        except FileNotFoundError as err:
            raise InputError(f"{labels_path}: file not found") from err
        except UnicodeDecodeError as err:
            raise InputError(f"{labels_path}: invalid UTF-8 at byte {err.start} ({err.reason}); save it as UTF-8") from err
        except csv.Error as err:
            raise InputError(f"{labels_path}: malformed CSV ({err})") from err
    verdicts = {}
    for where, row in rows:
        if not isinstance(row, dict) or "item" not in row or "label" not in row:
            raise InputError(f"{where}: needs 'item' and 'label' columns")
        item = str(row["item"]).strip()
        if item not in key:
            raise InputError(f"{where}: item {item!r} is not in {key_path}")
        text = str(row["label"] or "").strip()
        verdicts[key[item]] = {"label": parse(text) if text else None, "reply": text, "attempts": 1}
    missing = sorted(set(key) - {str(r["item"]).strip() for _, r in rows}, key=int)
    if missing:
        raise InputError(f"{labels_path}: {len(missing)} items of {key_path} have no row: {', '.join(missing[:20])}")
    return verdicts
