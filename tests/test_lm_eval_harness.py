"""A model trained here, evaluated by EleutherAI's lm-evaluation-harness as users run it
(``lm-eval --model hf --apply_chat_template``) on a task defined in the test over a local JSONL in IFEval's
schema: generation stops at ``<|eot|>``, the replies carry no template text, and lm-eval's IFEval scores
equal ``score_instructions``' on the same replies. Offline: the task, the data and the model are local."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("lm_eval", reason='lm-eval is in the ifeval extra: pip install "lima-hf[ifeval]"')

from lima_hf.chat import DEFAULT_EOT_TOKEN, setup_eot_chat_format  # noqa: E402

# two prompts of the bundled set's kind, each with an answer that follows its instructions
PAIRS = [
    ({"key": 1, "prompt": "How do I get red wine out of a white shirt? Do not use any commas in your answer.",
      "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
     "Blot it and rinse it with cold water."),
    ({"key": 2, "prompt": "Is it safe to leave cooked rice out overnight? Answer with one of the following options: "
      "('My answer is yes.', 'My answer is no.', 'My answer is maybe.')",
      "instruction_id_list": ["detectable_format:constrained_response"], "kwargs": [{}]},
     "My answer is no."),
]
TASK = textwrap.dedent(
    """\
    task: lima_local_instructions
    dataset_path: json
    dataset_kwargs:
      data_files:
        train: {data}
    test_split: train
    output_type: generate_until
    doc_to_text: prompt
    doc_to_target: 0
    generation_kwargs:
      until: []
      do_sample: false
      max_gen_toks: {max_gen_toks}
    process_results: !function utils.process_results
    metric_list:
      - metric: prompt_level_strict_acc
        aggregation: mean
        higher_is_better: true
      - metric: inst_level_strict_acc
        aggregation: !function utils.agg_inst_level_acc
        higher_is_better: true
      - metric: prompt_level_loose_acc
        aggregation: mean
        higher_is_better: true
      - metric: inst_level_loose_acc
        aggregation: !function utils.agg_inst_level_acc
        higher_is_better: true
    """
)
MAX_GEN_TOKS = 24
TEMPLATE_TEXT = ("<|eot|>", "<|im_start|>", "<|im_end|>", "<|user|>", "<|assistant|>", "User:", "Assistant:")


@pytest.fixture(scope="module")
def trained_model(bundled_tokenizer, tmp_path_factory):
    """A tiny model prepared with the EOT chat format and trained until it answers the two prompts."""
    import copy

    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from lima_hf.models import tiny_llama

    root = tmp_path_factory.mktemp("lm_eval")
    torch.manual_seed(0)
    model, tokenizer = setup_eot_chat_format(*tiny_llama(
        copy.deepcopy(bundled_tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, intermediate_size=64,
    ))
    rows = [{"messages": [{"role": "user", "content": p["prompt"]}, {"role": "assistant", "content": a}]}
            for p, a in PAIRS]
    config = SFTConfig(
        output_dir=str(root / "run"), max_steps=40, learning_rate=3e-2, lr_scheduler_type="constant",
        per_device_train_batch_size=2, assistant_only_loss=True, use_cpu=True, bf16=False, report_to="none",
        save_strategy="no", disable_tqdm=True, seed=0, logging_steps=8,
    )
    SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer).train()
    model.save_pretrained(root / "model")
    tokenizer.save_pretrained(root / "model")
    return root / "model"


@pytest.mark.slow
def test_lm_eval_with_the_chat_template_stops_at_eot_and_scores_like_lima_hf(trained_model, tmp_path):
    from lima_hf.evaluation.protocols.instruction_following import score_instructions

    data = tmp_path / "tasks" / "prompts.jsonl"
    data.parent.mkdir()
    data.write_text("".join(json.dumps(p) + "\n" for p, _ in PAIRS))
    (data.parent / "lima_local_instructions.yaml").write_text(TASK.format(data=data, max_gen_toks=MAX_GEN_TOKS))
    (data.parent / "utils.py").write_text("from lm_eval.tasks.ifeval.utils import agg_inst_level_acc, process_results\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [
        sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={trained_model},dtype=float32",
        "--tasks", "lima_local_instructions", "--include_path", str(data.parent), "--apply_chat_template",
        "--device", "cpu", "--batch_size", "2", "--log_samples", "--output_path", str(tmp_path / "out"),
    ]
    process = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900, check=False)
    assert process.returncode == 0, process.stderr[-3000:]

    samples = [json.loads(line) for path in (tmp_path / "out").rglob("samples_lima_local_instructions_*.jsonl")
               for line in path.read_text().splitlines()]
    results = json.loads(next((tmp_path / "out").rglob("results_*.json")).read_text())["results"]
    assert len(samples) == len(PAIRS)
    replies = {s["doc"]["key"]: s["resps"][0][0] for s in samples}
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(trained_model)
    for prompt, answer in PAIRS:
        reply = replies[prompt["key"]]
        assert reply.strip() and not any(marker in reply for marker in TEMPLATE_TEXT), reply
        # ended before max_gen_toks, so at the only stop there is: <|eot|>, lm-eval's eos (the trained answer
        # itself once the tiny model has learnt it exactly)
        assert len(tokenizer(reply, add_special_tokens=False)["input_ids"]) < MAX_GEN_TOKS, reply
        assert reply.split()[0] == answer.split()[0]
    # lm-eval's own IFEval scores agree with lima-hf's on the same replies
    ours = score_instructions([{"id": str(k), "prompt": next(p["prompt"] for p, _ in PAIRS if p["key"] == k),
                                "response": r} for k, r in replies.items()], [p for p, _ in PAIRS], n_resamples=0)
    theirs = results["lima_local_instructions"]
    for metric, our_metric in (("prompt_level_strict_acc", "prompt_strict"), ("inst_level_strict_acc", "instruction_strict"),
                               ("prompt_level_loose_acc", "prompt_loose"), ("inst_level_loose_acc", "instruction_loose")):
        assert theirs[f"{metric},none"] == pytest.approx(ours[our_metric])


@pytest.mark.slow
def test_the_trained_model_ends_its_turn_with_the_eot(trained_model):
    """The same prompts under plain transformers: the last generated token is <|eot|>."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(trained_model)
    model = AutoModelForCausalLM.from_pretrained(trained_model)
    eot = tokenizer.convert_tokens_to_ids(DEFAULT_EOT_TOKEN)
    for prompt, _ in PAIRS:
        inputs = tokenizer.apply_chat_template([{"role": "user", "content": prompt["prompt"]}], add_generation_prompt=True,
                                               return_dict=True, return_tensors="pt")
        new = model.generate(**inputs, max_new_tokens=MAX_GEN_TOKS, do_sample=False)[0, inputs["input_ids"].shape[1]:]
        assert new[-1].item() == eot and len(new) < MAX_GEN_TOKS
