"""An append-only JSON-lines file that a long job can be interrupted in and resumed from.

Each finished unit of work (a generated answer, a judge reply) is appended and flushed to disk at once,
so an interruption loses at most the unit in flight. On resume the records already there are read back
(a last line cut short by a crash is dropped, with a warning) and their work is skipped.

Each record carries ``produced_by``, the fingerprint of what made it (model and its revision, sampling
settings, template, judge...). Resuming with other settings stops with :class:`SettingsChangedError`
instead of mixing results of two set-ups; ``overwrite=True`` starts the file anew.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from lima_hf.errors import InputError
from lima_hf.io import atomic_open, claim, dump_jsonl_line

FINGERPRINT_KEY = "produced_by"


class SettingsChangedError(InputError):
    """A resumable output holds results made with other settings than this run's."""


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        rows = []
        for key in sorted(set(old) | set(new), key=str):
            rows += _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return rows
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]


class ResumableJsonl:
    """Records of ``path`` (read on creation) plus :meth:`append` to add finished ones durably.

    ``fingerprint`` (a JSON-able mapping) is stored in every appended record; records already in the file
    must carry the same one, else :class:`SettingsChangedError` (``overwrite=True``: the file is emptied
    and written anew; with the same settings it is resumed as usual).
    """

    def __init__(self, path: str | os.PathLike, fingerprint: dict[str, Any] | None = None, *,
                 overwrite: bool = False, what: str = "results",
                 hint: str = "choose another output, or pass --overwrite to start it anew"):
        self.path = Path(path)
        self.fingerprint = None if fingerprint is None else json.loads(json.dumps(fingerprint))
        self.records: list[dict[str, Any]] = []
        if self.path.is_file():
            self._read()
            if overwrite and self.fingerprint is not None and any(
                r.get(FINGERPRINT_KEY) != self.fingerprint for r in self.records
            ):
                with atomic_open(self.path) as handle:  # only a file lima-hf wrote is emptied
                    handle.write("")
                self.records = []
            self._check(what, hint)

    def _check(self, what: str, hint: str) -> None:
        if self.fingerprint is None:
            return
        for record in self.records:
            made = record.get(FINGERPRINT_KEY)
            if made == self.fingerprint:
                continue
            changes = "; ".join(_differences(made, self.fingerprint)) if isinstance(made, dict) else (
                "its records do not say what produced them")
            raise SettingsChangedError(
                f"{self.path}: holds {what} made with other settings ({changes}); they are not mixed with this "
                f"run's: {hint}"
            )

    def _read(self) -> None:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as err:
            raise InputError(f"{self.path}: invalid UTF-8 ({err.reason}); not an output of this tool?") from err
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                self.records.append(json.loads(line))
            except json.JSONDecodeError as err:
                if number == len(lines):  # the line being written when the last run stopped
                    warnings.warn(f"{self.path}:{number}: dropping a truncated last line from an interrupted run")
                    with atomic_open(self.path, replace="any") as handle:
                        handle.writelines(dump_jsonl_line(record) for record in self.records)
                    return
                raise InputError(f"{self.path}:{number}: malformed JSON ({err.msg}); not an output of this tool?")

    def append(self, records: list[dict[str, Any]] | dict[str, Any]) -> None:
        """Append records (stamped with the fingerprint) and make them durable before returning."""
        if isinstance(records, dict):
            records = [records]
        if not records:
            return
        if self.fingerprint is not None:
            records = [{**record, FINGERPRINT_KEY: self.fingerprint} for record in records]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.writelines(dump_jsonl_line(record) for record in records)
            handle.flush()
            os.fsync(handle.fileno())
        if new:
            claim(self.path)
        self.records.extend(records)
