"""Stack Exchange's per-file stage as a datatrove pipeline step: task ``i`` curates site ``i`` of the dump
(:func:`~lima_hf.data.sources.stackexchange.site.process_site`) and writes its outcome as JSON for the global
step (:mod:`lima_hf.data.sources.stackexchange.pipeline`). Imported only with ``--executor local|slurm|ray``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from datatrove.pipeline.base import PipelineStep

from lima_hf.data.executors import file_stamp, run_stage, work_folder, write_result
from lima_hf.data.sources.stackexchange.candidates import Candidate, Verdict
from lima_hf.data.sources.stackexchange.comments import Comment
from lima_hf.data.sources.stackexchange.posts import Post
from lima_hf.data.sources.stackexchange.site import SiteOutcome, process_site

STAGE_VERSION = 1  # bump when a site's outcome changes for the same inputs and options
# options that decide where and how the stage runs, not what it finds
EXECUTION_OPTIONS = {"progress", "report", "num_proc", "sevenzip_backend", "executor", "work_dir", "slurm_partition",
                     "slurm_time", "slurm_cpus", "slurm_mem_gb", "slurm_env", "ray_address", "dry_run", "input"}


class SiteTask(PipelineStep):
    """Task ``rank`` curates ``jobs[rank]`` (site, label) and writes ``<results>/<rank>.json``."""

    name = "Stack Exchange site"
    type = "lima-hf"

    def __init__(self, jobs: list[tuple[str, str]], folder: str, config, results: str):
        super().__init__()
        self.jobs, self.folder, self.results = jobs, folder, results
        self.config = dataclasses.replace(config, progress=False)

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        site, label = self.jobs[rank]
        with self.track_time(unit="site"):
            outcome = process_site(site, label, self.folder, self.config)
        self.stat_update("rows", value=outcome.rows)
        self.stat_update("candidates", value=len(outcome.candidates))
        for verdict in outcome.rejected:
            self.stat_update(verdict.reason)
        write_result(Path(self.results) / f"{rank:05d}.json", dataclasses.asdict(outcome))
        return None


def run_sites(jobs: list[tuple[str, str]], folder: Path, config, workers: int) -> list[SiteOutcome]:
    """Stage 1 on ``config.executor``: each site's outcome, in the order of ``jobs``."""
    options = {k: v for k, v in dataclasses.asdict(config).items() if k not in EXECUTION_OPTIONS}
    files = [folder / name for site, _ in jobs
             for name in (f"{site}.7z", f"{site}-Posts.7z", f"{site}-Comments.7z", f"{site}/Posts.xml",
                          f"{site}/Comments.xml")]
    work = work_folder(config, {"stage": "stackexchange", "version": STAGE_VERSION, "jobs": jobs,
                                "files": file_stamp(files), "options": options})
    step = SiteTask(jobs, str(folder), config, str(work / "results"))
    results = run_stage(step, [f"{folder / site} ({label})" for site, label in jobs], config, work, workers)
    return [outcome_from_json(json.loads(path.read_text(encoding="utf-8"))) for path in results]


def outcome_from_json(data: dict) -> SiteOutcome:
    """The :class:`SiteOutcome` a task wrote (``dataclasses.asdict`` of it)."""
    data = dict(data)
    data["candidates"] = [Candidate(**{**c, "question": Post(**c["question"]), "answer": Post(**c["answer"])})
                          for c in data["candidates"]]
    data["rejected"] = [Verdict(**v) for v in data["rejected"]]
    data["dialogues"] = {int(answer): [(role, [Comment(**c) for c in group]) for role, group in turns]
                         for answer, turns in data["dialogues"].items()}
    data["skipped_rows"] = [tuple(row) for row in data["skipped_rows"]]
    return SiteOutcome(**data)
