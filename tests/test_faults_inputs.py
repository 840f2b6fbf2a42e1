"""Fault cases about outputs over inputs: ``train`` refuses an output folder that is, holds or lies inside its
dataset, base model or the checkpoint it resumes from; ``build-dataset`` refuses an output inside a source folder
(the next build would read it back as data). Each case checks the exit code, the one-line message, that no user
file changed (``user_files``) and that nothing was written."""

import json

import pytest

from lima_hf.cli import main

pytestmark = pytest.mark.usefixtures("token_in_environment")  # the token in the environment, found nowhere


@pytest.fixture
def work(tmp_path, tiny_model):
    """A base model folder, a dataset folder and a checkpoint, as a user has them."""
    from lima_hf.data.dataset_folder import write_dataset_folder

    model, tokenizer = tiny_model
    model.save_pretrained(tmp_path / "base")
    tokenizer.save_pretrained(tmp_path / "base")
    record = {"id": "1", "source": "s", "messages": [{"role": "user", "content": "q"},
                                                     {"role": "assistant", "content": "a"}]}
    write_dataset_folder(tmp_path / "data", {"default": {"train": [record]}}, "---\nlicense: cc-by-4.0\n---\n")
    (tmp_path / "run" / "checkpoint-5").mkdir(parents=True)
    (tmp_path / "run" / "checkpoint-5" / "trainer_state.json").write_text(json.dumps({"epoch": 1.0}))
    return tmp_path


def _train(work, output, capsys, *extra):
    code = main(["train", "--model_name_or_path", str(work / "base"), "--dataset_name", str(work / "data"),
                 "--output_dir", str(output), "--use_cpu", "true", "--bf16", "false", "--report_to", "none", *extra])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("output", "said"), [
    ("data", "is the input"),
    ("base", "is the input"),
    ("data/model", "is inside the input folder"),
    ("base/finetuned", "is inside the input folder"),
    (".", "holds the input"),
])
def test_train_refuses_an_output_over_its_inputs(work, capsys, user_files, output, said):
    user_files(work)
    code, err = _train(work, work / output, capsys)
    assert code == 1 and said in err and len(err.strip().splitlines()) == 1, err
    assert not (work / "data" / "model").exists() and not (work / "base" / "finetuned").exists()


def test_train_refuses_to_write_into_the_checkpoint_it_resumes_from(work, capsys, user_files):
    checkpoint = work / "run" / "checkpoint-5"
    user_files(work)
    for output, said in ((checkpoint, "is the checkpoint resumed from"), (checkpoint / "x", "is inside the checkpoint")):
        code, err = _train(work, output, capsys, "--resume_from_checkpoint", str(checkpoint))
        assert code == 1 and said in err and len(err.strip().splitlines()) == 1, err
    assert not (checkpoint / "x").exists()


def test_build_dataset_refuses_an_output_inside_a_source_folder(tmp_path, capsys, user_files):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "t.yaml").write_text("- id: x\n  category: train\n  messages: [{role: user, content: q}, "
                                "{role: assistant, content: a}]\n")
    config = tmp_path / "dataset.yaml"
    config.write_text("sources:\n  authored: {input: raw}\nsplits:\n  train: [{source: authored}]\n")
    user_files(tmp_path)
    code = main(["build-dataset", "--dataset_config", str(config), "--output", str(raw / "newbuild")])
    err = capsys.readouterr().err
    assert code == 1 and "is inside the input folder" in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in raw.iterdir()) == ["t.yaml"]
