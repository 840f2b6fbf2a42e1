"""Generation in the LIMA protocol on a tiny model: batching with left padding sorted by length, several
samples, multi-turn, stopping at EOT, resume after interruption; and the prompt file formats."""

import json

import pytest

from lima_hf.chat import setup_eot_chat_format
from lima_hf.data.records import make_record
from lima_hf.errors import InputError
from lima_hf.evaluation.generation import SamplingConfig, generate_responses
from lima_hf.evaluation.prompt_sets import load_prompts

PROMPTS = [
    {"id": "short", "turns": ["Hi"]},
    {"id": "long", "turns": ["Explain in detail how a bicycle gear system works and why it matters " * 3]},
    {"id": "dialogue", "turns": ["Name a color.", "And another one?"]},
]


@pytest.fixture
def chat_model(tiny_model):
    model, tokenizer = setup_eot_chat_format(*tiny_model)
    return model.eval(), tokenizer


def _spy(monkeypatch, fail_after=None):
    """Record the batches the transformers backend decodes; raise KeyboardInterrupt after ``fail_after`` of them."""
    from lima_hf.evaluation.backends import transformers_backend

    calls, original = [], transformers_backend.decode_shrinking

    def decode(model, input_ids, attention_mask, *args, **kwargs):
        if fail_after is not None and len(calls) >= fail_after:
            raise KeyboardInterrupt
        calls.append({"input_ids": input_ids.clone(), "attention_mask": attention_mask.clone()})
        return original(model, input_ids, attention_mask, *args, **kwargs)

    monkeypatch.setattr(transformers_backend, "decode_shrinking", decode)
    return calls


def test_samples_multi_turn_and_record_format(chat_model, tmp_path):
    model, tokenizer = chat_model
    config = SamplingConfig(max_new_tokens=4, num_samples=2, batch_size=2)
    records = generate_responses(model, tokenizer, PROMPTS, tmp_path / "out.jsonl", config, progress=False)
    assert [(r["id"], r["sample"]) for r in records] == [(p["id"], s) for p in PROMPTS for s in (0, 1)]
    dialogue = records[4]
    assert [m["role"] for m in dialogue["messages"]] == ["user", "assistant", "user", "assistant"]
    assert dialogue["messages"][2]["content"] == "And another one?"
    assert dialogue["response"] == dialogue["messages"][-1]["content"]
    assert len(dialogue["finish_reason"]) == 2 and all(n <= 4 for n in dialogue["new_tokens"])
    assert records[0]["sampling"]["top_p"] == 0.9 and records[0]["sampling"]["temperature"] == 0.7
    assert records[0]["sampling"]["repetition_penalty"] == 1.2
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert len(lines) == 6 and tokenizer.padding_side == "right"  # the tokenizer is left as it was


def test_batches_are_left_padded_and_sorted_by_length(chat_model, tmp_path, monkeypatch):
    model, tokenizer = chat_model
    calls = _spy(monkeypatch)
    generate_responses(
        model,
        tokenizer,
        PROMPTS,
        tmp_path / "out.jsonl",
        SamplingConfig(max_new_tokens=2, batch_size=2),
        progress=False,
    )
    first_turn = calls[:2]  # 3 first turns in batches of 2, then the dialogue's second turn
    lengths = [c["attention_mask"].sum(dim=1).tolist() for c in first_turn]
    assert lengths[0][0] >= lengths[0][1] >= lengths[1][0]  # longest first
    mask = first_turn[0]["attention_mask"]
    assert mask[:, -1].all() and not mask[1, 0]  # padding on the left, prompts end at the same position
    assert len(calls) == 3


def test_stops_at_the_end_of_turn_token(chat_model, tmp_path):
    model, tokenizer = chat_model
    eot_id = tokenizer.convert_tokens_to_ids("<|eot|>")
    assert eot_id in model.generation_config.eos_token_id

    def force_eot(module, inputs, output):
        output[..., eot_id] += 1000.0
        return output

    model.lm_head.register_forward_hook(force_eot)
    records = generate_responses(
        model, tokenizer, PROMPTS[:2], tmp_path / "out.jsonl", SamplingConfig(max_new_tokens=8), progress=False
    )
    # the end token is suppressed at the reply's first position (no empty replies), so it ends the second one
    assert all(r["finish_reason"] == ["eos"] and r["stop_token"] == ["<|eot|>"] and r["new_tokens"] == [2]
               and r["response"] for r in records)


