"""The judges and their registry, :data:`JUDGES` (``--judge NAME``).

- ``http``: :class:`~lima_hf.evaluation.judges.openai_http.OpenAICompatibleJudge`, any OpenAI-compatible
  ``/v1/chat/completions`` endpoint (OpenAI, vLLM, TGI, llama.cpp server), concurrent, with backoff;
- ``local``: :class:`~lima_hf.evaluation.judges.local.TransformersJudge`, a local ``transformers`` model;
- ``people``: :class:`~lima_hf.evaluation.judges.people.PeopleJudge`, annotators (sheet or annotation page).

A judge is a class with ``name``, ``verdicts(task)`` (see :mod:`lima_hf.evaluation.judges.base`), an
``Arguments`` dataclass of its own command-line options, ``needs_model`` and ``from_arguments(args)``.
Adding one is a module plus one entry here (or :func:`register_judge`); the command-line options
(:func:`lima_hf.evaluation.judges.config.judge_arguments`) follow.
"""

from lima_hf.evaluation.judges.base import Judge, JudgeTask, JudgeUnavailableError, LabelsPending, ModelJudge
from lima_hf.evaluation.judges.local import TransformersJudge
from lima_hf.evaluation.judges.openai_http import OpenAICompatibleJudge
from lima_hf.evaluation.judges.people import PeopleJudge

JUDGES: dict[str, type] = {"http": OpenAICompatibleJudge, "local": TransformersJudge, "people": PeopleJudge}
ALIASES = {"human": "people"}  # the earlier name of --judge people


def register_judge(name: str, judge_class: type) -> type:
    """Add ``judge_class`` to :data:`JUDGES` as ``--judge name``; returns it."""
    JUDGES[name] = judge_class
    return judge_class


__all__ = [
    "ALIASES",
    "JUDGES",
    "Judge",
    "JudgeTask",
    "JudgeUnavailableError",
    "LabelsPending",
    "ModelJudge",
    "OpenAICompatibleJudge",
    "PeopleJudge",
    "TransformersJudge",
    "register_judge",
]
