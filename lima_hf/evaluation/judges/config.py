"""The judge options of ``lima-hf evaluate``, ``select-checkpoint`` and ``select``, derived from the registry.

:func:`judge_arguments` merges the options every judge shares (which judge, its model, reply length,
re-asks, template) with each registered judge's own ``Arguments`` into one dataclass; :func:`make_judge`
builds the judge they describe.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from lima_hf.errors import ConfigError


@dataclass
class _SharedJudgeArguments:
    judge: str = field(default="http", metadata={"help": "Which judge reads the answers."})
    judge_model: str | None = field(
        default=None,
        metadata={"help": "Model name served by the endpoint (http), or a model folder / Hub id / 'bundled' (local)."},
    )
    judge_max_tokens: int = field(default=512, metadata={"help": "Reply length limit of the judge, in tokens."})
    retries: int = field(default=2, metadata={"help": "Re-asks of a judge whose reply cannot be parsed."})
    template: str | None = field(
        default=None, metadata={"help": "A file with your own judge instructions (same placeholders as the paper's)."}
    )


def judge_arguments() -> type:
    """A ``JudgeArguments`` dataclass: the shared options plus those of every judge in the registry."""
    from lima_hf import compat
    from lima_hf.evaluation.judges import JUDGES

    fields = []
    for f in dataclasses.fields(_SharedJudgeArguments):
        metadata = dict(f.metadata)
        if f.name == "judge":
            names = ", ".join(f"'{n}' ({(cls.__doc__ or n).splitlines()[0].rstrip('.')})" for n, cls in JUDGES.items())
            old = ", ".join(f"'{old}' = '{new}'" for old, new in compat.JUDGE.old_to_new.items())
            metadata = {"help": f"Which judge reads the answers: {names}. Earlier names: {old}.",
                        "choices": [*JUDGES, *compat.JUDGE.old_to_new]}
        fields.append((f.name, f.type, field(default=f.default, metadata=metadata)))
    for judge_class in JUDGES.values():
        for f in dataclasses.fields(judge_class.Arguments):
            if all(f.name != name for name, _, _ in fields):
                fields.append((f.name, f.type, field(default=f.default, metadata=dict(f.metadata))))
    arguments = dataclasses.make_dataclass("JudgeArguments", fields)
    arguments.__doc__ = "Which judge reads the answers, and its options."
    arguments.__module__ = __name__
    return arguments


JudgeArguments = judge_arguments()


def make_judge(args):
    """The judge ``args`` (a :func:`judge_arguments` instance) describe."""
    from lima_hf import compat
    from lima_hf.evaluation.judges import JUDGES

    judge_class = JUDGES.get(compat.JUDGE(args.judge))
    if getattr(judge_class, "needs_model", False) and not args.judge_model:
        raise ConfigError(f"--judge {args.judge} needs --judge_model")
    return judge_class.from_arguments(args)
