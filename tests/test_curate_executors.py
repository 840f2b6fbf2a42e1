"""The per-file stage of every source on datatrove's executors: byte-identical output on the local executor and a
local Ray cluster, a killed run resumes to the same output (Stack Exchange, the per-file sources), a failed task
names its file, the Slurm job script."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_curate_reference import _digests, _reference, run_stackexchange

pytest.importorskip("datatrove", reason="the distributed extra (datatrove) is not installed")

QUIET = ["--no_progress", "--no_report"]


def test_local_executor_gives_the_reference_output(shared_data, tmp_path):
    options = ["--executor", "local", "--num_proc", "2", "--work_dir", str(tmp_path / "work")]
    assert run_stackexchange(shared_data, tmp_path / "se" / "se.jsonl", options) == 0
    assert _digests(tmp_path, "se") == _reference("se")
    results = list((tmp_path / "work").glob("*/results/*.json"))
    assert len(results) == 2 and len(list((tmp_path / "work").glob("*/logs/completions/*"))) == 2
    # other settings never reuse these results: a second folder
    assert run_stackexchange(shared_data, tmp_path / "sek" / "se.jsonl",
                             ["--top_k", "40", "--min_answer_score", "2", "--min_chars", "500", *options]) == 0
    assert _digests(tmp_path, "sek") == _reference("sek")
    assert len(list((tmp_path / "work").iterdir())) == 2


KILLED_RUN = """
import sys, time
from lima_hf.data.sources.stackexchange import stage
done = stage.process_site
def slow_second(site, *args):
    if site.startswith("quantumcomputing"):
        time.sleep(600)  # killed here, after the first site's task completed
    return done(site, *args)
stage.process_site = slow_second
from lima_hf.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _kill_after_the_first_task(script: str, argv: list[str], work: Path):
    """Run ``script`` with ``argv`` in its own session, SIGKILL it once task 0 has completed under ``work``;
    returns task 0's result file and its modification time."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent), *sys.path])}
    process = subprocess.Popen([sys.executable, "-c", script, *argv], env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not list(work.glob("*/logs/completions/00000")):
            assert process.poll() is None and time.time() < deadline, "the first task never completed"
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    (first,) = work.glob("*/results/00000.json")
    return first, first.stat().st_mtime_ns


def test_a_killed_run_resumes_to_the_same_output(shared_data, tmp_path):
    options = ["--executor", "local", "--num_proc", "1", "--work_dir", str(tmp_path / "work")]
    argv = ["curate", "stackexchange", "--input", str(shared_data / "stackexchange"), "--output",
            str(tmp_path / "se" / "se.jsonl"), *QUIET, *options]
    first, stamp = _kill_after_the_first_task(KILLED_RUN, argv, tmp_path / "work")
    assert not list((tmp_path / "work").glob("*/results/00001.json")) and not (tmp_path / "se").exists()
    from lima_hf.cli import main

    assert main(argv) == 0
    assert _digests(tmp_path, "se") == _reference("se")
    assert first.stat().st_mtime_ns == stamp  # the completed site was not redone


def test_a_failed_task_names_its_file_and_the_completed_ones_are_kept(shared_data, tmp_path, capsys):
    dump = tmp_path / "dump"
    dump.mkdir()
    for name in ("Sites.xml", "beer.stackexchange.com.7z"):
        (dump / name).symlink_to(shared_data / "stackexchange" / name)
    (dump / "quantumcomputing.stackexchange.com.7z").write_bytes(b"7z\xbc\xaf\x27\x1c not really an archive")
    options = ["--executor", "local", "--num_proc", "1", "--work_dir", str(tmp_path / "work")]
    from lima_hf.cli import main

    code = main(["curate", "stackexchange", "--input", str(dump), "--output", str(tmp_path / "se.jsonl"), *QUIET,
                 *options])
    err = capsys.readouterr().err
    assert code == 1 and "1 of 2 files failed" in err and "quantumcomputing.stackexchange.com" in err
    assert "run the same command again" in err and not (tmp_path / "se.jsonl").exists()
    assert len(list((tmp_path / "work").glob("*/logs/completions/*"))) == 1  # beer's task is kept


def test_slurm_job_script_is_written_and_shown(shared_data, tmp_path, capsys):
    options = ["--executor", "slurm", "--slurm_partition", "cpu", "--slurm_time", "01:30:00", "--slurm_cpus", "2",
               "--slurm_mem_gb", "3", "--slurm_env", "source /opt/venv/bin/activate", "--dry_run",
               "--work_dir", str(tmp_path / "work")]
    assert run_stackexchange(shared_data, tmp_path / "se.jsonl", options) == 0
    shown = capsys.readouterr().out
    (script,) = (tmp_path / "work").glob("*/launch_script.slurm")
    text = script.read_text()
    assert text in shown and "nothing submitted" in shown and not (tmp_path / "se.jsonl").exists()
    for line in ("#!/bin/bash", "#SBATCH --partition=cpu", "#SBATCH --time=01:30:00", "#SBATCH --cpus-per-task=2",
                 "#SBATCH --mem-per-cpu=3G", "#SBATCH --array=0-1", "source /opt/venv/bin/activate",
                 "launch_pickled_pipeline"):
        assert line in text, line
    assert str(script.parent / "logs" / "executor.pik") in text


RAY_RUN = """
import json, os, sys
import ray
try:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1",
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(sys.path)}})
except Exception as err:  # any failure to start a cluster here is a reason to skip
    print(f"a local Ray cluster cannot start here: {err}")
    sys.exit(75)
