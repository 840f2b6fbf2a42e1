"""LoRA and QLoRA through LimaSFTTrainer and `lima-hf train`: only the EOT rows (and the adapters) train,
residual dropout reaches the base model's sublayers under the PEFT wrapper, the adapter and the merged model
stop at `<|eot|>` with plain transformers/peft in a fresh process, and 4-bit loading gives clear errors."""

import copy
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
import yaml

pytest.importorskip("peft")

from lima_hf.chat import DEFAULT_EOT_TOKEN
from lima_hf.training.residual_dropout import (
    remove_residual_dropout,
    residual_dropout_rates,
)

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PROMPTS = [f"What is idea {i}?" for i in range(10)]


def _tiny(tokenizer, tied: bool):
    from transformers import LlamaForCausalLM

    from lima_hf.models import tiny_llama

    model, tokenizer = tiny_llama(copy.deepcopy(tokenizer), hidden_size=32, num_hidden_layers=3,
                                  num_attention_heads=2, num_key_value_heads=1, intermediate_size=64)
    model.config.tie_word_embeddings = tied
    torch.manual_seed(0)
    return LlamaForCausalLM(model.config), tokenizer


def _trainer(model, tokenizer, tmp_path, peft_config=None, **overrides):
    from datasets import Dataset

    from lima_hf.training.config import LimaSFTConfig
    from lima_hf.training.trainer import LimaSFTTrainer

    data = Dataset.from_list([{"messages": [{"role": "user", "content": p}, {"role": "assistant", "content": "Fine."}]}
                              for p in PROMPTS[:2]])
    args = LimaSFTConfig(str(tmp_path / "run"), use_cpu=True, report_to=[], disable_tqdm=True, max_steps=1,
                         per_device_train_batch_size=2, effective_batch_size=2, save_strategy="no",
                         gradient_checkpointing=False, residual_dropout=0.3, **overrides)
    return LimaSFTTrainer(model, args, train_dataset=data, processing_class=tokenizer, peft_config=peft_config)


def _lora():
    from peft import LoraConfig

    return LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS, task_type="CAUSAL_LM")


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_lora_trains_the_eot_rows_and_the_adapters_only(bundled_tokenizer, tmp_path, tied):
    model, tokenizer = _tiny(bundled_tokenizer, tied)
    trainer = _trainer(model, tokenizer, tmp_path, _lora())
    eot_id = tokenizer.convert_tokens_to_ids(DEFAULT_EOT_TOKEN)
    trained = {name for name, p in trainer.model.named_parameters() if p.requires_grad}
    rows = {name for name in trained if "lora_" not in name}
    expected = {"base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta.default"}
    if not tied:  # an untied output layer needs its own EOT row
        expected.add("base_model.model.lm_head.token_adapter.trainable_tokens_delta.default")
    assert rows == expected
    assert trainer.model.peft_config["default"].trainable_token_indices["embed_tokens"] == [eot_id]
    before = trainer.model.get_output_embeddings().weight[eot_id].detach().clone()
    trainer.train()
    head = trainer.model.get_output_embeddings().weight
    assert not head[eot_id].detach().equal(before)  # the output row of the EOT moved (tied or its own)
    if tied:
        assert head[eot_id].equal(trainer.model.get_input_embeddings().weight[eot_id])

    folder = tmp_path / "adapter"
    trainer.save_model(str(folder))
    from safetensors import safe_open

    with safe_open(folder / "adapter_model.safetensors", "pt") as saved:
        shapes = {key: tuple(saved.get_tensor(key).shape) for key in saved.keys() if "lora_" not in key}  # noqa: SIM118
    assert shapes == {key.removesuffix(".default"): (1, 32) for key in expected}  # one row each, not the matrices
    generation = json.loads((folder / "generation_config.json").read_text())
    assert eot_id in generation["eos_token_id"]
    assert DEFAULT_EOT_TOKEN in (folder / "chat_template.jinja").read_text()


