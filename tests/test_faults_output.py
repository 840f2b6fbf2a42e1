"""Fault cases of the output policy (lima_hf.io): never destroy a user's file, write with the umask's
permissions, clean up after a crash, never reuse results made with other settings, resume from the last
complete checkpoint. Each case checks the exit code, the message, and that no user file changed (``user_files``)."""

import json
import os
import stat

import pytest

from lima_hf.cli import main
from lima_hf.data.builder import quickstart_config_path
from lima_hf.data.dataset_folder import write_dataset_folder
from lima_hf.data.loading import read_records
from lima_hf.io import OUTPUT_MARK, OutputRefusedError, atomic_folder, write_jsonl

pytestmark = pytest.mark.usefixtures("token_in_environment")  # the token in the environment, found nowhere

QUICKSTART_CONFIG = ["--dataset_config", str(quickstart_config_path())]
RECORD = {"id": "a/1", "source": "authored", "messages": [{"role": "user", "content": "Q"},
                                                           {"role": "assistant", "content": "A"}]}


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _configs(n=2):
    return {"default": {"train": [{**RECORD, "id": f"a/{i}"} for i in range(n)]}}


def _build(output, capsys):
    code = main(["build-dataset", *QUICKSTART_CONFIG, "--output", str(output)])
    return code, capsys.readouterr().err


def test_build_dataset_refuses_a_project_folder_that_looks_like_a_dataset(tmp_path, capsys, user_files):
    project = tmp_path / "project"
    for name, text in {"README.md": "# my project", "data/raw.csv": "a,b\n", ".git/HEAD": "ref", "src/x.py": "1"}.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    user_files(tmp_path)
    code, err = _build(project, capsys)
    assert code == 1 and "not written by lima-hf" in err and str(project) in err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]


def test_a_previous_build_with_user_files_in_it_is_not_replaced(tmp_path, capsys, user_files):
    out = write_dataset_folder(tmp_path / "lima", _configs())
    (out / "NOTES.md").write_text("mine")
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref")
    (out / "eval").mkdir()
    (out / "eval" / "report.json").write_text("{}")
    user_files(tmp_path)
    code, err = _build(out, capsys)
    assert code == 1 and "holds files lima-hf did not write" in err and "NOTES.md" in err
    with pytest.raises(OutputRefusedError, match="eval/report.json"):
        write_dataset_folder(out, _configs(1))


def test_a_previous_build_is_replaced_whole(tmp_path):
    out = write_dataset_folder(tmp_path / "lima", _configs(3), files={"plot.png": b"PNG"})
    write_dataset_folder(out, _configs(1))
    assert len(read_records(out)) == 1 and not (out / "plot.png").exists()
    assert json.loads((out / OUTPUT_MARK).read_text())["files"] == ["README.md", "data/default/train-00000-of-00001.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lima"]


def test_output_dot_is_one_line_error(tmp_path, monkeypatch, capsys, user_files):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.txt").write_text("keep")
    user_files(tmp_path)
    code, err = _build(".", capsys)
    assert code == 1 and "refusing" in err and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]
    user_files.check()
    (tmp_path / "mine.txt").unlink()  # an empty current folder is refused too: it cannot be swapped
    user_files(tmp_path)
    with pytest.raises(OutputRefusedError, match="current folder"):
        write_dataset_folder(".", _configs())
    assert list(tmp_path.iterdir()) == [] and [p.name for p in tmp_path.parent.iterdir() if "lima-hf" in p.name] == []


