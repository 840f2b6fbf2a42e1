"""``lima-hf evaluate PROTOCOL``: judge answers in one of the LIMA protocols and write a report.

    lima-hf evaluate pairwise --responses OURS.jsonl --baselines gpt4=GPT4.jsonl bard=BARD.jsonl \\
        --judge http --judge_model gpt-4 --output_dir reports/pairwise
    lima-hf evaluate likert --responses lima=A.jsonl alpaca=B.jsonl --judge local --judge_model DIR --output_dir R
    lima-hf evaluate absolute --responses OURS.jsonl --sample_size 50 --judge people --output_dir R
    lima-hf evaluate multi-turn --responses zero-shot=A.jsonl dialogues=B.jsonl --judge http --judge_model gpt-4 ...

The protocols and the judges come from their registries (``lima_hf.evaluation.protocols.PROTOCOLS``,
``lima_hf.evaluation.judges.JUDGES``); ``lima-hf evaluate PROTOCOL --help`` lists a protocol's options.
Response files are what ``lima-hf generate`` writes, or any JSONL with ``id``/``prompt`` and ``response``.
The report folder gets ``report.json`` (every figure), ``report.md`` (a table), a PNG plot, ``details/``
and the resumable ``judgments/``. ``--judge people`` exports ``annotation/<name>/annotation.csv`` (run again
with ``--labels OUTPUT_DIR/annotation`` once the ``label`` columns are filled in), or with ``--database
FILE`` adds the items to the annotation page's database (``lima-hf annotate --database FILE``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from lima_hf.cli_args import CLIError, parse_args


@dataclass
class EvaluateArguments:
    """What to evaluate and where the report goes."""

    responses: list[str] = field(
        default_factory=list,
        metadata={"help": "Answers: NAME=FILE ... (one system each; a single FILE is named by --name). "
                  "Pairwise: our one file."},
    )
    name: str = field(default="ours", metadata={"help": "The name of a single --responses FILE in the report."})
    output_dir: str = field(default=None, metadata={"help": "Report folder."})
    bootstrap: int = field(default=1000, metadata={"help": "Bootstrap resamples for the 95 percent intervals."})
    seed: int = field(
        default=0, metadata={"help": "Seed of the bootstrap, of random samples and orders, and of the annotation order."}
    )
    agree_with: str | None = field(
        default=None,
        metadata={"help": "Another report folder of the same protocol and answers (e.g. people's): the report adds "
                  "the tie-discounted agreement between its raters and this judge."},
    )


def named_files(values: list[str], option: str, default_name: str | None = None) -> dict[str, str]:
    """``NAME=FILE`` values as ``{name: file}``; a bare ``FILE`` is ``default_name`` (or its stem, among several)."""
    named = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep:
            if default_name is None:
                raise CLIError(f"{option}: expected NAME=FILE, got {value!r}")
            name, path = (default_name if len(values) == 1 else Path(value).stem), value
        if not Path(path).is_file():
            raise CLIError(f"{option}: {path}: file not found")
        if name in named:
            raise CLIError(f"{option}: the name {name!r} is given twice")
        named[name] = path
    return named


def usage() -> str:
    from lima_hf.evaluation.judges import JUDGES
    from lima_hf.evaluation.protocols import PROTOCOLS

    width = max(len(name) for name in PROTOCOLS)
    rows = "\n".join(f"  {name.ljust(width)}  {cls.description}" for name, cls in PROTOCOLS.items())
    return (f"usage: lima-hf evaluate PROTOCOL [options]   (lima-hf evaluate PROTOCOL --help for its options)\n\n"
            f"protocols:\n{rows}\n\njudges (--judge): {', '.join(JUDGES)}\n\n{__doc__}")


def main(argv: list[str]) -> int:
    from lima_hf.evaluation.judges.base import LabelsPending
    from lima_hf.evaluation.judges.config import judge_arguments, make_judge
    from lima_hf.evaluation.protocols import PROTOCOLS

    if not argv or argv[0] not in PROTOCOLS:
        if argv and argv[0] in ("-h", "--help"):
            print(usage())
            return 0
        raise CLIError(f"choose what to evaluate: lima-hf evaluate {{{'|'.join(PROTOCOLS)}}} [options]")
    protocol_class, rest = PROTOCOLS[argv[0]], argv[1:]
    types = [EvaluateArguments, *([protocol_class.Arguments] if protocol_class.Arguments else [])]
    types += [judge_arguments()] if protocol_class.needs_judge else []
    parsed = parse_args(types, rest, prog=f"lima-hf evaluate {argv[0]}", description=protocol_class.description)
    args, judge_args = parsed[0], parsed[-1] if protocol_class.needs_judge else None
    options = parsed[1] if protocol_class.Arguments else None
    if not args.output_dir:
        raise CLIError("--output_dir is required")
    if not args.responses:
        raise CLIError("--responses is required")
    judge = make_judge(judge_args) if judge_args else None
    systems = protocol_class.systems_from_arguments(args, options, named_files)
    judging = {"template_path": judge_args.template, "retries": judge_args.retries} if judge_args else {}
    protocol = protocol_class(
        judge, args.output_dir, **judging,
        n_resamples=args.bootstrap, seed=args.seed, agree_with=args.agree_with,
        **(dataclasses.asdict(options) if options else {}),
    )
    try:
        protocol.run(systems)
    except LabelsPending as pending:
        print(pending)
        return 0
    output = Path(args.output_dir)
    print((output / "report.md").read_text(encoding="utf-8"))
    print(f"report: {output}")
    return 0
