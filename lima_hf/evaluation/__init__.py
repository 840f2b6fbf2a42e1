"""Evaluation in the LIMA paper's protocol.

- generation: :func:`generate_responses` (nucleus p=0.9, temperature 0.7, repetition penalty 1.2 on
  generated tokens only, stop at EOT; batched, resumable, several samples, multi-turn) over a backend of
  :data:`BACKENDS` (``transformers``, ``vllm``; :func:`load_backend`), :func:`load_prompts`;
- protocols (:data:`PROTOCOLS`, one module each): pairwise (both orders, disagreement = tie; position bias,
  order agreement, length-controlled win rate), likert (1-6), absolute (Fail/Pass/Excellent), multi-turn
  (each turn rated), instructions (verifiable, checked by code: no judge); :func:`evaluate` runs one by
  name, :func:`run_pairwise`, :func:`run_likert`, :func:`run_absolute` with their signatures,
  :func:`score_instructions` (judge-free instruction accuracy of one system's answers);
- :func:`export_answers` (:data:`EXPORTS`): answers as AlpacaEval's ``model_outputs.json`` or MT-Bench's answer file;
- judges (:data:`JUDGES`): :class:`OpenAICompatibleJudge` (any ``/v1/chat/completions`` endpoint),
  :class:`TransformersJudge` (local), :class:`PeopleJudge` (annotation sheet or ``lima-hf annotate`` page);
- :func:`tie_discounted_accuracy` (agreement between raters), :func:`select_checkpoint` (dev-set selection
  between epochs 5 and 10), :func:`run_quick_evaluation`;
- ``evaluate`` metric modules: :func:`lima_hf.evaluation.metrics.metric_path`.

Names are imported lazily, so ``import lima_hf.evaluation`` does not import torch.
"""

from lima_hf._lazy import lazy_exports

_LAZY = {
    "SamplingConfig": "lima_hf.evaluation.generation",
    "generate_responses": "lima_hf.evaluation.generation",
    "load_generation_model": "lima_hf.evaluation.generation",
    "BACKENDS": "lima_hf.evaluation.backends",
    "load_backend": "lima_hf.evaluation.backends",
    "load_prompts": "lima_hf.evaluation.prompt_sets",
    "load_responses": "lima_hf.evaluation.responses",
    "JUDGES": "lima_hf.evaluation.judges",
    "OpenAICompatibleJudge": "lima_hf.evaluation.judges.openai_http",
    "TransformersJudge": "lima_hf.evaluation.judges.local",
    "PeopleJudge": "lima_hf.evaluation.judges.people",
    "JudgeUnavailableError": "lima_hf.evaluation.judges.base",
    "LabelsPending": "lima_hf.evaluation.judges.base",
    "run_judge": "lima_hf.evaluation.judges.base",
    "PROTOCOLS": "lima_hf.evaluation.protocols",
    "evaluate": "lima_hf.evaluation.protocols",
    "register_protocol": "lima_hf.evaluation.protocols",
    "run_pairwise": "lima_hf.evaluation.protocols.pairwise",
    "run_likert": "lima_hf.evaluation.protocols.likert",
    "run_absolute": "lima_hf.evaluation.protocols.absolute",
    "score_instructions": "lima_hf.evaluation.protocols.instruction_following",
    "check_reply": "lima_hf.evaluation.instruction_checks",
    "load_instruction_prompts": "lima_hf.evaluation.instruction_checks",
    "EXPORTS": "lima_hf.evaluation.exports",
    "export_answers": "lima_hf.evaluation.exports",
    "parse_preference": "lima_hf.evaluation.parsing",
    "parse_likert": "lima_hf.evaluation.parsing",
    "parse_absolute": "lima_hf.evaluation.parsing",
    "preference_summary": "lima_hf.evaluation.stats",
    "likert_summary": "lima_hf.evaluation.stats",
    "combine_orders": "lima_hf.evaluation.stats",
    "length_controlled_win_rate": "lima_hf.evaluation.stats",
    "tie_discounted_accuracy": "lima_hf.evaluation.agreement",
    "select_checkpoint": "lima_hf.evaluation.checkpoint_selection",
    "run_quick_evaluation": "lima_hf.evaluation.quick",
    "metric_path": "lima_hf.evaluation.metrics",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