def test_residual_dropout_under_the_peft_wrapper_matches_the_plain_model(bundled_tokenizer, tmp_path):
    plain = _trainer(*_tiny(bundled_tokenizer, True), tmp_path / "plain")
    wrapped = _trainer(*_tiny(bundled_tokenizer, True), tmp_path / "lora", _lora())
    assert type(wrapped.model).__name__ == "PeftModelForCausalLM"
    assert residual_dropout_rates(wrapped.model) == residual_dropout_rates(plain.model) == [0.0, 0.15, 0.3]

    # the hooks fire through the wrapper in training mode: the top MLP's output loses about 30% of its entries
    base = wrapped.model.get_base_model()
    seen = []
    probe = base.model.layers[-1].mlp.register_forward_hook(lambda m, a, out: seen.append(out.detach()))
    ids = torch.randint(0, 1000, (4, 64), generator=torch.Generator().manual_seed(0))
    wrapped.model.train()
    torch.manual_seed(0)
    wrapped.model(input_ids=ids)
    assert 0.27 < (seen[-1] == 0).float().mean().item() < 0.33

    # eval mode: the hooks change nothing
    wrapped.model.eval()
    with torch.no_grad():
        hooked = wrapped.model(input_ids=ids).logits
        remove_residual_dropout(wrapped.model)
        assert residual_dropout_rates(wrapped.model) == [0.0, 0.0, 0.0]
        assert torch.equal(hooked, wrapped.model(input_ids=ids).logits)
    probe.remove()


# Runs in a fresh interpreter without lima_hf: what a user of plain transformers + peft does.
CHAT = textwrap.dedent(
    """
    import json, sys
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    kind, folder, base, prompts = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if kind == "adapter":
        from peft import PeftModel

        model = AutoModelForCausalLM.from_pretrained(base)
        model.resize_token_embeddings(len(tokenizer))           # the tokenizer adds <|eot|>
        model.generation_config = GenerationConfig.from_pretrained(folder)  # stops at <|eot|>
        model = PeftModel.from_pretrained(model, folder)
    else:
        model = AutoModelForCausalLM.from_pretrained(folder)
    eot = tokenizer.convert_tokens_to_ids("<|eot|>")
    stopped = []
    for prompt in prompts:
        inputs = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                               return_dict=True, return_tensors="pt")
        new = model.generate(**inputs, max_new_tokens=24, do_sample=False)[0, inputs["input_ids"].shape[1]:]
        stopped.append(new[-1].item() == eot)
    print(json.dumps({"stopped": stopped, "lima_hf": any(n.split(".")[0] == "lima_hf" for n in sys.modules)}))
    """
)


def _chat(kind, folder, base):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    process = subprocess.run([sys.executable, "-c", CHAT, kind, str(folder), str(base), json.dumps(PROMPTS)],
                             check=False, capture_output=True, text=True, env=env, cwd=folder, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    result = json.loads(process.stdout.strip().splitlines()[-1])
    assert not result["lima_hf"]
    return sum(result["stopped"]) / len(result["stopped"])


def _stop_rate_untrained(base):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lima_hf.chat import setup_eot_chat_format

    model, tokenizer = setup_eot_chat_format(AutoModelForCausalLM.from_pretrained(base), AutoTokenizer.from_pretrained(base))
    eot = tokenizer.convert_tokens_to_ids(DEFAULT_EOT_TOKEN)
    stopped = 0
    for prompt in PROMPTS:
        inputs = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                               return_dict=True, return_tensors="pt")
        stopped += model.generate(**inputs, max_new_tokens=24, do_sample=False)[0, -1].item() == eot
    return stopped / len(PROMPTS)


def _write_base_and_data(bundled_tokenizer, tmp_path, tied):
    model, tokenizer = _tiny(bundled_tokenizer, tied)
    base = tmp_path / "base"
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"conversations": [p, f"Idea {i} is good."], "source": "stackexchange"}) + "\n"
                            for i, p in enumerate(PROMPTS)))
    return base, data


