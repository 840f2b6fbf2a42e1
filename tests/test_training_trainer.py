"""LimaSFTTrainer on a tiny model: LR floor, assistant-only loss, packing isolation, checkpoints, save/reload, resume."""

import json
import subprocess
import sys

import pytest
import torch
from datasets import Dataset
from transformers import TrainerCallback

from lima_hf.chat import DEFAULT_EOT_TOKEN
from lima_hf.training.config import LimaSFTConfig
from lima_hf.training.residual_dropout import residual_dropout_rates
from lima_hf.training.trainer import LimaSFTTrainer, linear_schedule_with_floor

WORDS = ["the", "model", "answers", "every", "question", "with", "care", "and", "detail", "so", "that", "people", "learn"]


def conversations(n: int = 8) -> Dataset:
    """Conversations of very different lengths, some multi-turn, as LIMA's are."""
    rows = []
    for i in range(n):
        answer = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(3 + 7 * (i % 4)))
        messages = [{"role": "user", "content": f"Question number {i}?"}, {"role": "assistant", "content": answer}]
        if i % 3 == 2:
            messages += [{"role": "user", "content": "And then?"}, {"role": "assistant", "content": "Then we stop."}]
        rows.append({"messages": messages})
    return Dataset.from_list(rows)


def cpu_config(tmp_path, **overrides) -> LimaSFTConfig:
    values = {
        "output_dir": str(tmp_path / "run"),
        "use_cpu": True,
        "bf16": False,
        "report_to": "none",
        "disable_tqdm": True,
        "per_device_train_batch_size": 2,
        "effective_batch_size": 4,
        "max_length": 128,
        "num_train_epochs": 2,
        "residual_dropout": 0.2,
        "seed": 0,
    }
    values.update(overrides)
    return LimaSFTConfig(**values)


class LearningRates(TrainerCallback):
    def __init__(self):
        self.rates = []

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        self.rates.append(optimizer.param_groups[0]["lr"])


def test_linear_schedule_reaches_the_floor_at_the_last_step():
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([parameter], lr=1e-5)
    scheduler = linear_schedule_with_floor(optimizer, num_warmup_steps=0, num_training_steps=11, final_ratio=0.1)
    rates = []
    for _ in range(11):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(1e-5)
    assert rates[-1] == pytest.approx(1e-6)
    assert rates == pytest.approx([1e-5 - k * 0.9e-6 for k in range(11)])


def test_training_applies_lima_setup_and_lr_floor_and_saves_epoch_checkpoints(tiny_model, tmp_path):
    model, tokenizer = tiny_model
    keys = list(model.state_dict())
    rates = LearningRates()
    trainer = LimaSFTTrainer(
        model, cpu_config(tmp_path), train_dataset=conversations(8), processing_class=tokenizer, callbacks=[rates]
    )
    assert residual_dropout_rates(trainer.model) == pytest.approx([0.0, 0.2 / 3, 0.4 / 3, 0.2])
    assert trainer.processing_class.convert_tokens_to_ids(DEFAULT_EOT_TOKEN) in trainer.model.generation_config.eos_token_id
    assert list(trainer.model.state_dict()) == keys  # the patch adds no parameter or buffer
    trainer.train()

    assert len(rates.rates) == 4  # 8 examples / 4 per step x 2 epochs
    assert rates.rates[0] == pytest.approx(1e-5)
    assert rates.rates[-1] == pytest.approx(1e-6)
    epochs = {}
    for checkpoint in sorted((tmp_path / "run").glob("checkpoint-*")):
        epochs[checkpoint.name] = json.loads((checkpoint / "trainer_state.json").read_text())["epoch"]
    assert epochs == {"checkpoint-2": 1.0, "checkpoint-4": 2.0}
    card = (tmp_path / "run" / "README.md").read_text()
    assert "LIMA: Less Is More for Alignment" in card and "zhou2023lima" in card and "- lima" in card


