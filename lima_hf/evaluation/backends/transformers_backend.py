"""The ``transformers`` backend: a model's forward pass with its KV cache on left-padded batches that shrink as
answers end (:func:`decode_shrinking`).

The repetition penalty counts generated tokens only, as in the paper: transformers'
``RepetitionPenaltyLogitsProcessor`` with ``prompt_ignore_length`` = the padded prompt's length.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any

from lima_hf.evaluation.backends import Answer, GenerationBackend, stop_ids


def load_generation_model(model_path: str | os.PathLike, device: str | None = None, dtype: str = "auto",
                          tokenizer_path: str | os.PathLike | None = None):
    """``(model, tokenizer)`` from a folder or Hub id, in eval mode, on ``device`` (default: CUDA if present); the
    tokenizer from ``tokenizer_path`` when given (:func:`lima_hf.chat.load_tokenizer`)."""
    import torch
    from transformers import AutoModelForCausalLM

    from lima_hf.chat import load_tokenizer

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = load_tokenizer(tokenizer_path or model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).to(device).eval()
    return model, tokenizer


@contextmanager
def left_padding(tokenizer):
    """Pad on the left (prompts end where generation starts), with the end token as padding if there is none;
    the tokenizer is left as it was on exit."""
    padding_side, pad_token = tokenizer.padding_side, tokenizer.pad_token
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    try:
        yield tokenizer
    finally:
        tokenizer.padding_side, tokenizer.pad_token = padding_side, pad_token


def generated_only_penalty(penalty: float, prompt_length: int):
    """The paper's repetition penalty: transformers' processor, blind to the first ``prompt_length`` ids."""
    from transformers import RepetitionPenaltyLogitsProcessor

    return RepetitionPenaltyLogitsProcessor(float(penalty), prompt_ignore_length=prompt_length)


def suppressed_tokens(generation_config, prompt_length: int, device="cpu") -> list:
    """The processors of the generation config's ``suppress_tokens`` (never sampled) and ``begin_suppress_tokens``
    (not sampled first: lima-hf lists the end and whitespace tokens there, so no reply is empty), in
    ``generate``'s order."""
    from transformers import SuppressTokensAtBeginLogitsProcessor, SuppressTokensLogitsProcessor

    processors = []
    if generation_config.suppress_tokens:
        processors.append(SuppressTokensLogitsProcessor(generation_config.suppress_tokens, device=device))
    if generation_config.begin_suppress_tokens:
        processors.append(SuppressTokensAtBeginLogitsProcessor(generation_config.begin_suppress_tokens, prompt_length,
                                                               device=device))
    return processors


class NucleusLogitsWarper:
    """Nucleus (top-p) filtering with the mask of transformers' ``TopPLogitsWarper``, found among the
    ``candidates`` highest scores when they hold at least ``top_p`` of the mass (the whole sort otherwise).

    ``TopPLogitsWarper`` sorts the whole vocabulary at every step; with a 262k-token vocabulary (Gemma 3) that
    sort is most of a CPU decoding step. A token is kept when the mass of the tokens above it is below
    ``top_p``; when the top ``candidates`` already hold ``top_p``, no token below them can be kept.
    """

    def __init__(self, top_p: float, candidates: int = 1024):
        from transformers import TopPLogitsWarper

        self.top_p, self.candidates = float(top_p), candidates
        self.whole_sort = TopPLogitsWarper(top_p)

    def __call__(self, input_ids, scores):
        import torch

        k = min(self.candidates, scores.shape[-1])
        top, indices = scores.topk(k, dim=-1)
        probs = (top - scores.logsumexp(dim=-1, keepdim=True)).exp()
        if bool((probs.sum(dim=-1) < self.top_p).any()):
            return self.whole_sort(input_ids, scores)
        above = probs.cumsum(dim=-1) - probs  # mass of the tokens above each candidate
        keep = above < self.top_p
        keep[:, 0] = True
        filtered = torch.full_like(scores, float("-inf"))
        return filtered.scatter(-1, indices, torch.where(keep, top, torch.full_like(top, float("-inf"))))