def test_kill_between_the_two_renames_leaves_the_target_restorable(tmp_path, monkeypatch, user_files):
    """Where there is no atomic exchange, a kill between 'move old aside' and 'move new in' leaves the old
    folder aside; the next write puts it back first, so the target is never lost."""
    from lima_hf.io import recovery

    out = write_dataset_folder(tmp_path / "lima", _configs(3))
    user_files(out)
    monkeypatch.setattr(recovery, "_exchange", lambda a, b: False)
    real_replace = os.replace

    class Killed(BaseException):
        pass

    def replace(src, dst):
        if "lima-hf-staging" in os.path.basename(src):
            raise Killed  # the process dies after moving the old folder aside, before moving the new one in
        real_replace(src, dst)

    monkeypatch.setattr(recovery.os, "replace", replace)
    monkeypatch.setattr(recovery.shutil, "rmtree", lambda *a, **k: None)  # a killed process cleans nothing
    with pytest.raises(Killed):
        write_dataset_folder(out, _configs(1))
    monkeypatch.undo()
    assert not out.exists()  # the window the exchange closes
    recovery.recover(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lima"]  # staging of the dead run removed too


def test_folder_swap_is_an_atomic_exchange_here(tmp_path):
    from lima_hf.io import recovery

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x").write_text("a")
    assert recovery._exchange(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "b" / "x").read_text() == "a"


def test_stale_staging_folders_of_a_crashed_run_are_removed(tmp_path):
    stale = tmp_path / ".lima.lima-hf-staging-999999999-abc"
    stale.mkdir()
    (stale / "half.parquet").write_bytes(b"x")
    other = tmp_path / ".lima.notes"  # not lima-hf's: kept
    other.write_text("mine")
    write_dataset_folder(tmp_path / "lima", _configs())
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lima.notes", "lima"]


def test_outputs_are_written_with_the_umask_and_a_chmod_survives_a_rerun(tmp_path, umask022):
    out = write_dataset_folder(tmp_path / "lima", _configs())
    for path in [out, *out.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), path
    records = tmp_path / "records.jsonl"
    write_jsonl(records, [RECORD])
    assert stat.S_IMODE(records.stat().st_mode) == 0o644
    os.chmod(records, 0o640)
    write_jsonl(records, [RECORD, RECORD])
    assert stat.S_IMODE(records.stat().st_mode) == 0o640


def test_jsonl_writer_refuses_a_file_it_did_not_write(tmp_path, user_files):
    mine = tmp_path / "notes.jsonl"
    mine.write_text("my notes\n")
    user_files(mine)
    with pytest.raises(OutputRefusedError, match="not written by lima-hf"):
        write_jsonl(mine, [RECORD])


def _release(folder):
    folder.mkdir()
    lines = [json.dumps({"conversations": [f"Q{i}", f"A{i}"], "source": "stackexchange"}) for i in range(3)]
    (folder / "train.jsonl").write_text("\n".join(lines) + "\n")
    return folder / "train.jsonl"


def test_curate_refuses_output_equal_to_its_input(tmp_path, capsys, user_files):
    train = _release(tmp_path / "X")
    user_files(tmp_path)
    code = main(["curate", "lima-release", "--input", str(train), "--output", str(train)])
    err = capsys.readouterr().err
    assert code == 1 and "is the input" in err and len(err.strip().splitlines()) == 1


def test_curate_refuses_to_overwrite_a_users_file(tmp_path, capsys, user_files):
    train = _release(tmp_path / "X")
    (tmp_path / "out.rejections.jsonl").write_text("mine\n")
    user_files(tmp_path)
    code = main(["curate", "lima-release", "--input", str(train), "--output", str(tmp_path / "out.jsonl")])
    assert code == 1 and "not written by lima-hf" in capsys.readouterr().err
    user_files.check()
    (tmp_path / "out.rejections.jsonl").unlink()
    user_files.release(tmp_path)  # the folder of the outputs from now on; the input stays watched
    user_files(train)
    assert main(["curate", "lima-release", "--input", str(train), "--output", str(tmp_path / "out.jsonl")]) == 0
    assert main(["curate", "lima-release", "--input", str(train), "--output", str(tmp_path / "out.jsonl")]) == 0


def test_build_dataset_refuses_an_output_holding_an_input(tmp_path, capsys, user_files):
    raw = tmp_path / "work" / "raw"
    raw.mkdir(parents=True)
    (raw / "t.yaml").write_text("- id: x\n  category: train\n  messages: [{role: user, content: q}]\n")
    config = tmp_path / "work" / "dataset.yaml"
    config.write_text("sources:\n  authored: {input: raw}\nsplits:\n  train: [{source: authored}]\n")
    user_files(tmp_path)
    code = main(["build-dataset", "--dataset_config", str(config), "--output", str(tmp_path / "work")])
    assert code == 1 and "holds the input" in capsys.readouterr().err


# --------------------------------------------------------------------------- fingerprinted resumable outputs


def test_generate_refuses_an_output_made_with_other_settings(tmp_path, tiny_model, user_files):
    from lima_hf.chat import setup_eot_chat_format
    from lima_hf.evaluation.generation import SamplingConfig, generate_responses
    from lima_hf.evaluation.resumable import SettingsChangedError

    model, tokenizer = setup_eot_chat_format(*tiny_model)
    prompts = [{"id": "p1", "turns": ["Hello?"]}, {"id": "p2", "turns": ["Why?"]}]
    out = tmp_path / "answers.jsonl"
    generate_responses(model, tokenizer, prompts, out, SamplingConfig(max_new_tokens=2), progress=False)
    user_files(out)
    generate_responses(model, tokenizer, prompts, out, SamplingConfig(max_new_tokens=2, batch_size=1), progress=False)
    user_files.check()  # same settings (batch size is not one): resumed, nothing redone
    with pytest.raises(SettingsChangedError, match=r"sampling.temperature: 0.7 -> 0.2.*--overwrite"):
        generate_responses(model, tokenizer, prompts, out, SamplingConfig(max_new_tokens=2, temperature=0.2),
                           progress=False)
    user_files.check()
    user_files.release(out)  # replaced on purpose (--overwrite)
    records = generate_responses(model, tokenizer, prompts, out, SamplingConfig(max_new_tokens=2, temperature=0.2),
                                 progress=False, overwrite=True)
    assert len(records) == 2 and all(r["produced_by"]["sampling"]["temperature"] == 0.2 for r in records)
    assert len(out.read_text().splitlines()) == 2


def test_generate_refuses_answers_of_another_model(tmp_path, tiny_model, bundled_tokenizer):
    import copy

    from lima_hf.chat import setup_eot_chat_format
    from lima_hf.evaluation.generation import SamplingConfig, generate_responses
    from lima_hf.evaluation.resumable import SettingsChangedError
    from lima_hf.models import tiny_llama

    prompts = [{"id": "p1", "turns": ["Hello?"]}]
    out = tmp_path / "answers.jsonl"
    for seed, folder in ((0, "m0"), (1, "m1")):
        model, tokenizer = setup_eot_chat_format(*tiny_llama(copy.deepcopy(bundled_tokenizer), seed=seed))
        model.save_pretrained(tmp_path / folder)
        tokenizer.save_pretrained(tmp_path / folder)
    from lima_hf.evaluation.generation import load_generation_model

    generate_responses(*load_generation_model(tmp_path / "m0"), prompts, out, SamplingConfig(max_new_tokens=2),
                       progress=False)
    with pytest.raises(SettingsChangedError, match=r"model: .*m0.* -> .*m1"):
        generate_responses(*load_generation_model(tmp_path / "m1"), prompts, out, SamplingConfig(max_new_tokens=2),
                           progress=False)


def test_judge_cache_of_another_judge_is_not_reused(tmp_path, user_files):
    from lima_hf.evaluation.judges.base import run_judge
    from lima_hf.evaluation.resumable import SettingsChangedError

    class Judge:
        def __init__(self, model):
            self.name, self.fingerprint = model, {"judge": "http", "model": model}

        def complete(self, prompts, attempt=0, choices=None):
            yield from ((i, "5") for i in range(len(prompts)))

    requests = [{"key": "k1", "prompt": "rate this"}]
    cache = tmp_path / "likert.jsonl"
    assert run_judge(Judge("gpt-4"), requests, int, cache, progress=False)["k1"]["label"] == 5
    user_files(cache)
    with pytest.raises(SettingsChangedError, match="judge replies made with other settings.*gpt-4' -> 'llama.*delete"):
        run_judge(Judge("llama"), requests, int, cache, progress=False)


# --------------------------------------------------------------------------- checkpoints


def _checkpoint(run, step, *, optimizer=b"state", state=True):
    folder = run / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "optimizer.pt").write_bytes(optimizer)
    if state:
        (folder / "trainer_state.json").write_text(json.dumps({"epoch": step / 10, "global_step": step}))
    return folder


