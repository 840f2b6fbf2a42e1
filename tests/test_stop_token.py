"""A model prepared by lima-hf stops at <|eot|> however the stop id is set, in processes without lima_hf.

The model is prepared by ``setup_eot_chat_format``, then trained by plain TRL (``python -m trl.scripts.sft``,
the script behind ``trl sft``) in a fresh process; the trained folder is then used with the stop id taken
from its saved ``generation_config`` and, as the alignment-handbook's ``scripts/sft.py`` does, from
``tokenizer.eos_token_id``.
"""

import copy
import json
import os
import subprocess
import sys
import textwrap

import pytest

from lima_hf.chat import DEFAULT_EOT_TOKEN, setup_eot_chat_format

PAIRS = [("What is the capital of France?", "Paris."), ("Say hello.", "Hello!")]
MAX_NEW_TOKENS = 16

# Every script below runs in a fresh interpreter and fails if lima_hf gets imported.
NO_LIMA = "assert not any(name.split('.')[0] == 'lima_hf' for name in sys.modules), 'lima_hf was imported'\n"

TRAIN_WITH_PLAIN_TRL = textwrap.dedent(
    """
    import runpy, sys
    sys.argv = ["trl-sft", *sys.argv[1:]]
    runpy.run_module("trl.scripts.sft", run_name="__main__")
    """
) + NO_LIMA

GENERATE = textwrap.dedent(
    """
    import json, sys
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, stop_from, prompts, max_new_tokens = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    if stop_from == "tokenizer":  # alignment-handbook scripts/sft.py
        model.generation_config.eos_token_id = tokenizer.eos_token_id
    new_ids = []
    for prompt in prompts:
        inputs = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                               return_dict=True, return_tensors="pt")
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        new_ids.append(output[0, inputs["input_ids"].shape[1]:].tolist())
    print(json.dumps({"new_ids": new_ids, "eos_token": tokenizer.eos_token,
                      "eot_id": tokenizer.convert_tokens_to_ids("<|eot|>"),
                      "stop_ids": model.generation_config.eos_token_id}))
    """
) + NO_LIMA


def run_fresh(script: str, *args, cwd) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("PYTHONPATH", None)  # lima_hf must not be importable by accident through the worktree path
    process = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)], check=False, capture_output=True, text=True, env=env,
        cwd=cwd, timeout=600,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return process.stdout


