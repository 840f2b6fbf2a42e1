"""Recipes: every YAML resolves through `lima-hf train`'s parser, the launchers resolve them, the memory plan
in the 65B README is the estimator's, and the SmolLM2 recipe trains to completion on the CPU."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lima_hf.cli_args import load_recipe
from lima_hf.commands.train import parse_train_args

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
TRAIN_RECIPES = sorted(RECIPES.glob("*/sft/config_*.yaml"))
CPU = ["--use_cpu", "true", "--bf16", "false"]  # GPU recipes resolve on this CPU-only machine


def _load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_expected_recipes_exist_with_a_readme():
    names = {p.relative_to(RECIPES).as_posix() for p in TRAIN_RECIPES}
    for model in ("llama-65b", "llama-33b", "llama-13b", "llama-7b", "llama-3.1-70b", "smollm2-135m"):
        assert f"{model}/sft/config_lima.yaml" in names
        assert (RECIPES / model / "sft" / "README.md").is_file()
    assert "ablations/sft/config_llama-7b.yaml" in names
    for adapter in ("llama-65b/sft/config_qlora.yaml", "llama-7b/sft/config_lora.yaml", "llama-3.1-70b/sft/config_qlora.yaml"):
        assert adapter in names


@pytest.mark.parametrize("path", TRAIN_RECIPES, ids=lambda p: p.relative_to(RECIPES).as_posix())
def test_recipe_resolves_with_the_papers_hyperparameters(path):
    values, _ = load_recipe(path)
    script_args, config, model_args = parse_train_args(["--config", str(path), *CPU])
    assert model_args.model_name_or_path and script_args.dataset_name and config.output_dir
    if model_args.use_peft:  # the QLoRA paper's LoRA settings and rates (2e-4 for 7B/13B, 1e-4 for 33B/65B)
        rate = 2e-4 if "llama-7b" in str(path) else 1e-4
        assert (config.learning_rate, config.final_learning_rate, config.lr_scheduler_type) == (rate, rate / 10, "linear")
        assert (model_args.lora_r, model_args.lora_alpha, len(model_args.lora_target_modules)) == (64, 16, 7)
        if "qlora" in path.name:  # NF4, double quantisation, bf16 compute, paged AdamW
            assert model_args.load_in_4bit and model_args.use_bnb_nested_quant
            assert (model_args.bnb_4bit_quant_type, model_args.dtype, config.optim) == ("nf4", "bfloat16", "paged_adamw_32bit")
            assert config.per_device_train_batch_size == 1  # one GPU
    else:
        assert (config.learning_rate, config.final_learning_rate, config.lr_scheduler_type) == (1e-5, 1e-6, "linear")
    assert (config.adam_beta1, config.adam_beta2, config.weight_decay, config.warmup_steps) == (0.9, 0.95, 0.1, 0)
    assert config.assistant_only_loss and config.save_strategy == "epoch"
    large = any(name in str(path) for name in ("llama-65b", "llama-3.1-70b"))
    assert config.residual_dropout == (0.3 if large else 0.2)
    if "quickstart" not in path.name:
        assert config.num_train_epochs == 15 and config.max_length == 2048
        assert config.effective_batch_size == (32 if large else 64)
    if values["model_name_or_path"] != "bundled":  # GPU recipes: bf16 with recomputation
        assert values["bf16"] is True and values["gradient_checkpointing"] is True
    # gradient accumulation follows the number of processes: 32 GPUs x 1 example = 32 for the 65B run
    assert config.gradient_accumulation_steps * config.per_device_train_batch_size == config.effective_batch_size


def test_a_bad_override_names_the_option():
    from lima_hf.cli_args import CLIError

    with pytest.raises(CLIError, match="residual_dropout must be in"):
        parse_train_args(["--config", str(RECIPES / "llama-7b/sft/config_lima.yaml"), *CPU, "--residual_dropout", "2"])


def test_accelerate_configs_load_with_accelerate():
    from accelerate.commands.config.config_args import load_config_from_file

    configs = {p.stem: load_config_from_file(str(p)) for p in (RECIPES / "accelerate_configs").glob("*.yaml")}
    assert configs["deepspeed_zero3"].distributed_type == "DEEPSPEED"
    assert configs["deepspeed_zero3"].deepspeed_config["zero_stage"] == 3
    assert configs["deepspeed_zero3"].deepspeed_config["offload_optimizer_device"] == "none"
    offload = configs["deepspeed_zero3_offload"].deepspeed_config
    assert (offload["offload_optimizer_device"], offload["offload_param_device"]) == ("cpu", "cpu")
    assert configs["fsdp2"].distributed_type == "FSDP" and configs["fsdp2"].fsdp_config["fsdp_version"] == 2
    assert configs["multi_gpu"].distributed_type == "MULTI_GPU"
    # 2 processes through torchrun; on a machine without a visible GPU they run on the CPU over gloo
    assert configs["multi_cpu"].distributed_type == "MULTI_GPU" and configs["multi_cpu"].num_processes == 2
    assert configs["multi_cpu"].mixed_precision == "no"


def test_memory_plan_in_the_65b_readme_is_the_estimators():
    pytest.importorskip("deepspeed")
    plan = _load_module(RECIPES / "llama-65b/sft/memory_plan.py", "memory_plan")
    rows, total, largest = plan.plan("llama-65b", [1, 2, 4, 8], 8, 79.6, 12)
    assert total == 65_285_660_672 and largest == 32000 * 8192
    readme = (RECIPES / "llama-65b/sft/README.md").read_text()
    assert plan.markdown(rows) in readme
    fits = {(r["nodes"], r["offload"]): r["fits"] for r in rows}
    assert not fits[(2, "none")] and fits[(4, "none")]  # the recommendation: 4 nodes, no offload
    assert "**4 nodes of 8 x 80 GB GPUs" in readme



def test_lora_and_qlora_memory_plans_in_the_readmes_are_the_scripts():
    plan = _load_module(RECIPES / "llama-65b/sft/memory_plan.py", "memory_plan")
    gpus = [label for label, _ in plan.GPUS]
    for model, method, fits in (("llama-65b", "qlora", "80 GB"), ("llama-3.1-70b", "qlora", "80 GB"),
                                ("llama-7b", "lora", "24 GB")):
        readme = (RECIPES / model / "sft/README.md").read_text()
        rows = [plan.adapter_plan(model, method), plan.adapter_plan(model, method, lora_r=16 if method == "qlora" else 64)]
        if model == "llama-7b":
            rows[1] = plan.adapter_plan(model, "qlora")
        assert plan.adapter_markdown(rows) in readme
        # the recipe's r=64 run fits the smallest card the README recommends, and not the one below it
        first = next(i for i, label in enumerate(gpus) if label.startswith(fits))
        usable = [u for _, u in plan.GPUS]
        assert rows[0]["total"] / plan.GIB <= usable[first]
        assert first == 0 or rows[0]["total"] / plan.GIB > usable[first - 1]
        assert f"**one {fits} GPU**" in readme
    qlora = plan.adapter_plan("llama-65b", "qlora")
    # NF4 with double quantisation: about 4.127 bits for each decoder weight (QLoRA section 3)
    assert 31 < qlora["weights"] / plan.GIB < 33 and 0.79e9 < qlora["trainable"] < 0.81e9

@pytest.fixture
def fake_slurm(tmp_path):
    """srun, scontrol and accelerate stand-ins on PATH; `accelerate` records its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "accelerate_args.json"
    (bin_dir / "scontrol").write_text("#!/bin/bash\nprintf 'node-a\\nnode-b\\n'\n")
    (bin_dir / "srun").write_text('#!/bin/bash\nwhile [[ $1 == --* ]]; do shift; done\nSLURM_PROCID=0 exec "$@"\n')
    (bin_dir / "accelerate").write_text(
        f"#!{sys.executable}\nimport json, sys\njson.dump(sys.argv[1:], open({str(record)!r}, 'w'))\n"
    )
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_NNODES": "4",
           "SLURM_JOB_NODELIST": "node-[a-d]"}
    return env, record


