"""The judges and their registry, :data:`JUDGES` (``--judge NAME``).

- ``http``: :class:`~lima_hf.evaluation.judges.openai_http.OpenAICompatibleJudge`, any OpenAI-compatible
  ``/v1/chat/completions`` endpoint (OpenAI, vLLM, TGI, llama.cpp server), concurrent, with backoff;
- ``local``: :class:`~lima_hf.evaluation.judges.local.TransformersJudge`, a local ``transformers`` model;
- ``people``: :class:`~lima_hf.evaluation.judges.people.PeopleJudge`, annotators (sheet or annotation page).

A judge is a class with ``name``, ``verdicts(task)`` (see :mod:`lima_hf.evaluation.judges.base`), an
``Arguments`` dataclass of its own command-line options, ``needs_model`` and ``from_arguments(args)``.
Adding one is a module plus one entry in the :class:`~lima_hf.registry.Registry` here (or :func:`register_judge`); the command-line options
(:func:`lima_hf.evaluation.judges.config.judge_arguments`) follow.
"""

from lima_hf.evaluation.judges.base import (
    Judge,
    JudgeTask,
    JudgeUnavailableError,
    LabelsPending,
    ModelJudge,
)
from lima_hf.evaluation.judges.local import TransformersJudge
from lima_hf.evaluation.judges.openai_http import OpenAICompatibleJudge
from lima_hf.evaluation.judges.people import PeopleJudge
from lima_hf.registry import Registry


def _check_judge(name: str, judge_class: type) -> None:
    missing = [attr for attr in ("Arguments", "from_arguments", "verdicts") if not hasattr(judge_class, attr)]
    if missing:
        raise TypeError(f"judge {name!r}: {judge_class!r} lacks {', '.join(missing)} (see lima_hf.evaluation.judges)")


JUDGES: Registry[type[Judge]] = Registry(
    "judge", {"http": OpenAICompatibleJudge, "local": TransformersJudge, "people": PeopleJudge}, _check_judge
)


def register_judge(name: str, judge_class: type) -> type:
    """Add ``judge_class`` to :data:`JUDGES` as ``--judge name``; returns it."""
    return JUDGES.register(name, judge_class)


__all__ = [
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