@pytest.fixture(scope="module")
def trained_by_plain_trl(bundled_tokenizer, tmp_path_factory):
    """A tiny model prepared by lima-hf, then trained by plain TRL's SFT script in a fresh process."""
    from lima_hf.models import tiny_llama

    root = tmp_path_factory.mktemp("stop_token")
    model, tokenizer = tiny_llama(
        copy.deepcopy(bundled_tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, intermediate_size=64,
    )
    model, tokenizer = setup_eot_chat_format(model, tokenizer)
    model.save_pretrained(root / "prepared")
    tokenizer.save_pretrained(root / "prepared")
    (root / "data").mkdir()
    with open(root / "data" / "train.jsonl", "w", encoding="utf-8") as stream:
        for question, answer in PAIRS:
            messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
            stream.write(json.dumps({"messages": messages}) + "\n")
    run_fresh(
        TRAIN_WITH_PLAIN_TRL,
        "--model_name_or_path", root / "prepared", "--dataset_name", root / "data", "--output_dir", root / "trained",
        "--assistant_only_loss", "true", "--use_cpu", "true", "--bf16", "false", "--max_steps", "24",
        "--learning_rate", "3e-2", "--lr_scheduler_type", "constant", "--per_device_train_batch_size", "2",
        "--gradient_checkpointing", "false", "--save_strategy", "no", "--report_to", "none",
        "--disable_tqdm", "true", "--seed", "0",
        cwd=root,
    )
    return root / "trained", tokenizer


def generate_fresh(folder, stop_from):
    output = run_fresh(GENERATE, folder, stop_from, json.dumps([q for q, _ in PAIRS]), MAX_NEW_TOKENS, cwd=folder)
    return json.loads(output.strip().splitlines()[-1])


def assert_stops_at_eot(result):
    assert result["eos_token"] == DEFAULT_EOT_TOKEN
    for new_ids in result["new_ids"]:
        assert new_ids[-1] == result["eot_id"] and len(new_ids) < MAX_NEW_TOKENS  # stopped at the EOT


@pytest.mark.slow
def test_plain_trl_sft_keeps_the_eot_as_eos_and_stop_id(trained_by_plain_trl):
    folder, tokenizer = trained_by_plain_trl
    config = json.loads((folder / "generation_config.json").read_text())
    eot_id = tokenizer.convert_tokens_to_ids(DEFAULT_EOT_TOKEN)
    assert eot_id in config["eos_token_id"]
    assert json.loads((folder / "config.json").read_text())["eos_token_id"] == eot_id
    assert json.loads((folder / "tokenizer_config.json").read_text())["eos_token"] == DEFAULT_EOT_TOKEN


@pytest.mark.slow
def test_stops_at_eot_with_the_stop_ids_of_generation_config(trained_by_plain_trl):
    folder, _ = trained_by_plain_trl
    assert_stops_at_eot(generate_fresh(folder, "generation_config"))


@pytest.mark.slow
def test_stops_at_eot_with_the_stop_id_taken_from_the_tokenizer(trained_by_plain_trl):
    folder, _ = trained_by_plain_trl
    result = generate_fresh(folder, "tokenizer")
    assert result["stop_ids"] == result["eot_id"]  # the handbook's one stop id is the EOT, not the old EOS
    assert_stops_at_eot(result)


def test_trl_appends_no_second_eot_to_rendered_chat_texts(tiny_model, tmp_path):
    """TRL appends eos_token to plain texts; a text rendered with the LIMA template already ends with it."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    model, tokenizer = setup_eot_chat_format(*tiny_model)
    eot_id = tokenizer.convert_tokens_to_ids(DEFAULT_EOT_TOKEN)
    messages = [{"role": "user", "content": PAIRS[0][0]}, {"role": "assistant", "content": PAIRS[0][1]}]
    texts = Dataset.from_list([{"text": tokenizer.apply_chat_template(messages, tokenize=False)}, {"text": "Plain."}])
    args = SFTConfig(str(tmp_path), use_cpu=True, report_to="none", max_steps=1)
    trainer = SFTTrainer(model=model, args=args, train_dataset=texts, processing_class=tokenizer)
    rendered, plain = (row["input_ids"] for row in trainer.train_dataset)
    assert rendered.count(eot_id) == 2 and rendered[-2:] != [eot_id, eot_id]  # one EOT per utterance
    assert plain[-1] == eot_id and plain.count(eot_id) == 1  # plain text gets the EOT as its end


FIRST_TOKEN_SCORES = textwrap.dedent(
    """
    import json, sys
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(sys.argv[1])
    model = AutoModelForCausalLM.from_pretrained(sys.argv[1])
    inputs = tokenizer.apply_chat_template([{"role": "user", "content": "Say hello."}], add_generation_prompt=True,
                                           return_dict=True, return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=2, do_sample=False, output_scores=True,
                         return_dict_in_generate=True)
    stops, begin = model.generation_config.eos_token_id, model.generation_config.begin_suppress_tokens
    newline = tokenizer("a\\nb", add_special_tokens=False)["input_ids"][1]
    print(json.dumps({"stops": stops, "newline_suppressed": newline in begin,
                      "first": [out.scores[0][0, i].item() for i in [*stops, *begin]],
                      "second": [out.scores[1][0, i].item() for i in stops]}))
    """
) + NO_LIMA


def test_a_saved_model_never_ends_a_reply_before_its_first_token(tiny_model, tmp_path):
    """``begin_suppress_tokens`` in the saved generation config: plain ``generate`` cannot return an empty reply
    (a stop token, or whitespace, first)."""
    model, tokenizer = setup_eot_chat_format(*tiny_model)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    result = json.loads(run_fresh(FIRST_TOKEN_SCORES, tmp_path, cwd=tmp_path).strip().splitlines()[-1])
    assert tokenizer.convert_tokens_to_ids(DEFAULT_EOT_TOKEN) in result["stops"] and len(result["stops"]) == 2
    assert result["newline_suppressed"]
    assert all(score == float("-inf") for score in result["first"])  # no stop token, no whitespace first
    assert all(score > float("-inf") for score in result["second"])  # but from the second one on
