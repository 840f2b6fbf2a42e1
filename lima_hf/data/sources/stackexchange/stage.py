"""Stack Exchange's per-file stage on a datatrove executor: task ``i`` curates site ``i`` of the dump
(:func:`~lima_hf.data.sources.stackexchange.site.process_site`) and writes its outcome as JSON for the global
step (:mod:`lima_hf.data.sources.stackexchange.pipeline`). Imported only with ``--executor local|slurm|ray``."""

from __future__ import annotations

import dataclasses
from collections import Counter
from functools import partial
from pathlib import Path

from lima_hf.data.executors import run_files
from lima_hf.data.sources.stackexchange.candidates import Candidate, Verdict
from lima_hf.data.sources.stackexchange.comments import Comment
from lima_hf.data.sources.stackexchange.posts import Post
from lima_hf.data.sources.stackexchange.site import SiteOutcome, process_site

STAGE_VERSION = 1  # bump when a site's outcome changes for the same inputs and options


def site_result(jobs: list[tuple[str, str]], folder: str, config, rank: int) -> tuple[dict, dict[str, int]]:
    """Task ``rank``: curate site ``jobs[rank]``; its outcome as JSON and its counts for datatrove's stats."""
    site, label = jobs[rank]
    outcome = process_site(site, label, folder, dataclasses.replace(config, progress=False))
    counts = Counter({"rows": outcome.rows, "candidates": len(outcome.candidates)})
    counts.update(verdict.reason for verdict in outcome.rejected)
    return dataclasses.asdict(outcome), dict(counts)


def run_sites(jobs: list[tuple[str, str]], folder: Path, config) -> list[SiteOutcome]:
    """Stage 1 on ``config.executor``: each site's outcome, in the order of ``jobs``."""
    stamps = [folder / name for site, _ in jobs
              for name in (f"{site}.7z", f"{site}-Posts.7z", f"{site}-Comments.7z", f"{site}/Posts.xml",
                           f"{site}/Comments.xml")]
    results = run_files("Stack Exchange site", partial(site_result, jobs, str(folder), config),
                        [f"{folder / site} ({label})" for site, label in jobs], config,
                        key={"version": STAGE_VERSION, "jobs": jobs}, stamps=stamps)
    return [outcome_from_json(data) for data in results]


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