from lima_hf.cli import main
try:
    sys.exit(max(main(argv) for argv in json.loads(sys.argv[1])))
finally:
    ray.shutdown()
"""


def test_local_ray_cluster_gives_the_reference_output(shared_data, tmp_path):
    import json

    from test_curate_reference import file_source_argv

    pytest.importorskip("ray", reason="ray is not installed")
    options = ["--executor", "ray", "--num_proc", "2", "--work_dir", str(tmp_path / "work")]
    runs = [["curate", "stackexchange", "--input", str(shared_data / "stackexchange"), "--output",
             str(tmp_path / "se" / "se.jsonl"), *QUIET, *options],
            file_source_argv(shared_data, tmp_path / "wh" / "out.jsonl", "wh", options)]
    # in a process of its own: a cluster that fails to start leaves Ray's processes and gRPC threads in the
    # process that started it, and a later test that forks would hang on them
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent), *sys.path])}
    done = subprocess.run([sys.executable, "-c", RAY_RUN, json.dumps(runs)], check=False, env=env,
                          capture_output=True, text=True, timeout=900)
    if done.returncode == 75:
        pytest.skip(done.stdout.strip()[-500:])
    assert done.returncode == 0, done.stderr[-3000:]
    assert _digests(tmp_path, "se") == _reference("se")
    assert _digests(tmp_path, "wh") == _reference("wh")


def test_build_dataset_takes_the_executor_and_hands_the_stage_to_slurm(tmp_path, capsys):
    from test_curate_reference import QUICKSTART

    from lima_hf.cli import main

    config = tmp_path / "build.yaml"
    text = QUICKSTART.read_text().replace("stackexchange: {input: samples/stackexchange,",
                                          "stackexchange: {input: samples/stackexchange, slurm_partition: cpu, "
                                          f"dry_run: true, work_dir: {tmp_path / 'work'},")
    text = text.replace("samples/", f"{QUICKSTART.parent}/samples/").replace("manifest: quickstart_manifest.yaml",
                                                                           f"manifest: {QUICKSTART.parent}/quickstart_manifest.yaml")
    config.write_text(text.replace("input: authored", f"input: {QUICKSTART.parent}/authored"))
    assert main(["build-dataset", "--dataset_config", str(config), "--output", str(tmp_path / "ds"),
                 "--executor", "slurm"]) == 0
    assert "#SBATCH --partition=cpu" in capsys.readouterr().out and not (tmp_path / "ds").exists()


def test_the_file_sources_on_the_local_executor_give_the_reference_output(shared_data, tmp_path):
    from test_curate_reference import FILE_SOURCE_RUNS, run_file_source

    options = ["--executor", "local", "--num_proc", "1", "--work_dir", str(tmp_path / "work")]  # no fork: cheap
    for run in FILE_SOURCE_RUNS:
        assert run_file_source(shared_data, tmp_path / run / "out.jsonl", run, options) == 0
        assert _digests(tmp_path, run) == _reference(run), run
    # one task per file: 3 wikiHow files twice, the 2 real Super-NI tasks read without a split and the 4 of the
    # samples' split (the real split holds neither: no stage), 4 authored files, 1 GAIR/lima file
    assert len(list((tmp_path / "work").glob("*/logs/completions/*"))) == 3 + 3 + 2 + 4 + 4 + 1


def test_pushshift_on_the_local_executor_gives_the_same_output(shared_data, tmp_path):
    from test_curate_reference import QUICKSTART

    from lima_hf.cli import main

    options = ["--executor", "local", "--num_proc", "2", "--work_dir", str(tmp_path / "work"), "--no_progress"]
    assert main(["curate", "reddit", "--input", str(shared_data / "pushshift"), "--output",
                 str(tmp_path / "rd" / "rd.jsonl"), "--askreddit_subreddit", "AskMen", "--writingprompts_subreddit",
                 "reddit.com", *options]) == 0
    assert _digests(tmp_path, "rd") == _reference("rd")
    # the samples have WritingPrompts with comments: the join by submission id across files, pool vs local
    samples = QUICKSTART.parent / "samples" / "reddit"
    for name, extra in (("pool", ["--no_progress"]), ("local", options)):
        assert main(["curate", "reddit", "--input", str(samples), "--output", str(tmp_path / name / "r.jsonl"),
                     *extra]) == 0
    assert {k.split("/", 1)[1]: v for k, v in _digests(tmp_path, "pool").items()} == \
        {k.split("/", 1)[1]: v for k, v in _digests(tmp_path, "local").items()}
    assert "assistant" in (tmp_path / "local" / "r.jsonl").read_text()


def test_long_window_pushshift_files_need_our_reader_not_datatroves(tmp_path):
    import io
    import json

    import zstandard
    from datatrove.pipeline.readers import JsonlReader

    from lima_hf.data.sources.reddit.pushshift import iter_zst_lines

    rows = "".join(json.dumps({"id": str(i), "text": "x" * 40}) + "\n" for i in range(2000)).encode()
    buffer = io.BytesIO()  # streamed with --long=31 as Pushshift's dumps are: the frame asks for a 2**31 window
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=31)
    with zstandard.ZstdCompressor(compression_params=params).stream_writer(buffer, closefd=False) as writer:
        writer.write(rows)
    (tmp_path / "RS_2019-10.zst").write_bytes(buffer.getvalue())
    with pytest.raises(Exception, match="too much memory"):
        list(JsonlReader(str(tmp_path), glob_pattern="*.zst", compression="zstd", text_key="text").run())
    assert sum(1 for _ in iter_zst_lines(tmp_path / "RS_2019-10.zst")) == 2000


def test_a_missing_extra_is_named(tmp_path, monkeypatch, capsys):
    from lima_hf.cli import main

    monkeypatch.setitem(sys.modules, "datatrove", None)  # as if the extra were not installed
    samples = Path(__file__).resolve().parent.parent / "lima_hf" / "resources" / "samples" / "stackexchange"
    code = main(["curate", "stackexchange", "--input", str(samples), "--output", str(tmp_path / "se.jsonl"), *QUIET,
                 "--executor", "local", "--work_dir", str(tmp_path / "work")])
    err = capsys.readouterr().err
    assert code == 1 and "needs datatrove" in err and "lima-hf[distributed]" in err


KILLED_FILE_RUN = """
import sys, time
from lima_hf.data import executors
done = executors._file_task
def slow_second(work, paths, config, counts, rank):
    if rank == 1:
        time.sleep(600)  # killed here, after the first file's task completed
    return done(work, paths, config, counts, rank)