def _recipe(tmp_path, base, data, **overrides):
    values = {"model_name_or_path": str(base), "dataset_name": str(data), "output_dir": str(tmp_path / "adapter"),
              "use_cpu": True, "bf16": False, "report_to": "none", "disable_tqdm": True, "save_strategy": "no",
              "per_device_train_batch_size": 10, "effective_batch_size": 10, "max_steps": 40, "max_length": 64,
              "learning_rate": 1e-2, "final_learning_rate": 1e-3, "residual_dropout": 0.1,
              "gradient_checkpointing": False, "use_peft": True, "lora_r": 8, "lora_alpha": 16,
              "lora_target_modules": TARGETS, **overrides}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_lora_run_learns_to_stop_and_adapter_and_merged_model_stop_without_lima_hf(
    bundled_tokenizer, tmp_path, capsys, tied
):
    from lima_hf.cli import main

    base, data = _write_base_and_data(bundled_tokenizer, tmp_path, tied)
    assert main(["train", "--config", str(_recipe(tmp_path, base, data))]) == 0
    out = capsys.readouterr().out
    assert "LoRA r=8" in out and "lima-hf merge" in out
    adapter = tmp_path / "adapter"
    assert (adapter / "adapter_config.json").is_file() and not (adapter / "model.safetensors").exists()
    merged = tmp_path / "merged"
    assert main(["merge", str(adapter), "--output_dir", str(merged)]) == 0
    assert (merged / "model.safetensors").is_file() and not (merged / "adapter_config.json").exists()

    # the untrained base in LIMA's format never stops; the adapter and the merged model do
    assert _stop_rate_untrained(base) == 0.0
    assert _chat("adapter", adapter, base) >= 0.9
    assert _chat("merged", merged, base) >= 0.9


def test_quantized_loading_needs_bitsandbytes_and_lora(monkeypatch):
    from trl import ModelConfig

    from lima_hf._optional import MissingExtraError
    from lima_hf.errors import ConfigError
    from lima_hf.training.lora import check_quantization

    check_quantization(ModelConfig(model_name_or_path="m"))  # nothing to check without quantization
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # as if not installed
    with pytest.raises(MissingExtraError, match=r'pip install "lima-hf\[qlora\]"'):
        check_quantization(ModelConfig(model_name_or_path="m", load_in_4bit=True, use_peft=True))
    monkeypatch.delitem(sys.modules, "bitsandbytes")
    pytest.importorskip("bitsandbytes")
    with pytest.raises(ConfigError, match="set use_peft: true"):
        check_quantization(ModelConfig(model_name_or_path="m", load_in_4bit=True))


@pytest.mark.slow
def test_qlora_run_on_4bit_weights_with_bitsandbytes_cpu_backend(bundled_tokenizer, tmp_path, capsys):
    pytest.importorskip("bitsandbytes")
    from lima_hf.cli import main

    base, data = _write_base_and_data(bundled_tokenizer, tmp_path, False)
    recipe = _recipe(tmp_path, base, data, max_steps=2, load_in_4bit=True, bnb_4bit_quant_type="nf4",
                     use_bnb_nested_quant=True, dtype="float32", optim="paged_adamw_32bit")
    assert main(["train", "--config", str(recipe)]) == 0
    assert "on 4-bit weights" in capsys.readouterr().out
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    assert main(["merge", str(tmp_path / "adapter"), "--output_dir", str(tmp_path / "merged")]) == 0
    _chat("merged", tmp_path / "merged", base)  # loads and generates with plain transformers


def test_merge_command_refuses_a_folder_that_is_not_an_adapter(tmp_path, capsys):
    from lima_hf.cli import main

    (tmp_path / "model").mkdir()
    assert main(["merge", str(tmp_path / "model"), "--output_dir", str(tmp_path / "merged")]) == 2
    assert "not an adapter folder (no adapter_config.json)" in capsys.readouterr().err
    assert main(["merge", str(tmp_path / "model")]) == 2
    assert "usage: lima-hf merge ADAPTER --output_dir MERGED" in capsys.readouterr().err