def decode_shrinking(model, input_ids, attention_mask, processors, max_new_tokens: int, stop_ids, sample: bool):
    """New token ids of each row of a left-padded batch, each list ending at its first id in ``stop_ids`` or after
    ``max_new_tokens``: ``model.generate``'s sampling loop (the same KV cache, positions, processors and
    ``torch.multinomial`` draw), except that a row that ends leaves the batch and its cache.

    ``generate`` computes every row until the longest answer ends; an answer of 90 tokens in a batch whose
    longest runs to 512 costs 512 steps. With Gemma 3's 262k-token output layer a step's cost grows with the
    rows it computes, so the shrinking batch is what makes a batch of short answers cheap. A batch of one row
    draws exactly what ``generate`` draws; in larger batches the random draws of the rows still running differ
    from ``generate``'s once a row has left (same distribution, other samples)."""
    import torch
    from transformers import DynamicCache

    from lima_hf.compat import cache_keyword

    cache = DynamicCache(config=model.config)
    keyword = cache_keyword(model)
    rows = list(range(input_ids.shape[0]))
    answers: list[list[int]] = [[] for _ in rows]
    stops = torch.tensor(sorted(stop_ids), device=input_ids.device)
    sequences, step_ids = input_ids, input_ids
    positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    for _ in range(max_new_tokens):
        logits = model(input_ids=step_ids, attention_mask=attention_mask, position_ids=positions,
                       use_cache=True, logits_to_keep=1, **{keyword: cache}).logits[:, -1, :].float()
        scores = processors(sequences, logits)
        chosen = torch.multinomial(scores.softmax(dim=-1), 1).squeeze(1) if sample else scores.argmax(dim=-1)
        for row, token in zip(rows, chosen.tolist()):
            answers[row].append(token)
        going = (~torch.isin(chosen, stops)).nonzero().squeeze(1)
        if going.numel() == 0:
            break
        sequences = torch.cat([sequences, chosen[:, None]], dim=-1)
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones(len(rows), 1)], dim=-1)
        positions = positions[:, -1:] + 1
        step_ids = chosen[:, None]
        if going.numel() < len(rows):
            cache.batch_select_indices(going)
            sequences, attention_mask, positions, step_ids = (t[going] for t in (sequences, attention_mask, positions, step_ids))
            rows = [rows[i] for i in going.tolist()]
    return answers


class TransformersBackend(GenerationBackend):
    """A loaded model answering with :func:`decode_shrinking` (``model.generate``'s loop, rows leaving as they end).

    Parameters:
        model (`PreTrainedModel`):
            A causal LM in eval mode; its ``generation_config.eos_token_id`` lists the stop ids.
        tokenizer (`PreTrainedTokenizerBase`):
            Its tokenizer, with a chat template.
    """

    name = "transformers"

    def __init__(self, model, tokenizer):
        name = getattr(model, "name_or_path", None) or type(model).__name__
        super().__init__(tokenizer, stop_ids(model.generation_config, tokenizer), name)
        self.model = model
        self.context_length = getattr(model.config, "max_position_embeddings", None)

    @classmethod
    def load(cls, model_path: str | os.PathLike, tokenizer: str | os.PathLike | None = None,
             device: str | None = None, dtype: str = "auto"):
        """The model at ``model_path`` on ``device`` (default: CUDA if present), with the tokenizer saved
        beside it or at ``tokenizer``."""
        return cls(*load_generation_model(model_path, device=device, dtype=dtype, tokenizer_path=tokenizer))

    def fingerprint(self) -> dict[str, Any]:
        import transformers

        from lima_hf.models import model_fingerprint

        return {**model_fingerprint(self.model, self.tokenizer),
                "backend": {"name": self.name, "version": transformers.__version__, "loop": "shrinking batch"}}

    def generate(self, prompts: list[list[int]], config, seeds: list[int]) -> list[Answer]:
        import torch
        from transformers import LogitsProcessorList

        with left_padding(self.tokenizer) as tokenizer:
            batch = tokenizer.pad({"input_ids": prompts}, padding=True, return_tensors="pt").to(self.model.device)
        prompt_length = batch["input_ids"].shape[1]
        torch.manual_seed(seeds[0])  # one generator for the batch, seeded from its first prompt
        processors = [*suppressed_tokens(self.model.generation_config, prompt_length, self.model.device),
                      generated_only_penalty(config.repetition_penalty, prompt_length)]
        if config.temperature > 0:  # the warpers come after the penalty, as in transformers' own order
            from transformers import TemperatureLogitsWarper

            processors += [TemperatureLogitsWarper(config.temperature), NucleusLogitsWarper(config.top_p)]
        with torch.inference_mode():
            rows = decode_shrinking(self.model, batch["input_ids"], batch["attention_mask"],
                                    LogitsProcessorList(processors), config.max_new_tokens, self.stop_ids,
                                    sample=config.temperature > 0)
        return [self.answer(row, stopped=bool(row) and row[-1] in self.stop_ids) for row in rows]
