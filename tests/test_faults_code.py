"""Fault cases about code in a folder: nothing lima-hf reads from a model or training folder is unpickled, so a
crafted ``training_args.bin`` (a pickle that runs code when loaded) runs nothing on push, card building or
checkpoint selection; the training arguments come from ``training_args.json`` instead."""

import json
import logging

import pytest
from fake_hub import FakeHub
from faults_helpers import TOKEN, assert_no_token, plant_pickle, point_hub_at, snapshot

from lima_hf.cli import main


@pytest.fixture
def run_dir(tmp_path, tiny_model):
    """A training output folder (final model + one checkpoint), each with a crafted ``training_args.bin``."""
    from lima_hf.chat import setup_eot_chat_format

    model, tokenizer = setup_eot_chat_format(*tiny_model)
    folder = tmp_path / "run"
    for where in (folder, folder / "checkpoint-10"):
        model.save_pretrained(where)
        tokenizer.save_pretrained(where)
        (where / "trainer_state.json").write_text(json.dumps({"global_step": 10, "epoch": 5.0, "log_history": []}))
        plant_pickle(where, tmp_path / f"marker-{where.name}")
    return folder


def _markers(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("marker-"))


def test_push_model_never_unpickles_training_args(run_dir, tmp_path, monkeypatch, capsys, caplog):
    caplog.set_level(logging.INFO)
    before = snapshot(run_dir)
    with FakeHub(token=TOKEN) as hub:
        point_hub_at(monkeypatch, hub.url, TOKEN)
        code = main(["push", "model", str(run_dir), "--repo_id", "me/tiny"])
        out = capsys.readouterr()
        assert code == 0, out.err
        assert "training_args.bin" not in hub.repo("me/tiny").files
    assert _markers(tmp_path) == []
    after = snapshot(run_dir)
    card = str(run_dir / "README.md")  # the model card push writes (the only change)
    assert {k: v for k, v in after.items() if k != card} == {k: v for k, v in before.items() if k != card}
    assert_no_token(out.out, out.err, caplog.text, folders=[tmp_path])


def test_model_card_never_unpickles_and_says_why_the_arguments_are_missing(run_dir, tmp_path, caplog):
    from lima_hf.model_card import build_model_card

    caplog.set_level(logging.INFO)
    before = snapshot(run_dir)
    card = build_model_card(run_dir, "me/tiny")
    assert _markers(tmp_path) == []
    assert "learning rate" not in card.text
    said = [r.getMessage() for r in caplog.records if "training_args.bin" in r.getMessage()]
    assert len(said) == 1 and "will not list the training arguments" in said[0]
    assert snapshot(run_dir) == before


def test_card_reads_the_json_arguments_with_tokens_masked(run_dir, tmp_path):
    from transformers import TrainingArguments

    from lima_hf.model_card import build_model_card
    from lima_hf.training.checkpoints import load_training_args, save_training_args

    args = TrainingArguments(output_dir=str(run_dir), learning_rate=3e-5, hub_token=TOKEN, report_to=[])
    save_training_args(args, run_dir)
    loaded = load_training_args(run_dir)
    assert loaded["learning_rate"] == 3e-5 and loaded["hub_token"] != TOKEN
    assert "| learning rate | 3e-5 |" in build_model_card(run_dir, "me/tiny").text
    assert _markers(tmp_path) == []
    assert_no_token(folders=[run_dir])


def test_select_checkpoint_never_unpickles(run_dir, tmp_path, capsys):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"id": "d1", "prompt": "Hi?"}) + "\n")
    before = snapshot(run_dir, prompts)
    code = main(["select-checkpoint", "--run_dir", str(run_dir), "--dev_prompts", str(prompts), "--output_dir",
                 str(tmp_path / "selection"), "--max_new_tokens", "2", "--judge", "people", "--device", "cpu"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert _markers(tmp_path) == []
    assert snapshot(run_dir, prompts) == before
    assert_no_token(out.out, out.err, folders=[tmp_path])
