"""`lima-hf train` and `lima_hf.training.train`: one process, two processes (gloo), and bad input."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from lima_hf.cli import main as cli_main
from lima_hf.training import train


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory, bundled_tokenizer):
    import copy

    from lima_hf.models import tiny_llama

    folder = tmp_path_factory.mktemp("tiny-model")
    model, tokenizer = tiny_llama(copy.deepcopy(bundled_tokenizer))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def release_jsonl(tmp_path_factory):
    """Eight conversations in the released LIMA layout (GAIR/lima train.jsonl)."""
    path = tmp_path_factory.mktemp("lima") / "train.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(8):
            answer = "Here is a careful answer that explains the idea. " * (1 + i % 3)
            handle.write(json.dumps({"conversations": [f"What is idea {i}?", answer], "source": "stackexchange"}) + "\n")
    return path


def recipe(tmp_path, model_dir, data, **overrides):
    values = {
        "model_name_or_path": str(model_dir),
        "dataset_name": str(data),
        "output_dir": str(tmp_path / "out"),
        "use_cpu": True,
        "bf16": False,
        "report_to": "none",
        "disable_tqdm": True,
        "per_device_train_batch_size": 1,
        "effective_batch_size": 4,
        "num_train_epochs": 1,
        "max_length": 128,
        "residual_dropout": 0.2,
    }
    values.update(overrides)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_train_function_trains_and_saves_a_plain_model_with_epoch_checkpoints(tiny_model_dir, release_jsonl, tmp_path):
    output = train(
        release_jsonl, tmp_path / "out", model_name_or_path=str(tiny_model_dir), use_cpu=True, bf16=False,
        report_to="none", disable_tqdm=True, per_device_train_batch_size=2, effective_batch_size=4,
        num_train_epochs=1, max_length=128,
    )
    assert (output / "model.safetensors").is_file() and (output / "chat_template.jinja").is_file()
    assert "<|eot|>" in (output / "chat_template.jinja").read_text()
    state = json.loads((output / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["epoch"] == 1.0 and state["global_step"] == 2
    assert "- lima" in (output / "README.md").read_text()
    for folder in (output, output / "checkpoint-2"):  # the arguments as JSON, what the card and push read
        args = json.loads((folder / "training_args.json").read_text())
        assert args["max_length"] == 128 and args["eot_token"] == "<|eot|>" and args["hub_token"] == "<HUB_TOKEN>"
    with pytest.raises(TypeError, match="unknown options: not_an_option"):
        train(release_jsonl, tmp_path / "other", not_an_option=1)


def test_train_command_reports_bad_input(tiny_model_dir, release_jsonl, tmp_path, capsys):
    path = recipe(tmp_path, tiny_model_dir, release_jsonl, dataset_train_split="validation")
    assert cli_main(["train", "--config", str(path)]) == 1
    assert "has no split 'validation'; it has train" in capsys.readouterr().err
    path = recipe(tmp_path, tiny_model_dir, release_jsonl)
    assert cli_main(["train", "--config", str(path), "--dataset_name", str(tmp_path / "missing")]) == 1
    assert "no such file or folder" in capsys.readouterr().err
    assert cli_main(["train", "--dataset_name", str(release_jsonl)]) == 2
    assert "model_name_or_path is required" in capsys.readouterr().err


@pytest.mark.slow
def test_two_process_cpu_run_trains_with_residual_dropout(tiny_model_dir, release_jsonl, tmp_path):
    """Two processes on the CPU (torch.distributed with gloo), launched by accelerate through torchrun."""
    path = recipe(tmp_path, tiny_model_dir, release_jsonl, num_train_epochs=2)
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "-m", "lima_hf.cli", "train", "--config", str(path),
    ]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "residual dropout 0.00 (bottom) to 0.20 (top) over 4 layers; 2 process(es) x 1 examples x 2 " \
        "accumulation steps" in result.stdout
    output = tmp_path / "out"
    epochs = {c.name: json.loads((c / "trainer_state.json").read_text())["epoch"] for c in output.glob("checkpoint-*")}
    assert epochs == {"checkpoint-2": 1.0, "checkpoint-4": 2.0}  # 8 examples / (2 processes x 1 x 2) per step
    state = json.loads((output / "checkpoint-4" / "trainer_state.json").read_text())
    logged = [entry for entry in state["log_history"] if "learning_rate" in entry]
    assert [entry["step"] for entry in logged] == [1, 2, 3, 4]
    assert (logged[0]["learning_rate"], logged[-1]["learning_rate"]) == pytest.approx((1e-5, 1e-6))
    assert (output / "model.safetensors").is_file()


def test_a_plain_trl_recipe_runs_unchanged(tiny_model_dir, tmp_path):
    """Only ScriptArguments, SFTConfig and ModelConfig keys: TRL's strict parser accepts it, and so does lima-hf."""
    from trl import ModelConfig, ScriptArguments, SFTConfig, TrlParser

    data = tmp_path / "data"
    data.mkdir()
    with open(data / "train.jsonl", "w", encoding="utf-8") as handle:
        for i in range(4):
            messages = [{"role": "user", "content": f"What is idea {i}?"}, {"role": "assistant", "content": "An idea."}]
            handle.write(json.dumps({"messages": messages}) + "\n")
    path = tmp_path / "config_sft.yaml"
    path.write_text(yaml.safe_dump({
        "model_name_or_path": str(tiny_model_dir), "dtype": "float32", "dataset_name": str(data),
        "dataset_streaming": False, "output_dir": str(tmp_path / "out"), "learning_rate": 2.0e-5,
        "lr_scheduler_type": "cosine_with_min_lr", "lr_scheduler_kwargs": {"min_lr_rate": 0.1}, "max_steps": 2,
        "per_device_train_batch_size": 2, "gradient_accumulation_steps": 1, "gradient_checkpointing": True,
        "assistant_only_loss": True, "max_length": 128, "use_cpu": True, "bf16": False, "report_to": "none",
        "disable_tqdm": True, "save_strategy": "no", "seed": 0,
    }))
    TrlParser((ScriptArguments, SFTConfig, ModelConfig)).parse_args_and_config(["--config", str(path)])
    assert cli_main(["train", "--config", str(path)]) == 0
    assert (tmp_path / "out" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "out" / "tokenizer_config.json").read_text())["eos_token"] == "<|eot|>"