def test_slurm_script_resolves_the_recipe_and_launches_every_node(fake_slurm, tmp_path):
    env, record = fake_slurm
    root = RECIPES.parent
    result = subprocess.run(["bash", "recipes/launch.slurm", "llama-65b", "lima", "deepspeed_zero3",
                             "--num_train_epochs", "5"], check=False, cwd=root, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    args = json.loads(record.read_text())
    assert args[:2] == ["launch", "--config_file"] and args[2] == "recipes/accelerate_configs/deepspeed_zero3.yaml"
    module = args.index("-m")
    options = dict(zip(args[3:module:2], args[4:module:2]))
    assert options["--num_machines"] == "4" and options["--num_processes"] == "32"
    assert options["--machine_rank"] == "0" and options["--main_process_ip"] == "node-a"
    assert args[module + 1:] == ["lima_hf.cli", "train", "--config", "recipes/llama-65b/sft/config_lima.yaml",
                                 "--num_train_epochs", "5"]
    bad = subprocess.run(["bash", "recipes/launch.slurm", "llama-65b", "nope", "deepspeed_zero3"], check=False,
                         cwd=root, env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "config_nope.yaml not found" in bad.stderr


def test_ablation_scan_builds_trains_and_reports_every_arm(capsys):
    from lima_hf.data.build_config import load_build_config
    from lima_hf.evaluation.instruction_checks import bundled_prompts_path

    launcher = _load_module(RECIPES / "ablations/run_ablations.py", "run_ablations")
    scan = launcher.load_scan(RECIPES / "ablations/scan.yaml")
    assert set(scan["studies"]) == {"diversity", "quality", "quantity"}
    sizes = [sum(p.count for p in load_build_config(path).splits["train"]) for path in scan["studies"]["quantity"].values()]
    assert sizes == [2000, 4000, 8000, 16000, 32000]
    diversity = [load_build_config(p).splits["train"][0].source for p in scan["studies"]["diversity"].values()]
    assert diversity == ["stackexchange", "wikihow"]
    unfiltered = load_build_config(scan["studies"]["quality"]["unfiltered-2000"]).sources[0].options
    assert unfiltered["unfiltered"] is True  # random questions and answers, no rule (the paper's "without any filters")

    assert launcher.main(["--study", "all", "--dry_run", "--", "--judge", "http", "--judge_model", "gpt-3.5-turbo"]) == 0
    commands = [line[2:].split() for line in capsys.readouterr().out.splitlines() if line.startswith("$ ")]
    steps = [next(word for word in c if word in ("build-dataset", "train", "select-checkpoint", "generate", "evaluate"))
             for c in commands]
    assert steps == ["build-dataset"] * 8 + ["train"] * 7 + ["select-checkpoint"] * 7 + ["generate"] * 14 + ["evaluate"] * 6
    assert commands[0][commands[0].index("--dataset_config") + 1].endswith("dataset_scripts/lima.yaml")  # the test set
    test_set = commands[0][commands[0].index("--output") + 1]
    # every training command resolves through the train parser
    for command in commands[8:15]:
        train_args = command[command.index("train") + 1:]
        _, config, _ = parse_train_args([*train_args, *CPU])
        assert config.output_dir.endswith(Path(train_args[train_args.index("--dataset_name") + 1]).name)
    quality = commands[-4]
    assert "filtered-2000=" in " ".join(quality) and quality[-4:] == ["--judge", "http", "--judge_model", "gpt-3.5-turbo"]
    judge_free = commands[-3]  # each study's judge-free report: the arms' answers to the bundled instruction prompts
    assert judge_free[judge_free.index("evaluate") + 1] == "instructions" and "--judge" not in judge_free
    assert all(r.endswith(".instructions.jsonl") for r in judge_free[judge_free.index("--responses") + 1:-2])
    instruction_answers = commands[23:36:2]
    assert {c[c.index("--prompts") + 1] for c in instruction_answers} == {str(bundled_prompts_path())}
    # checkpoints are chosen on each arm's own dev split; every arm is scored on 5 samples of the same TEST prompts
    for select, generate in zip(commands[15:22], commands[22:36:2]):
        assert "--split" not in select and select[select.index("--dev_prompts") + 1] != test_set
        assert generate[generate.index("--prompts") + 1] == test_set
        assert generate[generate.index("--split") + 1] == "test" and generate[generate.index("--num_samples") + 1] == "5"
    launcher.main(["--study", "quality", "--dry_run", "--steps", "build", "generate", "--test_prompts", "test.jsonl"])
    commands = [line[2:].split() for line in capsys.readouterr().out.splitlines() if line.startswith("$ ")]
    assert [c[c.index("--prompts") + 1] for c in commands if "generate" in c] == [
        str(Path("test.jsonl").resolve()), str(bundled_prompts_path())] * 2
    assert not any("lima.yaml" in " ".join(c) for c in commands)  # no test-set build when --test_prompts names it
    launcher.main(["--study", "quality", "--dry_run", "--steps", "select", "--criterion", "instructions", "--",
                   "--judge", "http"])
    selects = [line[2:].split() for line in capsys.readouterr().out.splitlines() if line.startswith("$ ")]
    assert len(selects) == 2 and all("--criterion instructions" in " ".join(c) and "--judge" not in c for c in selects)


@pytest.fixture
def tiny_lima_folder(tmp_path):
    from lima_hf.data.dataset_folder import write_dataset_folder
    from lima_hf.data.records import make_record

    def record(i, split):
        return make_record(id=f"{split}-{i}", source="authored", messages=[
            {"role": "user", "content": f"How do I do task {i}?"},
            {"role": "assistant", "content": f"Start with step one of task {i}, then check the result."}])

    return write_dataset_folder(tmp_path / "lima-tiny", {
        "default": {"train": [record(i, "train") for i in range(4)], "dev": [record(0, "dev")],
                    "test": [record(0, "test")]}})


@pytest.mark.slow
def test_smollm2_recipe_trains_to_completion_on_cpu(bundled_model, tiny_lima_folder, tmp_path, capsys):
    from safetensors import safe_open
    from transformers import AutoTokenizer

    from lima_hf.cli import main

    output = tmp_path / "out"
    code = main(["train", "--config", str(RECIPES / "smollm2-135m/sft/config_quickstart.yaml"),
                 "--dataset_name", str(tiny_lima_folder), "--output_dir", str(output), "--max_steps", "1",
                 "--max_length", "48", "--per_device_train_batch_size", "1", "--effective_batch_size", "1",
                 "--save_strategy", "no", "--disable_tqdm", "true"])
    assert code == 0, capsys.readouterr().err
    assert "residual dropout 0.00 (bottom) to 0.20 (top) over 30 layers" in capsys.readouterr().out
    tokenizer = AutoTokenizer.from_pretrained(output)
    generation = json.loads((output / "generation_config.json").read_text())
    assert tokenizer.convert_tokens_to_ids("<|eot|>") in generation["eos_token_id"]
    name = "model.layers.0.mlp.down_proj.weight"
    with safe_open(output / "model.safetensors", "pt") as trained, safe_open(bundled_model / "model.safetensors", "pt") as base:
        assert not trained.get_tensor(name).equal(base.get_tensor(name))  # the optimizer step changed the weights


def test_every_lima_hf_only_key_is_documented_with_its_plain_trl_equivalent():
    import dataclasses

    from trl import ScriptArguments, SFTConfig

    from lima_hf.training.config import LimaSFTConfig
    from lima_hf.training.script import LimaScriptArguments

    own = set()
    for ours, theirs in ((LimaSFTConfig, SFTConfig), (LimaScriptArguments, ScriptArguments)):
        own |= {f.name for f in dataclasses.fields(ours)} - {f.name for f in dataclasses.fields(theirs)}
    # transformers' own key from after the floor (5.18): LimaSFTConfig declares it there for the compat shim
    # (lima_hf.compat.checkpointing_under_old_name), which the newest TRL's SFTConfig has itself
    own.discard("activation_checkpointing")
    assert {"final_learning_rate", "effective_batch_size", "eot_token", "residual_dropout"} <= own
    docs = (Path(__file__).resolve().parent.parent / "docs" / "recipes.md").read_text()
    table = docs.split("## Plain TRL recipes and lima-hf's own keys")[1].split("\n## ")[0]
    for key in own | {"model_name_or_path: bundled"}:
        assert f"`{key}" in table, key


@pytest.mark.slow
def test_multi_turn_recipe_trains_on_single_turn_and_dialogues_together(tmp_path, bundled_tokenizer, capsys):
    """config_lima_dialogues.yaml: the paper's 1,000 + 30 dialogues, here 3 + 2 on a tiny model, end to end."""
    import copy

    from lima_hf.chat import setup_eot_chat_format
    from lima_hf.cli import main
    from lima_hf.data.dataset_folder import write_dataset_folder
    from lima_hf.data.records import make_record
    from lima_hf.evaluation.prompt_sets import load_prompts
    from lima_hf.models import tiny_llama
    from lima_hf.training.script import load_splits

    def record(i, turns):
        messages = [{"role": role, "content": f"{role} turn {n} of {i}"}
                    for n in range(turns) for role in ("user", "assistant")]
        return make_record(id=f"r{i}-{turns}", source="authored", messages=messages)

    data = write_dataset_folder(tmp_path / "lima", {
        "default": {"train": [record(i, 1) for i in range(3)], "validation": [record(9, 1)]},
        "multi_turn": {"train": [record(i, 3) for i in range(2)]}})
    model, tokenizer = setup_eot_chat_format(*tiny_llama(copy.deepcopy(bundled_tokenizer)))
    model.save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    recipe = RECIPES / "llama-65b/sft/config_lima_dialogues.yaml"
    overrides = ["--model_name_or_path", str(tmp_path / "tiny"), "--dataset_name", str(data), "--output_dir",
                 str(tmp_path / "out"), "--dtype", "float32", "--gradient_checkpointing", "false", "--max_steps", "2",
                 "--max_length", "64", "--effective_batch_size", "1", "--save_strategy", "no", "--disable_tqdm",
                 "true", *CPU]
    script_args, _, _ = parse_train_args(["--config", str(recipe), *overrides])
    assert script_args.dataset_config == "default+multi_turn"
    train, _ = load_splits(script_args, with_eval=False)
    assert len(train) == 5 and sorted(len(m) for m in train["messages"]) == [2, 2, 2, 6, 6]
    assert main(["train", "--config", str(recipe), *overrides]) == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "model.safetensors").is_file()
    # the experiment's dialogue prompts: 10 conversations of several user turns, answered turn by turn
    dialogues = load_prompts(RECIPES / "llama-65b/sft/dialogues.jsonl")
    assert len(dialogues) == 10 and min(len(d["turns"]) for d in dialogues) >= 4
