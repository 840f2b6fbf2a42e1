"""Where a source's per-file work runs: today's process pool, or one of datatrove's executors.

Curation has two stages per source. Stage 1 is the per-file work (for Stack Exchange, one task per site
archive: read, parse, apply the rules, write the candidates and rejections); stage 2 is the global step
(sampling across exchanges, records, counts) and always runs in the calling process. :func:`run_stage`
runs stage 1 as a datatrove pipeline, one task per file, on the executor the user picks (``EXECUTORS``):

- ``local``: :class:`datatrove.executor.LocalPipelineExecutor` on this machine (workers = cores by default);
- ``slurm``: :class:`datatrove.executor.SlurmPipelineExecutor` (a job array, one task per file); with
  ``dry_run`` the job script is written and shown, nothing is submitted;
- ``ray``: :class:`datatrove.executor.RayPipelineExecutor` on the cluster at ``ray_address``, or a local
  one started for the run.

Each task writes its result to ``<work_dir>/results/<task>.json`` atomically before datatrove marks it
complete (``<work_dir>/logs/completions/``), so a killed run started again skips the finished files and
redoes only the rest: nothing partial is taken as complete. The work folder's name is a hash of the inputs
and every option that shapes the results, so results made with other settings are never reused. A failed
task is reported with its file and error. ``pool`` is the process pool without a work folder (no
resumption), as lima-hf ran before datatrove: one file at a time in the calling process
(:func:`per_file`), or, for Stack Exchange's sites, a process pool of ``num_proc``.

``pool`` is the default, measured rather than assumed (docs/dataset.md, "Why pool is the default"): on one machine
datatrove's local executor is no faster (0.91x-1.08x the time on a 1 GB Posts.xml, ``bench_stackexchange.py``),
it adds a fixed cost of 2-5 s per stage to sources that take a second (``bench_executors.py``), and it keeps a
work folder per inputs and options; and datatrove needs ``numpy>=2`` where lima-hf admits 1.26, so it stays
the ``distributed`` extra.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib
import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lima_hf.io import InputError
from lima_hf.registry import Registry

EXECUTOR_CHOICES = ("pool", "local", "slurm", "ray")
DISTRIBUTED_INSTALL = "pip install 'lima-hf[distributed]'"


@dataclass
class ExecutorConfig:
    """Options of the per-file stage's executor (a source's ``Config`` inherits them).

    Parameters:
        executor (`str`): ``pool``, ``local``, ``slurm`` or ``ray`` (see :mod:`lima_hf.data.executors`).
        num_proc (`int`, *optional*): processes or workers (default: 1 with ``pool``, every core otherwise).
        work_dir (`str`, *optional*): where stage 1 keeps its per-file results, logs and completion marks.
        slurm_partition, slurm_time, slurm_cpus, slurm_mem_gb, slurm_env: the Slurm job array's resources.
        ray_address (`str`, *optional*): a running Ray cluster; a local one is started without it.
        dry_run (`bool`): with ``slurm``, write and show the job script without submitting it.
    """

    executor: str = field(
        default="pool",
        metadata={"help": "Where the per-file stage runs: 'pool' (this machine, no work folder; the default: on one "
                  "machine datatrove is no faster and adds a fixed cost per stage, docs/dataset.md), 'local' "
                  "(datatrove LocalPipelineExecutor, every core, resumable), 'slurm' (a Slurm job array) or 'ray' "
                  "(a Ray cluster).", "choices": list(EXECUTOR_CHOICES)},
    )
    num_proc: int | None = field(
        default=None,
        metadata={"help": "Files (Stack Exchange: sites) processed in parallel, as processes or executor workers; "
                  "default: 1 with --executor pool, every core with local and ray."},
    )
    work_dir: str | None = field(
        default=None,
        metadata={"help": "Folder of the per-file results, logs and completion marks of local/slurm/ray (shared "
                  "by every node), in a subfolder named by the hash of the inputs and options; default: "
                  "~/.cache/lima_hf/curate."},
    )
    slurm_partition: str | None = field(default=None, metadata={"help": "Slurm partition (executor slurm)."})
    slurm_time: str = field(default="04:00:00", metadata={"help": "Slurm time limit per task."})
    slurm_cpus: int = field(default=1, metadata={"help": "CPUs per Slurm task."})
    slurm_mem_gb: int = field(default=4, metadata={"help": "Memory per CPU of a Slurm task (GB)."})
    slurm_env: str | None = field(
        default=None, metadata={"help": "Shell line that sets up lima-hf on the nodes (e.g. 'source venv/bin/activate')."}
    )
    ray_address: str | None = field(
        default=None, metadata={"help": "Address of a running Ray cluster (executor ray); default: start a local one."}
    )
    dry_run: bool = field(
        default=False, metadata={"help": "With --executor slurm: write and print the job script, submit nothing."}
    )

    def __post_init__(self):
        super().__post_init__()
        if self.num_proc is not None and self.num_proc < 1:
            raise ValueError(f"num_proc must be at least 1, not {self.num_proc}")
        if self.executor not in EXECUTOR_CHOICES:
            raise ValueError(f"executor must be one of {', '.join(EXECUTOR_CHOICES)}, not {self.executor!r}")
        if self.executor == "slurm" and not self.slurm_partition:
            raise ValueError("--executor slurm needs --slurm_partition")


def _check_factory(name: str, entry: Any) -> None:
    if not callable(entry):
        raise TypeError(f"executor {name!r} must be a callable (pipeline, tasks, workers, logs, options) -> executor")


EXECUTORS: Registry[Callable] = Registry("executor", {
    "local": "lima_hf.data.executors:local_executor",
    "slurm": "lima_hf.data.executors:slurm_executor",
    "ray": "lima_hf.data.executors:ray_executor",
}, check=_check_factory)


def local_executor(pipeline, tasks: int, workers: int, logs: Path, options: ExecutorConfig):
    from datatrove.executor import LocalPipelineExecutor

    return LocalPipelineExecutor(pipeline, tasks=tasks, workers=min(workers, tasks), logging_dir=str(logs),
                                 start_method="fork" if workers > 1 else "spawn")


def slurm_executor(pipeline, tasks: int, workers: int, logs: Path, options: ExecutorConfig):
    from datatrove.executor import SlurmPipelineExecutor

    workers = getattr(options, "num_proc", None) or -1  # a job array runs every task at once unless told
    return SlurmPipelineExecutor(pipeline, tasks=tasks, workers=workers, time=options.slurm_time,
                                 partition=options.slurm_partition, cpus_per_task=options.slurm_cpus,
                                 mem_per_cpu_gb=options.slurm_mem_gb, job_name="lima-hf-curate", logging_dir=str(logs),
                                 env_command=options.slurm_env, mail_type="NONE")


def ray_executor(pipeline, tasks: int, workers: int, logs: Path, options: ExecutorConfig):
    _require("ray", options)
    import ray
    from datatrove.executor import RayPipelineExecutor

    if not ray.is_initialized():
        if options.ray_address:
            ray.init(address=options.ray_address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    return RayPipelineExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=str(logs), mem_per_cpu_gb=0.5)


def _require(package: str, config) -> None:
    """An :class:`~lima_hf.io.InputError` naming the extra to install when ``package`` is missing."""
    try:
        importlib.import_module(package)
    except ImportError as err:
        raise InputError(f"--executor {config.executor} needs {package} ({DISTRIBUTED_INSTALL}): {err}") from err


def work_folder(config, key: dict) -> Path:
    """The stage's folder: named by the hash of ``key`` (inputs and options) and the lima-hf version under
    ``config.work_dir``, or under the cache, so that a run resumes only the results of the same inputs, settings
    and code."""
    from lima_hf import __version__

    key = {**key, "lima_hf": __version__}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    if config.work_dir:
        return Path(config.work_dir) / digest
    cache = Path(os.environ.get("LIMA_HF_CACHE") or Path.home() / ".cache" / "lima_hf")
    return cache / "curate" / digest


def file_stamp(paths: Sequence[Path]) -> list[tuple[str, int, int]]:
    """Path, size and modification time of each existing file: part of a work folder's key."""
    return [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths if p.is_file()]