@pytest.fixture
def lima_folder(tmp_path):
    """A dataset folder as build-dataset writes it: train and validation pairs, prompt-only test."""
    from lima_hf.data.dataset_folder import write_dataset_folder
    from lima_hf.data.records import make_record

    def record(i, split, reply=True):
        messages = [{"role": "user", "content": f"Question {i}?"}]
        messages += [{"role": "assistant", "content": f"Answer {i}."}] if reply else []
        return make_record(id=f"{split}/{i}", source="authored", messages=messages, category=split)

    splits = {"train": [record(i, "train") for i in range(4)], "validation": [record(9, "validation")],
              "test": [record(20, "test", reply=False)]}
    return write_dataset_folder(tmp_path / "lima", {"default": splits})


def test_plain_trl_evaluates_on_the_validation_split_of_a_lima_hf_folder(tiny_model, lima_folder, tmp_path):
    """The settings docs/training.md gives: dataset_test_split validation, eval_strategy, assistant_only_loss."""
    import math

    import datasets
    from trl import SFTConfig, SFTTrainer

    from lima_hf.chat import setup_eot_chat_format

    model, tokenizer = setup_eot_chat_format(*tiny_model)
    data = datasets.load_dataset(str(lima_folder))
    args = SFTConfig(str(tmp_path / "run"), use_cpu=True, report_to="none", max_steps=1, eval_strategy="steps",
                     assistant_only_loss=True, per_device_eval_batch_size=1, disable_tqdm=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=data["train"], eval_dataset=data["validation"],
                         processing_class=tokenizer)
    assert math.isfinite(trainer.evaluate()["eval_loss"])


def test_a_prompt_only_eval_split_is_refused_with_a_clear_message(lima_folder):
    from lima_hf.errors import InputError
    from lima_hf.training.script import LimaScriptArguments, load_splits

    with pytest.raises(InputError, match="split 'test' has prompts only .* use dataset_test_split: validation"):
        load_splits(LimaScriptArguments(dataset_name=str(lima_folder), dataset_test_split="test"), with_eval=True)
    _, evaluation = load_splits(LimaScriptArguments(dataset_name=str(lima_folder), dataset_test_split="dev"), True)
    assert evaluation.num_rows == 1  # the old name finds the validation split