executors._file_task = slow_second
from lima_hf.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_killed_file_source_run_resumes_to_the_same_output(shared_data, tmp_path):
    from test_curate_reference import file_source_argv

    from lima_hf.cli import main

    options = ["--executor", "local", "--num_proc", "1", "--work_dir", str(tmp_path / "work")]  # tasks in one process
    argv = file_source_argv(shared_data, tmp_path / "wh" / "out.jsonl", "wh", options)  # 3 wikiHow files
    first, stamp = _kill_after_the_first_task(KILLED_FILE_RUN, argv, tmp_path / "work")
    assert not list((tmp_path / "work").glob("*/results/0000[12].json")) and not (tmp_path / "wh").exists()
    assert main(argv) == 0
    assert _digests(tmp_path, "wh") == _reference("wh")
    assert first.stat().st_mtime_ns == stamp  # the completed file was not redone
    assert len(list((tmp_path / "work").glob("*/logs/completions/*"))) == 3


@pytest.mark.parametrize("run", ["nis", "au"])  # Super-NI's 4 tasks of the samples' split, 4 authored files
def test_a_task_without_its_completion_mark_is_redone_and_the_others_are_kept(shared_data, tmp_path, run):
    from test_curate_reference import run_file_source

    options = ["--executor", "local", "--num_proc", "1", "--work_dir", str(tmp_path / "work")]
    assert run_file_source(shared_data, tmp_path / "first" / "out.jsonl", run, options) == 0
    results = sorted((tmp_path / "work").glob("*/results/*.json"))
    assert len(results) == 4
    # as if the run had been killed while the third task wrote its result: no completion mark, a partial result
    (mark,) = (tmp_path / "work").glob("*/logs/completions/00002")
    mark.unlink()
    results[2].write_text('{"events": [["record", 1', encoding="utf-8")
    stamps = {path: path.stat().st_mtime_ns for path in results}
    assert run_file_source(shared_data, tmp_path / run / "out.jsonl", run, options) == 0
    assert _digests(tmp_path, run) == _reference(run)
    assert mark.exists() and [p for p in results if p.stat().st_mtime_ns != stamps[p]] == [results[2]]


def test_slurm_takes_the_results_of_finished_tasks_without_a_new_job(shared_data, tmp_path):
    from test_curate_reference import run_file_source

    options = ["--work_dir", str(tmp_path / "work")]
    assert run_file_source(shared_data, tmp_path / "first" / "out.jsonl", "nis",
                           ["--executor", "local", "--num_proc", "1", *options]) == 0
    (mark,) = (tmp_path / "work").glob("*/logs/completions/00002")
    mark.unlink()  # killed after its result was written, before datatrove's mark: the result is whole
    slurm = ["--executor", "slurm", "--slurm_partition", "cpu", *options]  # no sbatch here: a job would fail
    assert run_file_source(shared_data, tmp_path / "nis" / "out.jsonl", "nis", slurm) == 0
    assert _digests(tmp_path, "nis") == _reference("nis")
