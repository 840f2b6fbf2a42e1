"""The model card states what happened: steps and epochs run, examples used, EOTs trimmed, base model, rates."""

import json

import pytest
from datasets import Dataset

from lima_hf.chat import DEFAULT_EOT_TOKEN
from lima_hf.hub import BUNDLED_BASE_MODEL, base_model_id, build_model_card, format_rate
from lima_hf.training.config import LimaSFTConfig
from lima_hf.training.trainer import LimaSFTTrainer, count_trimmed_eot


def test_learning_rates_are_written_as_people_write_them():
    assert [format_rate(v) for v in (3e-4, 3e-4 / 10, 1e-5, 2.5e-5, 0.01, 0.0)] == [
        "3e-4", "3e-5", "1e-5", "2.5e-5", "0.01", "0"
    ]


def test_base_model_id_of_hub_ids_cache_folders_and_the_bundled_model(tmp_path, bundled_model):
    assert base_model_id(str(bundled_model)) == BUNDLED_BASE_MODEL
    assert base_model_id("meta-llama/Llama-2-7b-hf") == "meta-llama/Llama-2-7b-hf"
    snapshot = tmp_path / "hub" / "models--Qwen--Qwen2.5-0.5B" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    assert base_model_id(str(snapshot)) == "Qwen/Qwen2.5-0.5B"
    plain = tmp_path / "my-model"
    plain.mkdir()
    assert base_model_id(str(plain)) is None
    (plain / "config.json").write_text(json.dumps({"_name_or_path": "org/named-model"}))
    assert base_model_id(str(plain)) == "org/named-model"
    assert base_model_id(None) is None


def test_card_shows_steps_run_not_the_configured_epochs(tmp_path):
    args = {"learning_rate": 3e-4, "final_learning_rate": 3e-4 / 10, "num_train_epochs": 15.0, "max_steps": 24}
    state = {"global_step": 24, "epoch": 1.6, "log_history": [{"loss": 2.0, "step": 24}],
             "stateful_callbacks": {"TrainingDataFacts": {
                 "args": {"train_examples": 30, "train_examples_eot_trimmed": 8}, "attributes": {}}}}
    card = str(build_model_card(tmp_path, "model", base_model=BUNDLED_BASE_MODEL, training_args=args,
                                trainer_state=state))
    assert "# SmolLM2-135M-Instruct fine-tuned with LIMA's recipe (model)" in card
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card
    rows = dict(line.strip("| ").split(" | ")[:2] for line in card.splitlines()
                if line.startswith("| ") and line.count(" | ") == 1)
    assert rows["learning rate"] == "3e-4" and rows["final learning rate"] == "3e-5"
    assert "epochs" not in rows and rows["optimizer steps planned (max_steps; it overrides the epochs)"] == "24"
    assert rows["optimizer steps"] == "24" and rows["epochs completed"] == "1.6"
    assert rows["training examples"] == "30"
    assert rows["training examples whose final end-of-turn token was trimmed at max length"] == "8"
    hub_card = str(build_model_card(tmp_path, "alice/smol-lima", base_model=BUNDLED_BASE_MODEL, training_args=args))
    assert "# smol-lima\n" in hub_card


def test_count_trimmed_eot():
    assert count_trimmed_eot([[1, 2, 9], [1, 2, 3], [1, 9]], max_length=3, eot_id=9) == 1
    assert count_trimmed_eot([[1, 2, 3]], max_length=None, eot_id=9) == 0


def test_trainer_counts_trimmed_texts_and_the_card_reports_what_ran(tiny_model, tmp_path, caplog):
    model, tokenizer = tiny_model
    answers = ["short answer.", "a much longer answer " * 12, "another long answer that goes on " * 8, "ok."]
    data = Dataset.from_list([{"messages": [{"role": "user", "content": f"Question {i}?"},
                                            {"role": "assistant", "content": a}]} for i, a in enumerate(answers)])
    args = LimaSFTConfig(output_dir=str(tmp_path / "run"), use_cpu=True, bf16=False, report_to="none",
                         disable_tqdm=True, per_device_train_batch_size=2, effective_batch_size=2, max_length=32,
                         max_steps=3, learning_rate=3e-4, final_learning_rate=3e-5, save_strategy="no",
                         activation_checkpointing=False)
    with caplog.at_level("WARNING", logger="lima_hf.training.trainer"):
        trainer = LimaSFTTrainer(model, args, train_dataset=data, processing_class=tokenizer)
    assert trainer.training_data_facts == {"train_examples": 4, "train_examples_eot_trimmed": 2}
    assert "2 of 4 training texts are longer than max_length=32" in caplog.text
    trainer.train()
    trainer.save_state()
    trainer.create_model_card(model_name="run")
    card = (tmp_path / "run" / "README.md").read_text()
    assert "| optimizer steps | 3 |" in card and "| epochs completed | 1.5 |" in card  # 3 steps x 2 / 4 examples
    assert "| training examples | 4 |" in card
    assert "| training examples whose final end-of-turn token was trimmed at max length | 2 |" in card
    assert "| learning rate | 3e-4 |" in card and "| final learning rate | 3e-5 |" in card
    state = json.loads((tmp_path / "run" / "trainer_state.json").read_text())
    assert state["stateful_callbacks"]["TrainingDataFacts"]["args"] == {"train_examples": 4,
                                                                        "train_examples_eot_trimmed": 2}
    assert all("loss" in entry for entry in state["log_history"][:3])  # the log holds the steps only
    full = [trainer.processing_class.apply_chat_template(m, tokenize=True, return_dict=True)["input_ids"]
            for m in data["messages"]]
    assert sum(len(ids) > 32 for ids in full) == 2 and all(ids[-1] == trainer.processing_class.convert_tokens_to_ids(
        DEFAULT_EOT_TOKEN) for ids in full)


@pytest.mark.parametrize("eot_init", ["eos", "mean"])
def test_config_accepts_the_eot_init_choices(tmp_path, eot_init):
    assert LimaSFTConfig(output_dir=str(tmp_path), eot_init=eot_init, use_cpu=True).eot_init == eot_init


def test_config_rejects_an_unknown_eot_init(tmp_path):
    with pytest.raises(ValueError, match="eot_init must be one of eos, mean"):
        LimaSFTConfig(output_dir=str(tmp_path), eot_init="random", use_cpu=True)