@pytest.mark.parametrize("config_class", ["SFTConfig", "TrainingArguments"])
def test_plain_trl_and_transformers_configs_are_accepted_with_lima_defaults(tiny_model, tmp_path, caplog, config_class):
    import logging

    import transformers
    import trl

    model, tokenizer = tiny_model
    plain = {"SFTConfig": trl.SFTConfig, "TrainingArguments": transformers.TrainingArguments}[config_class]
    args = plain(
        str(tmp_path / "run"), use_cpu=True, report_to="none", disable_tqdm=True, per_device_train_batch_size=2,
        gradient_accumulation_steps=2, learning_rate=3e-5, max_steps=1, save_strategy="no", hub_token="secret",
    )
    with caplog.at_level(logging.INFO, logger="lima_hf.training.trainer"):
        trainer = LimaSFTTrainer(model, args, train_dataset=conversations(4), processing_class=tokenizer)
    config = trainer.args
    assert isinstance(config, LimaSFTConfig) and config.hub_token == "secret"  # not the masked "<HUB_TOKEN>"
    assert (config.learning_rate, config.gradient_accumulation_steps, config.max_steps) == (3e-5, 2, 1)
    assert config.residual_dropout == 0.3 and config.final_learning_rate == 1e-6 and config.eot_token == DEFAULT_EOT_TOKEN
    assert residual_dropout_rates(trainer.model)[-1] == pytest.approx(0.3)
    message = next(r.getMessage() for r in caplog.records if "LimaSFTConfig's (LIMA's) defaults" in r.getMessage())
    assert "residual_dropout=0.3" in message and "final_learning_rate=1e-06" in message
    assert ("assistant_only_loss=True" in message) == (config_class == "TrainingArguments")
    trainer.train()
    assert trainer.state.global_step == 1


def test_assistant_only_mask_is_honoured_with_and_without_packing(tiny_model, tmp_path):
    model, tokenizer = tiny_model
    data = conversations(6)
    trainer = LimaSFTTrainer(model, cpu_config(tmp_path), train_dataset=data, processing_class=tokenizer)
    eot = tokenizer.convert_tokens_to_ids(DEFAULT_EOT_TOKEN)
    for row, example in zip(trainer.train_dataset, data):
        trained = [label for label in row["labels"] if label != -100]
        expected = []
        for message in example["messages"]:
            if message["role"] == "assistant":
                expected += tokenizer(message["content"], add_special_tokens=False)["input_ids"] + [eot]
        assert trained == expected  # every assistant token and its EOT, nothing of the user's

    packed = LimaSFTTrainer(
        model, cpu_config(tmp_path, packing=True, max_length=64), train_dataset=data, processing_class=tokenizer
    )
    unpacked_labels = sorted(tuple(row["labels"]) for row in trainer.train_dataset)
    segments = []
    for row in packed.train_dataset:
        start = 0
        for length in row["seq_lengths"]:
            segments.append(tuple(row["labels"][start : start + length]))
            start += length
    assert sorted(segments) == unpacked_labels  # packing keeps each example's mask as it was
    batch = packed.data_collator([packed.train_dataset[0]])
    assert batch["labels"].ne(-100).sum() > 0


@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_packed_examples_do_not_attend_to_each_other(tiny_model, tmp_path, attn_implementation):
    model, tokenizer = tiny_model
    model.config._attn_implementation = attn_implementation
    data = conversations(6)
    trainer = LimaSFTTrainer(
        model, cpu_config(tmp_path, packing=True, max_length=96), train_dataset=data, processing_class=tokenizer
    )
    row = max(trainer.train_dataset, key=lambda r: len(r["seq_lengths"]))
    assert len(row["seq_lengths"]) >= 2
    batch = trainer.data_collator([row])
    inputs = {key: value for key, value in batch.items() if key != "labels"}
    trainer.model.eval()
    with torch.no_grad():
        packed_logits = trainer.model(**inputs, use_cache=False).logits[0]  # as the trainer calls it
        start = 0
        for length in row["seq_lengths"]:
            alone = trainer.model(input_ids=batch["input_ids"][:, start : start + length], use_cache=False).logits[0]
            torch.testing.assert_close(packed_logits[start : start + length], alone, atol=1e-5, rtol=1e-4)
            start += length


