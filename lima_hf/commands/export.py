"""``lima-hf export FORMAT``: answers in the files other evaluation harnesses read.

    lima-hf export alpaca-eval --responses answers/lima.jsonl --name lima-7b --output model_outputs.json
    lima-hf export mt-bench --responses answers/mt_bench.jsonl --name lima-7b \\
        --output FastChat/fastchat/llm_judge/data/mt_bench/model_answer/lima-7b.jsonl

A separate command rather than a ``generate`` option: answers are generated once (resumable, with their
settings recorded) and exported to as many harnesses as needed, and answers made by other tools convert
the same way. Formats come from ``lima_hf.evaluation.exports.EXPORTS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lima_hf.cli_args import CLIError, parse_args


@dataclass
class ExportArguments:
    """Which answers, which format, where."""

    responses: str = field(default=None, metadata={"help": "Answer JSONL (what `lima-hf generate` writes, or any answer file)."})
    output: str = field(default=None, metadata={"help": "File to write (model_outputs.json; MODEL.jsonl for MT-Bench)."})
    name: str = field(default=None, metadata={"help": "The model's name in the harness (AlpacaEval 'generator', MT-Bench 'model_id')."})
    sample: int = field(default=0, metadata={"help": "Which sample of each prompt to export (harnesses take one answer each)."})


def usage() -> str:
    from lima_hf.evaluation.exports import EXPORTS

    rows = "\n".join(f"  {name:12s}  {EXPORTS.get(name)[2]}" for name in EXPORTS.names())
    return f"usage: lima-hf export FORMAT --responses FILE --name MODEL --output FILE\n\nformats:\n{rows}\n\n{__doc__}"


def main(argv: list[str]) -> int:
    from lima_hf.evaluation.exports import EXPORTS, export_answers

    if not argv or argv[0] not in EXPORTS.names():
        if argv and argv[0] in ("-h", "--help"):
            print(usage())
            return 0
        raise CLIError(f"choose a format: lima-hf export {{{'|'.join(EXPORTS.names())}}} --responses FILE --name MODEL --output FILE")
    (args,) = parse_args([ExportArguments], argv[1:], prog=f"lima-hf export {argv[0]}")
    for option in ("responses", "output", "name"):
        if not getattr(args, option):
            raise CLIError(f"--{option} is required")
    count = export_answers(argv[0], args.responses, args.output, args.name, sample=args.sample)
    print(f"lima-hf export: {count} answers of {args.name} written to {args.output} ({argv[0]})")
    return 0
