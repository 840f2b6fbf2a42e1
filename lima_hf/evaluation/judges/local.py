"""A judge run locally with ``transformers``: any chat model folder or Hub id.

Two modes:

- ``generate``: the model reads the instruction and writes a free reply (greedy on the first attempt,
  sampled on retries), parsed like any other judge's;
- ``choice``: the model only picks among the allowed replies (``Choice: 1`` ... or ``1`` ... ``6``), the
  one whose tokens it finds most likely after the instruction. Small models that ramble or ignore the
  reply format still give a usable label; it costs one forward pass per option instead of a generation.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from lima_hf.errors import ConfigError
from lima_hf.evaluation.judges.base import ModelJudge


@dataclass
class LocalJudgeArguments:
    """Options of ``--judge local``."""

    judge_mode: str = field(
        default="generate",
        metadata={
            "help": "Local judge: 'generate' a free reply, or 'choice': pick the most likely allowed reply.",
            "choices": ["generate", "choice"],
        },
    )


class TransformersJudge(ModelJudge):
    """Local judge; ``model`` is a path/Hub id or an already loaded ``(model, tokenizer)`` pair."""

    def __init__(
        self,
        model,
        mode: str = "generate",
        max_new_tokens: int = 256,
        batch_size: int = 4,
        device: str | None = None,
    ):
        if mode not in ("generate", "choice"):
            raise ValueError(f"judge mode must be 'generate' or 'choice', not {mode!r}")
        if isinstance(model, (str, os.PathLike)):
            from lima_hf.evaluation.generation import load_generation_model

            self.name = str(model)
            self.model, self.tokenizer = load_generation_model(model, device=device)
        else:
            self.model, self.tokenizer = model
            self.name = str(getattr(self.model, "name_or_path", "") or type(self.model).__name__)
        if getattr(self.tokenizer, "chat_template", None) is None:
            raise ValueError(f"judge model {self.name}: its tokenizer has no chat template")
        self.mode = mode
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        from lima_hf.models import model_fingerprint

        # what the replies depend on (a cache of replies made with other settings is not reused)
        self.fingerprint = {"judge": "local", **model_fingerprint(self.model, self.tokenizer), "mode": mode,
                            "max_new_tokens": max_new_tokens}

    Arguments = LocalJudgeArguments
    needs_model = True

    @classmethod
    def from_arguments(cls, args) -> TransformersJudge:
        """The judge of ``lima-hf ... --judge local`` options."""
        model = args.judge_model
        if model == "bundled":  # the bundled SmolLM2, never a Hub lookup of a repo called 'bundled'
            from lima_hf.models import bundled_model_path

            model = bundled_model_path()
        elif not os.path.isdir(model) and (model.startswith((".", "/", "~")) or model.count("/") > 1):
            raise ConfigError(f"--judge_model {model}: no such model folder")
        try:
            return cls(model, mode=args.judge_mode, max_new_tokens=args.judge_max_tokens)
        except OSError as err:  # not a model folder, or a Hub id that cannot be fetched (offline, private)
            raise ConfigError(f"--judge_model {model}: cannot load a model ({str(err).splitlines()[0]})") from err

    def _chat_text(self, prompt: str) -> str:
        messages = [{"role": "user", "content": prompt}]
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def _generate(self, prompts: Sequence[str], attempt: int) -> Iterator[tuple[int, str]]:
        import torch

        tokenizer = self.tokenizer
        side, pad = tokenizer.padding_side, tokenizer.pad_token
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        try:
            for start in range(0, len(prompts), self.batch_size):
                texts = [self._chat_text(p) for p in prompts[start : start + self.batch_size]]
                batch = tokenizer(texts, add_special_tokens=False, padding=True, return_tensors="pt").to(
                    self.model.device
                )
                sampling = {"do_sample": True, "temperature": 0.7, "top_p": 0.9} if attempt else {"do_sample": False}
                with torch.inference_mode():
                    out = self.model.generate(
                        **batch, **sampling, max_new_tokens=self.max_new_tokens, pad_token_id=tokenizer.pad_token_id
                    )
                for row in range(len(texts)):
                    reply = tokenizer.decode(out[row, batch["input_ids"].shape[1] :], skip_special_tokens=True)
                    yield start + row, reply.strip()
        finally:
            tokenizer.padding_side, tokenizer.pad_token = side, pad

    def _choose(self, prompts: Sequence[str], choices: Sequence[str]) -> Iterator[tuple[int, str]]:
        import torch

        tokenizer = self.tokenizer
        options = [tokenizer(choice, add_special_tokens=False)["input_ids"] for choice in choices]
        keep = max(len(o) for o in options) + 1
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        for index, prompt in enumerate(prompts):
            context = tokenizer(self._chat_text(prompt), add_special_tokens=False)["input_ids"]
            width = len(context) + keep - 1
            # left padding: every option ends at the last position, so only the last `keep` logits are needed
            ids = torch.full((len(options), width), pad_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for row, option in enumerate(options):
                ids[row, width - len(context) - len(option) :] = torch.tensor(context + option)
                mask[row, width - len(context) - len(option) :] = 1
            positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
            with torch.inference_mode():
                logits = self.model(
                    input_ids=ids.to(self.model.device),
                    attention_mask=mask.to(self.model.device),
                    position_ids=positions.to(self.model.device),
                    logits_to_keep=keep,
                ).logits
            logprobs = torch.log_softmax(logits.float(), dim=-1).cpu()
            scores = []
            for row, option in enumerate(options):
                # kept index j is absolute position width - keep + j; the token at p is predicted at p - 1
                predicted_at = [width - len(option) + k - 1 - (width - keep) for k in range(len(option))]
                scores.append(sum(logprobs[row, j, token].item() for j, token in zip(predicted_at, option)))
            yield index, choices[max(range(len(choices)), key=scores.__getitem__)]

    def complete(
        self, prompts: Sequence[str], attempt: int = 0, choices: Sequence[str] | None = None
    ) -> Iterator[tuple[int, str]]:
        """Yield ``(index, reply)`` for each prompt, batch by batch."""
        if self.mode == "choice":
            if not choices:
                raise ValueError("a 'choice' judge needs the list of allowed replies")
            return self._choose(prompts, choices)
        return self._generate(prompts, attempt)
