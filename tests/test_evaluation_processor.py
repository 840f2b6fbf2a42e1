"""The paper's repetition penalty (previously generated tokens only) is transformers'
``RepetitionPenaltyLogitsProcessor(penalty, prompt_ignore_length=...)``: hand-computed logits, and the same
samples for the same seed as lima-hf's earlier hand-written processor."""

import pytest
import torch
from transformers import LogitsProcessor, LogitsProcessorList, RepetitionPenaltyLogitsProcessor


class HandWrittenGeneratedTokensPenalty(LogitsProcessor):
    """lima-hf's earlier processor, kept here as the reference the library's must match."""

    def __init__(self, penalty: float, prompt_length: int):
        self.penalty, self.prompt_length = penalty, prompt_length

    def __call__(self, input_ids, scores):
        generated = input_ids[:, self.prompt_length :]
        if generated.shape[1] == 0 or self.penalty == 1.0:
            return scores
        picked = torch.gather(scores, 1, generated)
        picked = torch.where(picked < 0, picked * self.penalty, picked / self.penalty)
        return scores.scatter(1, generated, picked)


def test_penalises_generated_tokens_only_by_hand():
    # prompt = tokens 0 and 1 (2 positions), generated = 3, 1, 3
    input_ids = torch.tensor([[0, 1, 3, 1, 3]])
    scores = torch.tensor([[2.0, -2.0, 1.0, 4.0, 0.5]])
    out = RepetitionPenaltyLogitsProcessor(2.0, prompt_ignore_length=2)(input_ids, scores.clone())
    # token 0 appears only in the prompt: untouched; token 1 was generated (negative: x2); token 3 generated
    # twice but penalised once (positive: /2); tokens 2 and 4 never seen: untouched
    assert out.tolist() == [[2.0, -4.0, 1.0, 2.0, 0.5]]


def test_without_prompt_ignore_length_the_prompt_is_penalised_too():
    input_ids = torch.tensor([[0, 1, 3]])
    scores = torch.tensor([[2.0, -2.0, 1.0, 4.0]])
    ours = RepetitionPenaltyLogitsProcessor(1.2, prompt_ignore_length=2)(input_ids, scores.clone())
    plain = RepetitionPenaltyLogitsProcessor(1.2)(input_ids, scores.clone())  # what generate(repetition_penalty=)
    assert ours[0].tolist()[:2] == [2.0, -2.0]  # prompt tokens untouched
    assert plain[0].tolist()[:2] == pytest.approx([2.0 / 1.2, -2.4])
    assert ours[0, 3].item() == pytest.approx(4.0 / 1.2) == pytest.approx(plain[0, 3].item())  # same rule


def test_batch_rows_and_nothing_generated_yet():
    input_ids = torch.tensor([[5, 0, 1], [5, 2, 2]])  # row 0 generated 1, row 1 generated 2
    scores = torch.ones(2, 6)
    out = RepetitionPenaltyLogitsProcessor(2.0, prompt_ignore_length=2)(input_ids, scores.clone())
    assert out[0].tolist() == [1, 0.5, 1, 1, 1, 1]
    assert out[1].tolist() == [1, 1, 0.5, 1, 1, 1]
    fresh = RepetitionPenaltyLogitsProcessor(2.0, prompt_ignore_length=3)(input_ids, scores.clone())
    assert torch.equal(fresh, scores)


def test_same_seed_same_samples_as_the_hand_written_processor(tiny_model):
    from lima_hf.chat import setup_eot_chat_format

    model, tokenizer = setup_eot_chat_format(*tiny_model)
    tokenizer.padding_side = "left"
    prompts = [[{"role": "user", "content": "Tell me about tea."}], [{"role": "user", "content": "Hi"}]]
    texts = [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False) for p in prompts]
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    length = batch["input_ids"].shape[1]
    outputs = []
    for processor in (HandWrittenGeneratedTokensPenalty(1.2, length),
                      RepetitionPenaltyLogitsProcessor(1.2, prompt_ignore_length=length)):
        torch.manual_seed(0)
        outputs.append(model.generate(**batch, do_sample=True, top_p=0.9, temperature=0.7, top_k=0,
                                      max_new_tokens=24, repetition_penalty=1.0,
                                      logits_processor=LogitsProcessorList([processor]),
                                      pad_token_id=tokenizer.pad_token_id))
    assert torch.equal(outputs[0], outputs[1])
    assert outputs[0].shape[1] > length
