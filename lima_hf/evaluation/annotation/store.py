"""The annotation database: the items people label and every label, in one SQLite file.

Three tables: ``tasks`` (a protocol and a task name, e.g. ``pairwise`` / the baseline; its instructions and
allowed labels), ``items`` (what a person reads, and the key that ties it back to a prompt, sample and
order; the key is never shown) and ``labels`` (item, annotator id, label, UTC time). Several annotators at
once and restarts are safe: the file is in WAL mode (readers never block the writer), every write is one
``BEGIN IMMEDIATE`` transaction with a busy timeout, and unique constraints hold one task per (protocol,
name), one item per (task, key) and one label per (item, annotator); labelling an item again replaces
that annotator's label. Each annotator gets the items in an order of their own (a hash of their id and
the item), so annotators starting together do not all read the same first items.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lima_hf.errors import InputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY,
    protocol TEXT NOT NULL,
    name TEXT NOT NULL,
    instructions TEXT NOT NULL,
    labels TEXT NOT NULL,
    label_help TEXT NOT NULL,
    created TEXT NOT NULL,
    UNIQUE (protocol, name)
);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    task_id INTEGER NOT NULL REFERENCES tasks (id),
    key TEXT NOT NULL,
    fields TEXT NOT NULL,
    UNIQUE (task_id, key)
);
CREATE TABLE IF NOT EXISTS labels (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items (id),
    annotator TEXT NOT NULL,
    label TEXT NOT NULL,
    created TEXT NOT NULL,
    UNIQUE (item_id, annotator)
);
"""

_ANNOTATOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def check_annotator(annotator: str) -> str:
    """The annotator id, stripped; letters, digits and ``_.@-`` (up to 64), else ``ValueError``."""
    annotator = (annotator or "").strip()
    if not _ANNOTATOR.match(annotator):
        raise ValueError("an annotator id is 1-64 letters, digits or _.@- (e.g. your initials)")
    return annotator


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class AnnotationStore:
    """One connection to the annotation database ``path`` (created with its schema when missing)."""

    def __init__(self, path: str | os.PathLike, timeout: float = 30.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            with self.transaction():
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
        except sqlite3.DatabaseError as err:
            raise InputError(f"{self.path}: not an annotation database ({err})") from err

    def __enter__(self) -> AnnotationStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def transaction(self):
        """``with store.transaction():`` one ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error)."""
        store = self

        class _Transaction:
            def __enter__(self):
                store.db.execute("BEGIN IMMEDIATE")

            def __exit__(self, kind, value, traceback):
                store.db.execute("COMMIT" if kind is None else "ROLLBACK")

        return _Transaction()

    # --- tasks and items ------------------------------------------------------------------------------------
    def add_task(self, task, requests: list[dict]) -> int:
        """Add a :class:`~lima_hf.evaluation.judges.base.JudgeTask`'s ``requests`` (once); return the task id.
        A task of the same protocol and name with other items is an error (use another database)."""
        with self.transaction():
            row = self.db.execute(
                "SELECT id FROM tasks WHERE protocol = ? AND name = ?", (task.protocol, task.name)
            ).fetchone()
            if row is None:
                task_id = self.db.execute(
                    "INSERT INTO tasks (protocol, name, instructions, labels, label_help, created) VALUES (?,?,?,?,?,?)",
                    (task.protocol, task.name, task.instructions, json.dumps(list(task.labels)), task.label_help,
                     _now()),
                ).lastrowid
                self.db.executemany(
                    "INSERT INTO items (task_id, key, fields) VALUES (?, ?, ?)",
                    [(task_id, r["key"], json.dumps(r["fields"], ensure_ascii=False)) for r in requests],
                )
                return task_id
            task_id = row["id"]
            have = {r["key"]: r["fields"] for r in self.db.execute("SELECT key, fields FROM items WHERE task_id = ?",
                                                                   (task_id,))}
            wanted = {r["key"]: json.dumps(r["fields"], ensure_ascii=False) for r in requests}
            if have != wanted:
                raise InputError(
                    f"{self.path} already holds a {task.protocol} task '{task.name}' with other items (other answers, "
                    "sample or order); give this study its own --database"
                )
            return task_id

    def tasks(self) -> list[dict[str, Any]]:
        """Every task: ``{"id", "protocol", "name", "instructions", "labels", "label_help", "items"}``."""
        rows = self.db.execute(
            "SELECT t.*, (SELECT COUNT(*) FROM items i WHERE i.task_id = t.id) AS n FROM tasks t ORDER BY t.id"
        ).fetchall()
        return [{"id": r["id"], "protocol": r["protocol"], "name": r["name"], "instructions": r["instructions"],
                 "labels": json.loads(r["labels"]), "label_help": r["label_help"], "items": r["n"]} for r in rows]

    def _order(self, annotator: str, item_id: int) -> str:
        return hashlib.sha256(f"{annotator}|{item_id}".encode()).hexdigest()

    def next_item(self, annotator: str) -> dict[str, Any] | None:
        """The next item ``annotator`` has not labelled (task by task, in the annotator's own order), with its
        task's ``protocol``, ``instructions``, ``labels`` and ``task_id``; ``None`` when all are done."""
        annotator = check_annotator(annotator)
        rows = self.db.execute(
            "SELECT i.id, i.task_id, i.fields FROM items i WHERE NOT EXISTS "
            "(SELECT 1 FROM labels l WHERE l.item_id = i.id AND l.annotator = ?)",
            (annotator,),
        ).fetchall()
        if not rows:
            return None
        row = min(rows, key=lambda r: (r["task_id"], self._order(annotator, r["id"])))
        task = next(t for t in self.tasks() if t["id"] == row["task_id"])
        return {"item_id": row["id"], "task_id": row["task_id"], "fields": json.loads(row["fields"]),
                "protocol": task["protocol"], "instructions": task["instructions"], "labels": task["labels"],
                "label_help": task["label_help"]}

    def progress(self, annotator: str) -> tuple[int, int]:
        """``(items annotator has labelled, items in the database)``."""
        annotator = check_annotator(annotator)
        done = self.db.execute("SELECT COUNT(*) FROM labels WHERE annotator = ?", (annotator,)).fetchone()[0]
        total = self.db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        return done, total

    # --- labels ---------------------------------------------------------------------------------------------
    def add_label(self, item_id: int, annotator: str, label: str) -> None:
        """Store ``annotator``'s ``label`` of item ``item_id`` (replacing their earlier one), with the time."""
        annotator = check_annotator(annotator)
        with self.transaction():
            row = self.db.execute(
                "SELECT t.labels FROM items i JOIN tasks t ON t.id = i.task_id WHERE i.id = ?", (item_id,)
            ).fetchone()
            if row is None:
                raise ValueError(f"no item {item_id} in {self.path}")
            allowed = json.loads(row["labels"])
            if label not in allowed:
                raise ValueError(f"label {label!r} is not one of {', '.join(allowed)}")
            self.db.execute(
                "INSERT INTO labels (item_id, annotator, label, created) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (item_id, annotator) DO UPDATE SET label = excluded.label, created = excluded.created",
                (item_id, annotator, label, _now()),
            )

    def labels(self, protocol: str, name: str) -> dict[str, list[dict[str, Any]]]:
        """``item key -> [{"annotator", "label", "created"}, ...]`` of a task, earliest label first."""
        rows = self.db.execute(
            "SELECT i.key, l.annotator, l.label, l.created FROM labels l JOIN items i ON i.id = l.item_id "
            "JOIN tasks t ON t.id = i.task_id WHERE t.protocol = ? AND t.name = ? ORDER BY l.created, l.id",
            (protocol, name),
        ).fetchall()
        result: dict[str, list[dict]] = {}
        for row in rows:
            result.setdefault(row["key"], []).append(
                {"annotator": row["annotator"], "label": row["label"], "created": row["created"]}
            )
        return result
