"""Fault cases about code in a folder: nothing lima-hf reads from a model or training folder is unpickled, so a
crafted ``training_args.bin`` (a pickle that runs code when loaded) runs nothing on push, card building or
checkpoint selection; the training arguments come from ``training_args.json`` instead."""

import json
import logging
import shutil

import pytest
from fake_hub import FakeHub
from faults_helpers import TOKEN, plant_pickle, point_hub_at

from lima_hf.cli import main

pytestmark = pytest.mark.usefixtures("token_in_environment")  # the token in the environment, found nowhere


@pytest.fixture
def run_dir(tmp_path, model_folder):
    """A training output folder (final model + one checkpoint), each with a crafted ``training_args.bin``."""
    shutil.copytree(model_folder, model_folder / "checkpoint-10")
    for where in (model_folder, model_folder / "checkpoint-10"):
        (where / "trainer_state.json").write_text(json.dumps({"global_step": 10, "epoch": 5.0, "log_history": []}))
        plant_pickle(where, tmp_path / f"marker-{where.name}")
    return model_folder


def _markers(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("marker-"))


def test_push_model_never_unpickles_training_args(run_dir, tmp_path, monkeypatch, capsys, caplog, user_files):
    caplog.set_level(logging.INFO)
    user_files(run_dir, written=[run_dir / "README.md"])  # the model card push writes (the only change)
    with FakeHub(token=TOKEN) as hub:
        point_hub_at(monkeypatch, hub.url, TOKEN)
        code = main(["push", "model", str(run_dir), "--repo_id", "me/tiny"])
        out = capsys.readouterr()
        assert code == 0, out.err
        assert "training_args.bin" not in hub.repo("me/tiny").files
    assert _markers(tmp_path) == []


def test_model_card_never_unpickles_and_says_why_the_arguments_are_missing(run_dir, tmp_path, caplog, user_files):
    from lima_hf.model_card import build_model_card

    caplog.set_level(logging.INFO)
    user_files(run_dir)
    card = build_model_card(run_dir, "me/tiny")
    assert _markers(tmp_path) == []
    assert "learning rate" not in card.text
    said = [r.getMessage() for r in caplog.records if "training_args.bin" in r.getMessage()]
    assert len(said) == 1 and "will not list the training arguments" in said[0]


def test_card_reads_the_json_arguments_with_tokens_masked(run_dir, tmp_path, user_files):
    from transformers import TrainingArguments

    from lima_hf.model_card import build_model_card
    from lima_hf.training.checkpoints import load_training_args, save_training_args

    args = TrainingArguments(output_dir=str(run_dir), learning_rate=3e-5, hub_token=TOKEN, report_to=[])
    save_training_args(args, run_dir)
    user_files(run_dir)
    loaded = load_training_args(run_dir)
    assert loaded["learning_rate"] == 3e-5 and loaded["hub_token"] != TOKEN
    assert "| learning rate | 3e-5 |" in build_model_card(run_dir, "me/tiny").text
    assert _markers(tmp_path) == []


def test_select_checkpoint_never_unpickles(run_dir, tmp_path, capsys, user_files):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"id": "d1", "prompt": "Hi?"}) + "\n")
    user_files(run_dir, prompts)
    code = main(["select-checkpoint", "--run_dir", str(run_dir), "--dev_prompts", str(prompts), "--output_dir",
                 str(tmp_path / "selection"), "--max_new_tokens", "2", "--judge", "people", "--device", "cpu"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert _markers(tmp_path) == []
