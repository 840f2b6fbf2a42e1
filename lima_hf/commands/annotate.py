"""``lima-hf annotate``: serve the annotation page (Gradio) for an annotation database.

    lima-hf evaluate pairwise --responses OURS.jsonl --baselines gpt4=GPT4.jsonl --judge people \\
        --database study.db --output_dir reports/people          # adds the items to study.db
    lima-hf annotate --database study.db --port 7860             # annotators open http://HOST:7860/?annotator=ID
    lima-hf evaluate pairwise ... --judge people --database study.db --output_dir reports/people   # the report

Needs the ``annotate`` extra: ``pip install "lima-hf[annotate]"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lima_hf.cli_args import CLIError, parse_args


@dataclass
class AnnotateArguments:
    """Which database to serve, and where."""

    database: str = field(default=None, metadata={"help": "The annotation database (SQLite) to serve."})
    host: str = field(
        default="127.0.0.1", metadata={"help": "Address to listen on (0.0.0.0: every interface, for a team)."}
    )
    port: int = field(default=7860, metadata={"help": "Port to listen on."})


def main(argv: list[str]) -> int:
    (args,) = parse_args([AnnotateArguments], argv, prog="lima-hf annotate")
    if not args.database:
        raise CLIError("--database is required")
    from lima_hf.evaluation.annotation.app import serve

    serve(args.database, host=args.host, port=args.port, block=True)
    return 0
