"""The ``transformers`` backend: ``model.generate`` on left-padded batches.

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


class TransformersBackend(GenerationBackend):
    """``model.generate`` on a loaded model.

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
                "backend": {"name": self.name, "version": transformers.__version__}}

    def generate(self, prompts: list[list[int]], config, seeds: list[int]) -> list[Answer]:
        import torch
        from transformers import LogitsProcessorList

        with left_padding(self.tokenizer) as tokenizer:
            batch = tokenizer.pad({"input_ids": prompts}, padding=True, return_tensors="pt").to(self.model.device)
            pad_token_id = tokenizer.pad_token_id
        prompt_length = batch["input_ids"].shape[1]
        torch.manual_seed(seeds[0])  # one generator for the batch, seeded from its first prompt
        processors = [generated_only_penalty(config.repetition_penalty, prompt_length)]
        sampling = {"do_sample": False}
        if config.temperature > 0:  # the warpers come after the penalty, as in transformers' own order
            from transformers import TemperatureLogitsWarper

            sampling = {"do_sample": True, "top_p": 1.0, "temperature": 1.0, "top_k": 0}
            processors += [TemperatureLogitsWarper(config.temperature), NucleusLogitsWarper(config.top_p)]
        with torch.inference_mode():
            generated = self.model.generate(
                **batch,
                **sampling,
                max_new_tokens=config.max_new_tokens,
                repetition_penalty=1.0,
                logits_processor=LogitsProcessorList(processors),
                eos_token_id=self.stop_ids,
                pad_token_id=pad_token_id,
            )
        answers = []
        for row in generated[:, prompt_length:].tolist():
            stop = next((n for n, token in enumerate(row) if token in self.stop_ids), None)
            answers.append(self.answer(row if stop is None else row[: stop + 1], stopped=stop is not None))
        return answers
