"""Fault cases about broken model folders: the final save of ``train`` appears whole or not at all (a run killed
while saving leaves no half model), and ``generate`` on a folder without its tokenizer, or a tokenizer path
that does not exist, says so in one line. Each case checks user files are unchanged (``user_files``)."""

import json

import pytest

from lima_hf.cli import main

pytestmark = pytest.mark.usefixtures("token_in_environment")  # the token in the environment, found nowhere


@pytest.fixture
def tiny_dir(tmp_path, model_folder):
    """``tmp_path`` with the tiny chat model (conftest's ``model_folder``), prompts and training data."""
    (tmp_path / "prompts.jsonl").write_text(json.dumps({"id": "p1", "prompt": "Hi?"}) + "\n")
    (tmp_path / "train.jsonl").write_text("".join(
        json.dumps({"conversations": [f"What is {i}?", "An answer. " * 3], "source": "s"}) + "\n" for i in range(2)))
    return tmp_path


def _generate(folder, tmp_path, capsys):
    code = main(["generate", "--model", str(folder), "--prompts", str(tmp_path / "prompts.jsonl"), "--output",
                 str(tmp_path / "answers.jsonl"), "--max_new_tokens", "2", "--device", "cpu"])
    return code, capsys.readouterr().err


def test_a_final_save_killed_midway_leaves_no_half_model_and_the_next_run_completes(tiny_dir, monkeypatch, capsys,
                                                                                    user_files):
    from transformers import PreTrainedTokenizerBase

    from lima_hf.training import train
    from lima_hf.training.script import FINAL_STAGING

    options = {"model_name_or_path": str(tiny_dir / "model"), "use_cpu": True, "bf16": False, "report_to": "none",
               "disable_tqdm": True, "per_device_train_batch_size": 2, "effective_batch_size": 2, "max_steps": 1,
               "max_length": 64, "save_strategy": "no"}
    output = tiny_dir / "out"
    save = PreTrainedTokenizerBase.save_pretrained

    def killed(self, folder, *args, **kwargs):  # the process dies after the weights, before the tokenizer
        if FINAL_STAGING in str(folder):
            raise KeyboardInterrupt
        return save(self, folder, *args, **kwargs)

    user_files(tiny_dir / "model", tiny_dir / "train.jsonl", tiny_dir / "prompts.jsonl")
    monkeypatch.setattr(PreTrainedTokenizerBase, "save_pretrained", killed)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_dir / "train.jsonl", output, **options)
    assert (output / FINAL_STAGING / "model.safetensors").is_file()  # the weights were written, but not in place
    assert not {"config.json", "model.safetensors", "tokenizer.json"} & {p.name for p in output.iterdir()}
    capsys.readouterr()
    code, err = _generate(output, tiny_dir, capsys)
    assert code == 1 and "no tokenizer" in err and len(err.strip().splitlines()) == 1, err

    monkeypatch.setattr(PreTrainedTokenizerBase, "save_pretrained", save)
    train(tiny_dir / "train.jsonl", output, **options)
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in output.iterdir()}
    assert not (output / FINAL_STAGING).exists()


@pytest.mark.parametrize("removed", ["tokenizer.json", "tokenizer_config.json"])
def test_generate_on_a_folder_without_its_tokenizer_says_so_in_one_line(tiny_dir, capsys, user_files, removed):
    (tiny_dir / "model" / removed).unlink()
    user_files(tiny_dir)
    code, err = _generate(tiny_dir / "model", tiny_dir, capsys)
    assert code == 1 and f"missing {removed}" in err and len(err.strip().splitlines()) == 1, err


def test_a_tokenizer_path_that_does_not_exist_is_one_line(tiny_dir, capsys, user_files):
    from lima_hf.data.builder import quickstart_config_path

    user_files(tiny_dir, quickstart_config_path())
    code = main(["build-dataset", "--dataset_config", str(quickstart_config_path()), "--tokenizer", "/nonexistent",
                 "--output", str(tiny_dir / "built")])
    err = capsys.readouterr().err
    assert code == 1 and "/nonexistent: no such tokenizer folder" in err and len(err.strip().splitlines()) == 1, err
    assert not (tiny_dir / "built").exists()


def test_generate_refuses_a_prompt_longer_than_the_context_and_answers_the_others(tiny_dir, capsys, user_files):
    prompts = tiny_dir / "prompts.jsonl"
    prompts.write_text(json.dumps({"id": "short1", "prompt": "Hi?"}) + "\n"
                       + json.dumps({"id": "huge", "prompt": "word " * 5000}) + "\n"  # over the tiny model's 4,096
                       + json.dumps({"id": "short2", "prompt": "Hello?"}) + "\n")
    user_files(tiny_dir / "model", prompts)
    code, err = _generate(tiny_dir / "model", tiny_dir, capsys)
    last = err.strip().splitlines()[-1]
    assert code == 1 and "longer than the model's context of 4,096 tokens" in last and "id 'huge'" in last, err
    answered = [json.loads(line)["id"] for line in (tiny_dir / "answers.jsonl").read_text().splitlines()]
    assert sorted(answered) == ["short1", "short2"]