def test_saved_model_loads_and_chats_with_plain_transformers(tiny_model, tmp_path):
    model, tokenizer = tiny_model
    trainer = LimaSFTTrainer(
        model, cpu_config(tmp_path, max_steps=1, save_strategy="no"), train_dataset=conversations(4),
        processing_class=tokenizer,
    )
    trainer.train()
    output = tmp_path / "final"
    trainer.save_model(str(output))
    trainer.model.eval()
    prompt = [{"role": "user", "content": "Question number 1?"}]
    ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        expected = trainer.model(input_ids=ids["input_ids"]).logits[0, -1].tolist()

    script = f"""
import json, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained({str(output)!r}).eval()
tokenizer = AutoTokenizer.from_pretrained({str(output)!r})
ids = tokenizer.apply_chat_template({prompt!r}, add_generation_prompt=True, return_tensors="pt", return_dict=True)
with torch.no_grad():
    logits = model(input_ids=ids["input_ids"]).logits[0, -1].tolist()
eot = tokenizer.convert_tokens_to_ids({DEFAULT_EOT_TOKEN!r})
hooks = sum(len(m._forward_hooks) for m in model.modules())
print(json.dumps({{"logits": logits, "stops_on_eot": eot in model.generation_config.eos_token_id,
                  "hooks": hooks, "plugin_imported": "lima_hf" in sys.modules}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    reloaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert not reloaded["plugin_imported"] and reloaded["hooks"] == 0 and reloaded["stops_on_eot"]
    assert reloaded["logits"] == pytest.approx(expected, abs=1e-5)


def test_resuming_from_a_mid_run_checkpoint_continues_where_it_stopped(tiny_model, bundled_tokenizer, tmp_path):
    import copy

    from lima_hf.models import tiny_llama

    data = conversations(8)
    model, tokenizer = tiny_model
    full = LimaSFTTrainer(model, cpu_config(tmp_path / "full"), train_dataset=data, processing_class=tokenizer)
    full.train()
    final_full = {key: value.clone() for key, value in full.model.state_dict().items()}

    # The same run, stopped after the first epoch (checkpoint-2), then resumed from it in a new trainer.
    halted = cpu_config(tmp_path / "halted")
    model, tokenizer = tiny_llama(copy.deepcopy(bundled_tokenizer))
    first = LimaSFTTrainer(model, halted, train_dataset=data, processing_class=tokenizer)
    first.add_callback(StopAfter(2))
    first.train()
    checkpoint = tmp_path / "halted" / "run" / "checkpoint-2"
    assert checkpoint.is_dir() and not (tmp_path / "halted" / "run" / "checkpoint-4").exists()

    model, tokenizer = tiny_llama(copy.deepcopy(bundled_tokenizer))
    rates = LearningRates()
    resumed = LimaSFTTrainer(model, halted, train_dataset=data, processing_class=tokenizer, callbacks=[rates])
    resumed.train(resume_from_checkpoint=str(checkpoint))
    assert resumed.state.global_step == 4 and len(rates.rates) == 2  # only the two remaining steps ran
    assert rates.rates[-1] == pytest.approx(1e-6)
    for key, value in resumed.model.state_dict().items():
        torch.testing.assert_close(value, final_full[key], atol=1e-6, rtol=1e-5)


class StopAfter(TrainerCallback):
    def __init__(self, steps: int):
        self.steps = steps

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.steps:
            control.should_training_stop = True


def test_transformers_wsd_schedule_matches_the_floor_only_without_warmup():
    """Why linear_schedule_with_floor stays: get_wsd_schedule gives LIMA's rates with no warmup, but starts a
    warmup at the floor, not at 0."""
    from transformers.optimization import get_wsd_schedule

    def rates(make, steps=11):
        optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-5)
        scheduler, seen = make(optimizer), []
        for _ in range(steps):
            seen.append(scheduler.get_last_lr()[0])
            optimizer.step()
            scheduler.step()
        return seen

    for warmup in (0, 3):
        ours = rates(lambda o: linear_schedule_with_floor(o, warmup, 11, 0.1))
        wsd = rates(lambda o: get_wsd_schedule(o, num_warmup_steps=warmup, num_decay_steps=10 - warmup,
                                               num_stable_steps=0, decay_type="linear", min_lr_ratio=0.1))
        if warmup == 0:
            assert wsd == pytest.approx(ours)
        else:
            assert ours[0] == 0.0 and wsd[0] == pytest.approx(1e-6) and wsd[warmup:] == pytest.approx(ours[warmup:])


def test_frozen_embeddings_stay_put_while_the_layers_train(tiny_model, tmp_path):
    model, tokenizer = tiny_model
    trainer = LimaSFTTrainer(model, cpu_config(tmp_path, train_embeddings=False, num_train_epochs=1,
                                               save_strategy="no", learning_rate=1e-3),
                             train_dataset=conversations(8), processing_class=tokenizer)
    embeddings = trainer.model.get_input_embeddings().weight
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    assert not embeddings.requires_grad
    trainer.train()
    after = dict(trainer.model.named_parameters())
    frozen = [name for name in before if torch.equal(before[name], after[name].detach())]
    embedding_names = {name for name, p in after.items() if p is embeddings or p is trainer.model.get_output_embeddings().weight}
    assert set(frozen) == embedding_names, frozen  # every other weight moved
