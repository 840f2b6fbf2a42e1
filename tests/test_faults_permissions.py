"""A clean run of the whole pipeline under ``umask 022`` leaves every output readable by others (outputs
used to be 0600 / folders 0700, the modes of mkstemp / mkdtemp), and a rerun keeps a user's chmod."""

import copy
import os
import stat

import pytest
import yaml

from lima_hf.cli import main

pytestmark = pytest.mark.usefixtures("token_in_environment")  # the token in the environment, found nowhere


@pytest.mark.slow
def test_whole_pipeline_under_umask_022_is_readable_by_others(tmp_path, bundled_tokenizer, monkeypatch, user_files):
    from lima_hf.chat import setup_eot_chat_format
    from lima_hf.data.builder import quickstart_config_path
    from lima_hf.models import tiny_llama

    old = os.umask(0o022)
    try:
        model, tokenizer = setup_eot_chat_format(*tiny_llama(copy.deepcopy(bundled_tokenizer)))
        base = tmp_path / "base"
        model.save_pretrained(base)
        tokenizer.save_pretrained(base)
        out = tmp_path / "work"
        out.mkdir()
        monkeypatch.chdir(out)
        authored = quickstart_config_path().parent / "authored"
        resources = quickstart_config_path().parent  # the bundled sources, read where they are
        user_files(base, authored, resources / "samples", quickstart_config_path(),
                   resources / "quickstart_manifest.yaml")
        assert main(["curate", "authored", "--input", str(authored), "--output", "authored.jsonl"]) == 0
        assert main(["build-dataset", "--dataset_config", str(quickstart_config_path()), "--output", "lima"]) == 0
        assert main(["select", "--pool", "lima", "--n", "4", "--output", "picked", "--strategy", "random"]) == 0
        recipe = out / "recipe.yaml"
        recipe.write_text(yaml.safe_dump({
            "model_name_or_path": str(base), "dataset_name": "lima", "output_dir": "model", "use_cpu": True,
            "bf16": False, "report_to": "none", "disable_tqdm": True, "per_device_train_batch_size": 2,
            "effective_batch_size": 2, "max_steps": 1, "max_length": 64, "save_strategy": "no",
            "eval_strategy": "no",
        }))
        assert main(["train", "--config", str(recipe)]) == 0
        assert main(["generate", "--model", "model", "--prompts", "lima", "--limit", "2", "--max_new_tokens", "2",
                     "--output", "answers.jsonl"]) == 0
        assert main(["evaluate", "likert", "--responses", "answers.jsonl", "--judge", "local", "--judge_model",
                     str(base), "--judge_mode", "choice", "--output_dir", "report"]) == 0
        recipe.unlink()
        checked = 0
        for path in [out, *out.rglob("*")]:
            mode = stat.S_IMODE(path.stat().st_mode)
            wanted = 0o055 if path.is_dir() else 0o044
            assert mode & wanted == wanted, f"{path}: {oct(mode)}"
            checked += 1
        assert checked > 30
        assert main(["curate", "authored", "--input", str(authored), "--output", "authored.jsonl"]) == 0
        os.chmod(out / "authored.jsonl", 0o600)
        assert main(["curate", "authored", "--input", str(authored), "--output", "authored.jsonl"]) == 0
        assert stat.S_IMODE((out / "authored.jsonl").stat().st_mode) == 0o600
    finally:
        os.umask(old)