def test_resume_after_interruption_recomputes_nothing(chat_model, tmp_path, monkeypatch):
    model, tokenizer = chat_model
    output = tmp_path / "out.jsonl"
    config = SamplingConfig(max_new_tokens=3, num_samples=2, batch_size=2)
    _spy(monkeypatch, fail_after=1)
    with pytest.raises(KeyboardInterrupt):
        generate_responses(model, tokenizer, PROMPTS[:2], output, config, progress=False)
    done = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(done) == 2  # the first batch was saved before the interruption
    monkeypatch.undo()  # back to the real loop, with a fresh spy
    calls = _spy(monkeypatch)
    records = generate_responses(model, tokenizer, PROMPTS[:2], output, config, progress=False)
    assert sum(c["input_ids"].shape[0] for c in calls) == 2  # only the two missing answers
    assert len(records) == 4 and len(output.read_text().splitlines()) == 4
    assert {(r["id"], r["sample"]) for r in records} == {(p["id"], s) for p in PROMPTS[:2] for s in (0, 1)}
    assert all(record in records for record in done)  # the saved answers are kept as they were


def test_prompt_files(tmp_path):
    jsonl = tmp_path / "prompts.jsonl"
    jsonl.write_text(
        json.dumps({"prompt": "What is LIMA?"})
        + "\n"
        + json.dumps(
            {
                "id": "m1",
                "messages": [
                    {"role": "user", "content": "a"},
                    {"role": "assistant", "content": "b"},
                    {"role": "user", "content": "c"},
                ],
            }
        )
        + "\n"
    )
    prompts = load_prompts(jsonl)
    assert prompts[0] == {"id": "prompts/1", "turns": ["What is LIMA?"], "source": None}  # file stem / line
    assert prompts[1]["id"] == "m1" and prompts[1]["turns"] == ["a", "c"]

    release = tmp_path / "test.jsonl"
    release.write_text(json.dumps({"conversations": ["Tell me a joke."], "source": "authors"}) + "\n")
    assert load_prompts(tmp_path, split="test")[0]["turns"] == ["Tell me a joke."]

    from lima_hf.data.dataset_folder import write_dataset_folder

    record = make_record(
        id="dev/1",
        source="authored",
        messages=[{"role": "user", "content": "dev q"}, {"role": "assistant", "content": "dev a"}],
    )
    folder = write_dataset_folder(tmp_path / "ds", {"default": {"train": [record], "dev": [record]}})
    assert load_prompts(folder, split="dev") == [{"id": "dev/1", "turns": ["dev q"], "source": "authored"}]

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "no prompt key"}) + "\n")
    with pytest.raises(InputError, match=r"bad\.jsonl:1: not a record: expected 'messages', 'conversations' or one of prompt"):
        load_prompts(bad)
    dup = tmp_path / "dup.jsonl"
    dup.write_text(json.dumps({"id": "x", "prompt": "a"}) + "\n" + json.dumps({"id": "x", "prompt": "b"}) + "\n")
    with pytest.raises(InputError, match=r"dup\.jsonl:2 \(id x\): duplicate id 'x' \(also at 1\)"):
        load_prompts(dup)


def test_greedy_when_temperature_is_zero(chat_model, tmp_path):
    model, tokenizer = chat_model
    config = SamplingConfig(max_new_tokens=4, temperature=0.0, seed=1)
    first = generate_responses(model, tokenizer, PROMPTS[:1], tmp_path / "a.jsonl", config, progress=False)
    second = generate_responses(
        model,
        tokenizer,
        PROMPTS[:1],
        tmp_path / "b.jsonl",
        SamplingConfig(max_new_tokens=4, temperature=0.0, seed=2),
        progress=False,
    )
    assert first[0]["response"] == second[0]["response"]


