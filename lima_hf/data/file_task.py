"""The one datatrove pipeline step of lima-hf's per-file stages: task ``rank`` runs ``work(rank)`` (a picklable
callable: a module-level function, or a :func:`functools.partial` of one) and writes what it returns, as JSON,
to ``<results>/<rank>.json`` before datatrove marks the task complete. Imported only with a datatrove executor
(:mod:`lima_hf.data.executors`)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from datatrove.pipeline.base import PipelineStep


class FileTask(PipelineStep):
    """``work(rank) -> (result, counts)``: the result is written for the global step, the counts (name ->
    number) go to datatrove's per-task stats."""

    type = "lima-hf"

    def __init__(self, name: str, work: Callable[[int], tuple[Any, dict[str, int]]], results: str):
        super().__init__()
        self.name, self.work, self.results = name, work, results

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        with self.track_time(unit="file"):
            result, counts = self.work(rank)
        for label, value in counts.items():
            self.stat_update(label, value=value)
        write_result(Path(self.results) / f"{rank:05d}.json", result)


def write_result(path: Path, data: Any) -> None:
    """Write a task's result atomically (a killed task leaves no half-written result)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
