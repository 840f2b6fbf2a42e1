"""Recipes under `accelerate launch` on two CPU processes (gloo) with the shipped accelerate configs:
DeepSpeed ZeRO-3 (deepspeed_zero3.yaml, a tiny LLaMA with residual dropout on its partitioned parameters),
FSDP2 (fsdp2.yaml) and plain data parallelism (multi_cpu.yaml).

DeepSpeed builds a small shared-memory communication op the first time it runs on a machine (minutes);
later runs reuse it from the torch extensions cache.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RECIPES = Path(__file__).resolve().parent.parent / "recipes"


@pytest.fixture
def tiny_model_dir(tmp_path, tiny_model):
    model, tokenizer = tiny_model
    folder = tmp_path / "tiny-llama"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def release_jsonl(tmp_path):
    """Eight conversations in the released LIMA layout (GAIR/lima train.jsonl)."""
    path = tmp_path / "train.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(8):
            answer = "A careful answer that explains the idea step by step. " * (1 + i % 3)
            handle.write(json.dumps({"conversations": [f"What is idea {i}?", answer], "source": "stackexchange"}) + "\n")
    return path


def launch(accelerate_args, tiny_model_dir, release_jsonl, output, *train_args):
    """`accelerate launch ACCELERATE_ARGS -m lima_hf.cli train` of the quickstart recipe, shortened, no GPU."""
    command = [
        sys.executable, "-m", "accelerate.commands.launch", *accelerate_args,
        "-m", "lima_hf.cli", "train", "--config", str(RECIPES / "smollm2-135m/sft/config_quickstart.yaml"),
        "--model_name_or_path", str(tiny_model_dir), "--dataset_name", str(release_jsonl),
        "--output_dir", str(output), "--max_steps", "2", "--max_length", "64",
        "--per_device_train_batch_size", "1", "--effective_batch_size", "2", "--disable_tqdm", "true", *train_args,
    ]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=900, env=env,
                            cwd=output.parent)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


@pytest.mark.slow
@pytest.mark.parametrize("config", ["multi_cpu", "fsdp2"])
def test_recipe_trains_on_two_cpu_processes(config, tiny_model_dir, release_jsonl, tmp_path):
    from safetensors.torch import load_file

    output = tmp_path / "out"
    accelerate_args = ["--config_file", str(RECIPES / f"accelerate_configs/{config}.yaml"), "--num_processes", "2",
                       "--mixed_precision", "no"]
    result = launch(accelerate_args, tiny_model_dir, release_jsonl, output, "--save_strategy", "no")
    assert "2 process(es) x 1 examples x 1 accumulation steps" in result.stdout
    # a plain, complete state dict (FSDP2 gathers the shards: FULL_STATE_DICT), changed by training
    trained, initial = load_file(output / "model.safetensors"), load_file(tiny_model_dir / "model.safetensors")
    grown = {k: v.shape for k, v in initial.items()}
    grown["model.embed_tokens.weight"] = (grown["model.embed_tokens.weight"][0] + 1, 64)  # + the <|eot|> row
    assert {k: tuple(v.shape) for k, v in trained.items()} == {k: tuple(v) for k, v in grown.items()}
    name = "model.layers.0.mlp.down_proj.weight"
    assert not trained[name].equal(initial[name])


@pytest.mark.slow
def test_recipe_trains_under_deepspeed_zero3_on_two_cpu_processes(tiny_model_dir, release_jsonl, tmp_path):
    pytest.importorskip("deepspeed")
    from safetensors.torch import load_file

    output = tmp_path / "out"
    accelerate_args = ["--config_file", str(RECIPES / "accelerate_configs/deepspeed_zero3.yaml"),
                       "--num_processes", "2", "--mixed_precision", "no"]
    result = launch(accelerate_args, tiny_model_dir, release_jsonl, output,
                    "--save_strategy", "steps", "--save_steps", "2", "--save_only_model", "false")

    # two processes, each with the residual dropout schedule computed on the ZeRO-3 partitioned model
    assert ("residual dropout 0.00 (bottom) to 0.20 (top) over 4 layers; 2 process(es) x 1 examples x "
            "1 accumulation steps") in result.stdout

    # ZeRO-3 checkpoint: model and optimizer states partitioned over ranks 0 and 1
    shards = output / "checkpoint-2" / "global_step2"
    for rank in (0, 1):
        assert (shards / f"zero_pp_rank_{rank}_mp_rank_00_model_states.pt").is_file()
        optimizer_file = next(shards.glob(f"*zero_pp_rank_{rank}_mp_rank_00_optim_states.pt"))
    import torch

    optimizer_state = torch.load(optimizer_file, map_location="cpu", weights_only=False)["optimizer_state_dict"]
    assert optimizer_state["zero_stage"] == 3 and optimizer_state["partition_count"] == 2

    # the final model was gathered from the partitions into one plain safetensors file that trained
    trained = load_file(output / "model.safetensors")
    initial = load_file(tiny_model_dir / "model.safetensors")
    name = "model.layers.0.mlp.down_proj.weight"
    assert trained[name].shape == initial[name].shape and not trained[name].equal(initial[name])
    state = json.loads((output / "checkpoint-2" / "trainer_state.json").read_text())
    losses = [entry for entry in state["log_history"] if "loss" in entry]  # beside the train_examples entry
    assert state["global_step"] == 2 and len(losses) == 2