@pytest.mark.parametrize("scale", [0.3, 3.0, 12.0])
def test_nucleus_warper_keeps_the_tokens_transformers_keeps(scale):
    """The candidate-first nucleus filter gives TopPLogitsWarper's mask, flat (whole-sort path) or peaked."""
    import torch
    from transformers import TopPLogitsWarper

    from lima_hf.evaluation.backends.transformers_backend import NucleusLogitsWarper

    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(6, 50_000, generator=generator) * scale
    expected = TopPLogitsWarper(0.9)(None, scores.clone())
    got = NucleusLogitsWarper(0.9, candidates=256)(None, scores.clone())
    assert torch.equal(torch.isinf(expected), torch.isinf(got))
    assert torch.equal(expected[~torch.isinf(expected)], got[~torch.isinf(got)])


def _bundled_chat(bundled_model, texts):
    from lima_hf.evaluation.backends.transformers_backend import left_padding, load_generation_model

    model, tokenizer = load_generation_model(bundled_model, device="cpu")
    prompts = [tokenizer.apply_chat_template([{"role": "user", "content": t}], add_generation_prompt=True,
                                             tokenize=True, return_dict=True)["input_ids"] for t in texts]
    with left_padding(tokenizer):
        batch = tokenizer.pad({"input_ids": prompts}, padding=True, return_tensors="pt")
    return model, tokenizer, batch


def _cut(row, stop_ids):
    stop = next((n for n, token in enumerate(row) if token in stop_ids), None)
    return row if stop is None else row[: stop + 1]


def test_shrinking_batch_decodes_what_generate_decodes(bundled_model):
    """Greedy on a real model: rows that end leave the batch, and every row gets generate's tokens."""
    import torch
    from transformers import LogitsProcessorList

    from lima_hf.evaluation.backends.transformers_backend import decode_shrinking, generated_only_penalty

    texts = ["Say hi.", "Write one short sentence about the sea.", "List three colors, one per line."]
    model, tokenizer, batch = _bundled_chat(bundled_model, texts)
    stop_ids = {tokenizer.convert_tokens_to_ids("<|im_end|>")}
    length = batch["input_ids"].shape[1]
    processors = LogitsProcessorList([generated_only_penalty(1.2, length)])
    with torch.inference_mode():
        expected = model.generate(**batch, do_sample=False, max_new_tokens=40, eos_token_id=sorted(stop_ids),
                                  pad_token_id=tokenizer.pad_token_id, repetition_penalty=1.0,
                                  logits_processor=processors, top_p=None, top_k=None, temperature=None)
        got = decode_shrinking(model, batch["input_ids"], batch["attention_mask"], processors, 40, stop_ids,
                               sample=False)
    expected = [_cut(row, stop_ids) for row in expected[:, length:].tolist()]
    assert got == expected
    assert len({len(row) for row in got}) > 1 and any(row[-1] in stop_ids for row in got)  # rows left early


def test_shrinking_batch_samples_what_generate_samples(bundled_model):
    """One row, LIMA sampling, same seed: the same draws as generate."""
    import torch
    from transformers import LogitsProcessorList, TemperatureLogitsWarper

    from lima_hf.evaluation.backends.transformers_backend import (
        NucleusLogitsWarper,
        decode_shrinking,
        generated_only_penalty,
    )

    model, tokenizer, batch = _bundled_chat(bundled_model, ["Tell me about your favourite season."])
    stop_ids = {tokenizer.convert_tokens_to_ids("<|im_end|>")}
    length = batch["input_ids"].shape[1]
    processors = LogitsProcessorList([generated_only_penalty(1.2, length), TemperatureLogitsWarper(0.7),
                                      NucleusLogitsWarper(0.9)])
    with torch.inference_mode():
        torch.manual_seed(3)
        expected = model.generate(**batch, do_sample=True, top_p=1.0, temperature=1.0, top_k=0, max_new_tokens=30,
                                  eos_token_id=sorted(stop_ids), pad_token_id=tokenizer.pad_token_id,
                                  repetition_penalty=1.0, logits_processor=processors)
        torch.manual_seed(3)
        got = decode_shrinking(model, batch["input_ids"], batch["attention_mask"], processors, 30, stop_ids,
                               sample=True)
    assert got == [_cut(expected[0, length:].tolist(), stop_ids)]