def test_resume_last_skips_a_half_written_checkpoint(tmp_path):
    from lima_hf.training.checkpoints import last_complete_checkpoint

    run = tmp_path / "run"
    good = _checkpoint(run, 10)
    _checkpoint(run, 20, optimizer=b"")  # killed while saving: 0-byte optimizer.pt
    _checkpoint(run, 30, state=False)  # killed before trainer_state.json
    found, skipped = last_complete_checkpoint(run)
    assert found == good
    assert [(p.name, why) for p, why in skipped] == [("checkpoint-30", "no trainer_state.json"),
                                                     ("checkpoint-20", "optimizer.pt is empty")]


def test_select_checkpoint_skips_incomplete_checkpoints(tmp_path):
    from lima_hf.evaluation.checkpoint_selection import find_checkpoints

    run = tmp_path / "run"
    _checkpoint(run, 50)
    _checkpoint(run, 60, optimizer=b"")
    with pytest.warns(UserWarning, match=r"skipping incomplete checkpoint .*checkpoint-60 \(optimizer.pt is empty\)"):
        found = find_checkpoints(run)
    assert [c["name"] for c in found] == ["checkpoint-50"]


def test_atomic_folder_failure_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_folder(tmp_path / "out") as staging:
            (staging / "x").write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_select_refuses_to_write_over_its_pool(tmp_path, capsys, user_files):
    pool = write_dataset_folder(tmp_path / "pool", _configs(4))
    user_files(tmp_path)
    code = main(["select", "--pool", str(pool), "--n", "2", "--strategy", "random", "--output", str(pool)])
    assert code == 1 and "is the input" in capsys.readouterr().err