class TaskFailed(InputError):
    """Tasks of stage 1 that did not complete: each named with its file and error."""


class Submitted(Exception):  # not an error: the run goes on elsewhere
    """Stage 1 was handed to a scheduler (or only shown, ``dry_run``): the global step runs on a later call."""


def run_stage(step, files: Sequence[str], config, work: Path, workers: int) -> list[Path]:
    """Run ``step`` (a datatrove ``PipelineStep`` whose task ``i`` handles ``files[i]`` and writes
    ``work/results/<i>.json``) on ``config.executor``; the result paths in task order. Raises
    :class:`Submitted` when the tasks were handed to Slurm (or only shown, ``dry_run``)."""
    _require("datatrove", config)
    factory = EXECUTORS.get(config.executor)
    work.mkdir(parents=True, exist_ok=True)
    (work / "files.json").write_text(json.dumps(list(files), indent=1) + "\n", encoding="utf-8")
    logs = work / "logs"
    executor = factory([step], len(files), workers, logs, config)
    results = [work / "results" / f"{i:05d}.json" for i in range(len(files))]
    if config.executor == "slurm":
        if not all(path.is_file() for path in results):
            raise Submitted(_submit_slurm(executor, files, config, work))
        return results  # each task wrote its result as its last step (atomically): no job to launch
    try:
        with _datatrove_log(getattr(config, "progress", True)):
            executor.run()
    except Exception as err:  # a task raised: say which files, and keep the completed ones for the next run
        failed = [f"{files[i]}: {_task_error(logs, i)}" for i in range(len(files)) if not results[i].is_file()]
        raise TaskFailed(f"{len(failed)} of {len(files)} files failed ({type(err).__name__}); logs in {logs}; "
                         "run the same command again to redo only these:\n  " + "\n  ".join(failed)) from err
    missing = [files[i] for i in range(len(files)) if not results[i].is_file()]
    if missing:
        raise TaskFailed(f"{len(missing)} file(s) without a result (logs in {logs}); run the same command again to "
                         f"redo them: {', '.join(missing)}")
    return results


