"""The paper's repetition penalty for vLLM: previously *generated* tokens only.

vLLM's own ``repetition_penalty`` also penalises the prompt's tokens; this logits processor (vLLM's V1
``LogitsProcessor`` interface, passed to ``LLM(logits_processors=[...])``) applies the same rule as
transformers' ``RepetitionPenaltyLogitsProcessor`` with ``prompt_ignore_length`` = the prompt's length: each
distinct token already generated has its logit divided by the penalty when positive, multiplied when
negative. A request opts in with ``SamplingParams(extra_args={PENALTY_KEY: 1.2})``. The same processor keeps
the ids of ``extra_args[BEGIN_SUPPRESS_KEY]`` from being a reply's first token, as transformers does with the
generation config's ``begin_suppress_tokens`` (lima-hf lists the end and whitespace tokens there: no empty
replies).
"""

from __future__ import annotations

import torch
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor
from vllm.v1.sample.logits_processor.builtin import process_dict_updates

PENALTY_KEY = "lima_generated_repetition_penalty"
BEGIN_SUPPRESS_KEY = "lima_begin_suppress_tokens"


def penalize_generated(logits: torch.Tensor, generated: list[int], penalty: float) -> torch.Tensor:
    """``logits`` (one row) with the tokens of ``generated`` penalised in place, as transformers does."""
    if generated and penalty != 1.0:
        ids = torch.tensor(sorted(set(generated)), dtype=torch.long, device=logits.device)
        scores = logits[ids]
        logits[ids] = torch.where(scores < 0, scores * penalty, scores / penalty)
    return logits


class GeneratedOnlyRepetitionPenalty(LogitsProcessor):
    """Per request: the penalty of ``extra_args[PENALTY_KEY]`` on the tokens it generated so far, and no token
    of ``extra_args[BEGIN_SUPPRESS_KEY]`` first."""

    def __init__(self, vllm_config, device: torch.device, is_pin_memory: bool):
        # batch row -> (penalty, ids barred from the first position, its live output ids)
        self.requests: dict[int, tuple[float, list[int], list[int]]] = {}

    def is_argmax_invariant(self) -> bool:
        return False  # it changes greedy choices

    @staticmethod
    def _state(params, prompt_ids, output_ids):
        penalty = float((params.extra_args or {}).get(PENALTY_KEY, 1.0))
        suppressed = [int(i) for i in (params.extra_args or {}).get(BEGIN_SUPPRESS_KEY) or []]
        return None if penalty == 1.0 and not suppressed else (penalty, suppressed, output_ids)

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        process_dict_updates(self.requests, batch_update, self._state)

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        for row, (penalty, suppressed, generated) in self.requests.items():
            if suppressed and not generated:
                logits[row, suppressed] = float("-inf")
            penalize_generated(logits[row], generated, penalty)
        return logits