def test_leftovers_of_the_earlier_layout_are_cleaned_and_a_lost_target_restored(tmp_path):
    import time

    import lima_hf.io as io

    old = tmp_path / ".lima.old-abc123" / "lima"
    old.mkdir(parents=True)
    (old / "README.md").write_text("previous build")
    staging = tmp_path / ".lima.staging-def456"
    staging.mkdir()
    hour_ago = time.time() - 7200
    for path in (old.parent, staging):
        os.utime(path, (hour_ago, hour_ago))
    with pytest.warns(FutureWarning, match=r"removed \.lima\.(old|staging)-\w+, a staging folder of lima-hf's earlier"):
        io.recover(tmp_path / "lima")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lima"]
    assert (tmp_path / "lima" / "README.md").read_text() == "previous build"


@pytest.mark.parametrize("where", ["under_a_file", "proc"])
def test_an_output_that_cannot_be_written_fails_at_the_start_in_one_line(tmp_path, capsys, where, user_files):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    output = blocker / "built" if where == "under_a_file" else "/proc/lima-hf-out/built"
    user_files(tmp_path)
    code, err = _build(output, capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert ("is a file, not a folder" if where == "under_a_file" else "cannot write in /proc") in err
    assert "curating" not in err  # refused before any source was read


def test_generate_refuses_an_output_under_a_file_before_loading(tmp_path, capsys, user_files):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"id": "1", "prompt": "Hi"}) + "\n")
    user_files(tmp_path)
    code = main(["generate", "--model", "bundled", "--prompts", str(prompts), "--output",
                 str(blocker / "answers.jsonl")])
    err = capsys.readouterr().err
    assert code == 1 and "is a file, not a folder" in err and len(err.strip().splitlines()) == 1, err