# options that decide where and how a stage runs, not what it finds (left out of the work folder's key)
EXECUTION_OPTIONS = {"progress", "report", "num_proc", "sevenzip_backend", "executor", "work_dir", "slurm_partition",
                     "slurm_time", "slurm_cpus", "slurm_mem_gb", "slurm_env", "ray_address", "dry_run", "input"}


def run_files(name: str, work: Callable[[int], tuple[Any, dict[str, int]]], files: Sequence[str], config, *,
              key: dict, stamps: Sequence[Path]) -> list[Any]:
    """Stage 1 of a source on ``config.executor``: task ``i`` runs ``work(i)`` (picklable) for ``files[i]``;
    what each task returned (JSON), in task order. ``key`` (what else shapes the results) and the ``stamps``
    of the input files name the work folder, with every option of ``config`` outside ``EXECUTION_OPTIONS``."""
    _require("datatrove", config)
    from lima_hf.data.file_task import FileTask

    options = {k: v for k, v in dataclasses.asdict(config).items() if k not in EXECUTION_OPTIONS}
    folder = work_folder(config, {**key, "stage": name, "files": file_stamp(stamps), "options": options})
    step = FileTask(name, work, str(folder / "results"))
    workers = getattr(config, "num_proc", None) or os.cpu_count() or 1
    results = run_stage(step, files, config, folder, workers)
    return [json.loads(path.read_text(encoding="utf-8")) for path in results]


def per_file(name: str, work: Callable[[Path, Any], Any], paths: Sequence[Path], config, *, key: dict,
             counts: Callable[[Any], dict[str, int]] | None = None) -> Iterator[Any]:
    """Stage 1 of a source that reads its input one file at a time: ``work(path, config)`` (picklable) on each of
    ``paths``, the results in file order. With ``--executor pool`` each file is read in this process when the
    global step asks for it (one file's result in memory at a time; an error raised stops at its file); with
    ``local``, ``slurm`` or ``ray`` each file is a datatrove task (:func:`run_files`; ``key``: what shapes the
    results besides the files and the options; ``counts(result)``: the task's numbers for datatrove's stats)."""
    if config.executor == "pool" or not paths:
        return (work(Path(path), config) for path in paths)
    names = [str(path) for path in paths]
    task = functools.partial(_file_task, work, names, config, counts)
    return iter(run_files(name, task, names, config, key=key, stamps=[Path(path) for path in paths]))


def _file_task(work, paths: list[str], config, counts, rank: int) -> tuple[Any, dict[str, int]]:
    """A datatrove task of :func:`per_file`: ``work`` on file ``rank`` (no progress bars in tasks)."""
    result = work(Path(paths[rank]), dataclasses.replace(config, progress=False))
    return result, (counts(result) if counts else {})


def _submit_slurm(executor, files: Sequence[str], config, work: Path) -> str:
    script = executor.get_launch_file_contents(
        executor.get_sbatch_args(len(files)),
        f"srun -l launch_pickled_pipeline {executor.logging_dir.resolve_paths('executor.pik')}",
    )
    path = work / "launch_script.slurm"
    path.write_text(script, encoding="utf-8")
    if config.dry_run:
        return f"# Slurm job script ({len(files)} tasks), written to {path}; nothing submitted (--dry_run)\n{script}"
    executor.run()
    return (f"submitted Slurm job {executor.job_id} ({len(files)} tasks, logs in {executor.logging_dir.path}); run "
            "the same command again once it has finished to run the global step")


def _task_error(logs: Path, rank: int) -> str:
    """The last error line of task ``rank``'s datatrove log, or a pointer to it."""
    log = logs / "logs" / f"task_{rank:05d}.log"
    try:
        lines = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        return f"no log ({log})"
    errors = [line for line in lines if "Error" in line or "error" in line]
    return (errors[-1] if errors else lines[-1] if lines else "empty log").strip()[-300:]


class _DatatroveLog(io.TextIOBase):
    """stderr while datatrove runs: its INFO/DEBUG/SUCCESS lines (each task's start, pipeline, stats; the full
    logs stay in the work folder) are dropped, its warnings and errors and everything else pass, and with
    ``progress`` its "n/N tasks completed" lines."""

    _ROUTINE = re.compile(r"^(\[NODE \d+\] )?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \| (INFO|DEBUG|SUCCESS|TRACE) ")

    def __init__(self, stream, progress: bool):
        self.stream, self.progress = stream, progress

    def write(self, text: str) -> int:
        if not self._ROUTINE.match(text) or (self.progress and "tasks completed" in text):
            self.stream.write(text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


@contextlib.contextmanager
def _datatrove_log(progress: bool):
    from datatrove.utils.logging import setup_default_logger

    original = sys.stderr
    sys.stderr = _DatatroveLog(original, progress)
    setup_default_logger()  # datatrove's handler in this process, on the filtered stderr (tasks add their own)
    try:
        yield
    finally:
        sys.stderr = original
        setup_default_logger()
