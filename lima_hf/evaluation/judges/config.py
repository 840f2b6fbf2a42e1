"""Judge options shared by ``lima-hf evaluate`` and ``lima-hf select-checkpoint``, and the factory."""

from __future__ import annotations

from dataclasses import dataclass, field

from lima_hf.errors import ConfigError


@dataclass
class JudgeArguments:
    """Which judge reads the answers."""

    judge: str = field(
        default="http",
        metadata={
            "help": "'http' (an OpenAI-compatible /v1/chat/completions endpoint), 'local' (a transformers "
            "model) or 'human' (export for annotation; import with --labels).",
            "choices": ["http", "local", "human"],
        },
    )
    judge_model: str | None = field(
        default=None,
        metadata={"help": "Model name served by the endpoint (http), or a model folder / Hub id (local)."},
    )
    api_base: str = field(
        default="https://api.openai.com/v1", metadata={"help": "API root of the endpoint, ending in /v1 (http judge)."}
    )
    api_key_env: str = field(
        default="OPENAI_API_KEY", metadata={"help": "Environment variable holding the API key (http judge)."}
    )
    concurrency: int = field(default=8, metadata={"help": "Requests in flight at once (http judge)."})
    max_retries: int = field(
        default=6, metadata={"help": "Retries of a rate-limited or failing request (http judge)."}
    )
    judge_max_tokens: int = field(default=512, metadata={"help": "Reply length limit of the judge, in tokens."})
    judge_mode: str = field(
        default="generate",
        metadata={
            "help": "Local judge: 'generate' a free reply, or 'choice': pick the most likely allowed reply.",
            "choices": ["generate", "choice"],
        },
    )
    retries: int = field(default=2, metadata={"help": "Re-asks of a judge whose reply cannot be parsed."})
    template: str | None = field(
        default=None, metadata={"help": "A file with your own judge instructions (same placeholders as the paper's)."}
    )
    labels: str | None = field(
        default=None, metadata={"help": "Human judge: the folder of filled-in annotation files to import."}
    )


def make_judge(args: JudgeArguments):
    """The judge ``args`` describe, or ``None`` for people (``--judge human``)."""
    if args.judge == "human":
        return None
    if not args.judge_model:
        raise ConfigError(f"--judge {args.judge} needs --judge_model")
    if args.judge == "http":
        from lima_hf.evaluation.judges.openai_http import OpenAICompatibleJudge

        return OpenAICompatibleJudge(
            args.judge_model,
            api_base=args.api_base,
            api_key_env=args.api_key_env,
            concurrency=args.concurrency,
            max_tokens=args.judge_max_tokens,
            max_retries=args.max_retries,
        )
    if args.judge == "local":
        from lima_hf.evaluation.judges.local import TransformersJudge

        return TransformersJudge(args.judge_model, mode=args.judge_mode, max_new_tokens=args.judge_max_tokens)
    raise ConfigError(f"unknown judge '{args.judge}' (choose http, local or human)")
