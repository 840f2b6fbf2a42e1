"""`lima-hf push model` of a LoRA adapter folder publishes an adapter card (base_model, library peft) whose
snippet loads and stops at `<|eot|>`; of the merged model, a normal transformers model card."""

import json
import re

import pytest
from test_hub import _downloaded, hub  # noqa: F401 - the fake Hub fixture

pytest.importorskip("peft")


@pytest.fixture
def adapter_and_merged(tmp_path, bundled_tokenizer):
    import copy

    from datasets import Dataset
    from peft import LoraConfig

    from lima_hf.models import tiny_llama
    from lima_hf.training.config import LimaSFTConfig
    from lima_hf.training.lora import merge_adapter
    from lima_hf.training.trainer import LimaSFTTrainer

    model, tokenizer = tiny_llama(copy.deepcopy(bundled_tokenizer), hidden_size=32, num_hidden_layers=2,
                                  num_attention_heads=2, num_key_value_heads=1, intermediate_size=64)
    base = tmp_path / "base"
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    data = Dataset.from_list([{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}])
    args = LimaSFTConfig(str(tmp_path / "adapter"), use_cpu=True, report_to=[], disable_tqdm=True, max_steps=1,
                         per_device_train_batch_size=1, effective_batch_size=1, save_strategy="no",
                         gradient_checkpointing=False)
    trainer = LimaSFTTrainer(str(base), args, train_dataset=data,
                             peft_config=LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                    task_type="CAUSAL_LM"))
    trainer.train()
    trainer.save_model(args.output_dir)
    trainer.create_model_card(model_name="adapter")
    return tmp_path / "adapter", merge_adapter(tmp_path / "adapter", tmp_path / "merged")


def test_push_adapter_publishes_an_adapter_card_and_merged_model_a_model_card(hub, adapter_and_merged, tmp_path):  # noqa: F811
    from huggingface_hub import ModelCard

    from lima_hf.cli import main

    adapter, merged = adapter_and_merged
    assert "library_name: peft" in (adapter / "README.md").read_text()  # the trainer's own card already says so
    assert main(["push", "model", str(adapter), "--repo_id", "lima/tiny-lora", "--base_model", "lima/tiny-base"]) == 0
    assert main(["push", "model", str(merged), "--repo_id", "lima/tiny-merged", "--base_model", "lima/tiny-base"]) == 0

    local = _downloaded(hub, "lima/tiny-lora", "model", tmp_path / "download")
    assert {"adapter_config.json", "adapter_model.safetensors", "generation_config.json", "tokenizer.json"} <= {
        p.name for p in local.iterdir()}
    card = ModelCard.load(local / "README.md")
    meta = card.data.to_dict()
    assert meta["library_name"] == "peft" and meta["base_model"] == "lima/tiny-base"
    assert {"peft", "lora", "lima-hf"} <= set(meta["tags"])
    assert "A LoRA adapter for [lima/tiny-base]" in card.text and "| LoRA r | 4 |" in card.text
    assert "trained token rows" in card.text and "resize_token_embeddings" in card.text
    # the card's snippet runs as written on the downloaded copy, and the reply stops at <|eot|>
    snippet = re.search(r"```python\n(.*?)```", card.text, re.DOTALL).group(1)
    snippet = snippet.replace('"lima/tiny-lora"', repr(str(local))).replace("max_new_tokens=2048", "max_new_tokens=4")
    scope = {}
    exec(compile(snippet, "adapter card snippet", "exec"), scope)  # noqa: S102 - our own generated card
    eot_id = scope["tokenizer"].convert_tokens_to_ids("<|eot|>")
    assert eot_id in scope["model"].generation_config.eos_token_id

    merged_card = ModelCard.load(_downloaded(hub, "lima/tiny-merged", "model", tmp_path / "merged-download") / "README.md")
    merged_meta = merged_card.data.to_dict()
    assert merged_meta["library_name"] == "transformers" and merged_meta["base_model"] == "lima/tiny-base"
    assert "peft" not in merged_meta["tags"] and "LoRA adapter" not in merged_card.text
    assert json.loads((merged / "config.json").read_text())["vocab_size"] == len(scope["tokenizer"])
