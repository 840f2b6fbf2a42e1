"""``lima-hf select``: choose a small, diverse, high-quality training set from a large candidate pool.

    lima-hf select --pool POOL --n 1000 --output OUT [--strategy k_center] [--quotas proportional] ...
    lima-hf select --config recipes/ablations/selection/config_automatic.yaml

POOL is a dataset folder (``lima-hf build-dataset``), a records JSONL/Parquet file (``lima-hf curate``),
the released LIMA ``train.jsonl``, or any dataset with a ``messages`` column. OUT is a dataset folder like
the builder's (the selection as ``default/train``; the pool folder's other splits and configs carried over),
with a card recording the method and parameters (:mod:`lima_hf.data.selection.card`) and the report under
``selection/``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from lima_hf.cli_args import CLIError, parse_args
from lima_hf.data.selection.config import SelectionConfig
from lima_hf.errors import ConfigError


@dataclass
class SelectArguments:
    """Input and output of ``lima-hf select``."""

    pool: str = field(default=None, metadata={"help": "Candidate pool: dataset folder, records JSONL/Parquet, released "
                                                     "LIMA jsonl, or a dataset id with a 'messages' column."})
    output: str = field(default=None, metadata={"help": "Dataset folder to write (a previous one is replaced)."})
    pool_config: str = field(default="default", metadata={"help": "Config of the pool dataset to select from."})
    pool_split: str = field(default="train", metadata={"help": "Split of the pool dataset to select from."})
    keep_other_splits: bool = field(
        default=True,
        metadata={"help": "When the pool is a dataset folder, copy its other splits and configs (validation, test, "
                  "multi_turn) unchanged into the output."},
    )
    on_error: str = field(
        default="raise",
        metadata={"help": "A malformed pool row: 'raise' stops naming the row; 'skip' drops it and lists it in "
                  "selection/dropped.jsonl.", "choices": ["raise", "skip"]},
    )
    decontaminate: list[str] | None = field(
        default=None,
        metadata={"help": "Drop candidates whose prompt or response shares a long n-gram with these evaluation "
                  "prompts: 'test' (the pool folder's test split) and/or prompt files (JSONL, dataset folders); each "
                  "is listed in selection/dropped.jsonl with the matching span, and the card says what was removed."},
    )
    decontamination_ngram: int = field(
        default=13, metadata={"help": "Words an overlap must span to count (13: GPT-3's contamination check)."}
    )
    judge_candidates: bool = field(
        default=False,
        metadata={"help": "Grade every candidate with an LLM judge (--judge http or local, --judge_model ...) on the "
                  "paper's 1-6 Likert rubric and use the grade as the 'judge' quality signal. Judgments are "
                  "cached in OUTPUT.judgments/ so an interrupted run resumes."},
    )


def _carried_configs(pool: Path, args: SelectArguments) -> dict[str, dict[str, list[dict]]]:
    from lima_hf.data.dataset_folder import dataset_folder_configs, is_dataset_folder
    from lima_hf.data.loading import read_records

    if not (args.keep_other_splits and pool.is_dir() and is_dataset_folder(pool)):
        return {}
    carried: dict[str, dict[str, list[dict]]] = {}
    for config, splits in dataset_folder_configs(pool).items():
        for split in splits:
            if (config, split) != (args.pool_config, args.pool_split):
                carried.setdefault(config, {})[split] = read_records(pool, config=config, split=split)
    return carried


def _judgments_dir(args: SelectArguments) -> Path:
    output = Path(args.output)
    return output.with_name(output.name + ".judgments")


def _model_judge(judge_args):
    from lima_hf.evaluation.judges.base import ModelJudge
    from lima_hf.evaluation.judges.config import make_judge

    judge = make_judge(judge_args)
    if not isinstance(judge, ModelJudge):
        raise CLIError(f"--judge {judge_args.judge} cannot grade a pool here: export your grades as JSONL and pass "
                       "--judge_scores")
    return judge


def _judge_template(judge_args) -> str | None:
    from lima_hf.evaluation.protocols.likert import Likert

    return Likert.load_template(judge_args.template) if judge_args.template else None


def _needs_judge(config: SelectionConfig) -> bool:
    """Whether a step asks the judge itself (judge_threshold without --judge_scores, or a Deita 'judge' scorer)."""
    return any((s.strategy == "judge_threshold" and not config.judge_scores)
               or getattr(s.params, "scorer", None) == "judge" for s in config.parsed_steps())


def _judge_grades(records: list[dict], args: SelectArguments, judge, judge_args, config: SelectionConfig) -> dict:
    from lima_hf.data.selection.judge_grades import judge_candidates

    cache = _judgments_dir(args) / "likert.jsonl"
    grades, unparsed = judge_candidates(records, judge, cache, template=_judge_template(judge_args),
                                        retries=judge_args.retries, progress=config.show_progress)
    if unparsed:
        print(f"lima-hf select: {len(unparsed)} judge replies could not be parsed (no judge grade for them; "
              f"see {cache})", file=sys.stderr)
    return grades


def _decontaminate(records: list[dict], args: SelectArguments) -> tuple[list[dict], dict]:
    from lima_hf.data.decontamination import EvalIndex, decontaminate, load_eval_prompts

    if "test" in args.decontaminate and not Path(args.pool).is_dir():
        raise CLIError(f"--decontaminate test means the test split of a dataset-folder pool; {args.pool} is not one: "
                       "give the evaluation prompt files instead")
    sets = [args.pool if name == "test" else name for name in args.decontaminate]
    index = EvalIndex(load_eval_prompts(sets), args.decontamination_ngram)
    kept, removed = decontaminate(records, index)
    if not kept:
        raise CLIError(f"decontamination removed all {len(records)} candidates of {args.pool}")
    return kept, {"removed": removed, "sets": sets, "n": args.decontamination_ngram,
                  "short_prompts": index.short_prompts}


def main(argv: list[str]) -> int:
    from lima_hf.evaluation.judges.config import JudgeArguments

    args, config, judge_args = parse_args([SelectArguments, SelectionConfig, JudgeArguments], argv,
                                          prog="lima-hf select")
    if not args.pool:
        raise CLIError("--pool is required (a dataset folder, a records file, or a dataset id)")
    if not args.output:
        raise CLIError("--output is required")
    if args.judge_candidates and config.judge_scores:
        raise CLIError("give either --judge_candidates (grade now) or --judge_scores (grades from a file), not both")
    from rich.console import Console
    from rich.markdown import Markdown

    from lima_hf.data.dataset_folder import write_dataset_folder
    from lima_hf.data.selection.card import selection_card
    from lima_hf.data.selection.pipeline import select_records
    from lima_hf.data.selection.pool import load_pool
    from lima_hf.data.selection.quality import load_judge_scores
    from lima_hf.data.selection.report import report_files
    from lima_hf.errors import InputError
    from lima_hf.io import (
        check_output_not_input,
        check_replaceable_folder,
        dump_jsonl_line,
    )

    inputs = [args.pool] if Path(args.pool).exists() else []
    check_output_not_input(args.output, inputs + ([config.judge_scores] if config.judge_scores else []))
    check_replaceable_folder(args.output)  # before the work, not after it
    console = Console(stderr=True)
    records, skipped = load_pool(args.pool, config=args.pool_config, split=args.pool_split, on_error=args.on_error)
    for row in skipped:
        console.print(f"skipped {row['detail']}", markup=False, highlight=False)
    decontamination = None
    if args.decontaminate:
        records, decontamination = _decontaminate(records, args)
        console.print(f"decontamination: removed {len(decontamination['removed'])} candidates sharing "
                      f"{args.decontamination_ngram} words with an evaluation prompt", highlight=False)
    judge_scores = load_judge_scores(config.judge_scores) if config.judge_scores else None
    if _needs_judge(config) and not args.judge_candidates and not judge_args.judge_model and judge_args.judge != "people":
        raise CLIError(f"--steps/--strategy {config.method_name()} needs judge grades: --judge_scores FILE, or a judge "
                       "(--judge http|local --judge_model ...) to grade the candidates")
    judge = _model_judge(judge_args) if args.judge_candidates or _needs_judge(config) else None
    if judge is not None and judge_scores is None:
        judge_scores = {}  # grades a step asks the judge for are written to selection/judge_scores.jsonl
    if args.judge_candidates:
        judge_scores = _judge_grades(records, args, judge, judge_args, config)
    console.print(f"pool: {len(records)} candidates from {args.pool}", highlight=False)
    try:
        result = select_records(records, config, judge_scores=judge_scores, judge=judge,
                                judge_template=_judge_template(judge_args), judge_retries=judge_args.retries,
                                cache_dir=_judgments_dir(args))
    except (InputError, ConfigError):
        raise
    except ValueError as err:  # an option that does not fit this pool (quotas, n)
        raise CLIError(str(err)) from err
    result.dropped[:0] = skipped + (decontamination["removed"] if decontamination else [])
    report, files = report_files(result, pool=args.pool)
    if judge_scores:
        files["selection/judge_scores.jsonl"] = "".join(
            dump_jsonl_line({"id": r["id"], "score": judge_scores[r["id"]]}) for r in records if r["id"] in judge_scores
        ).encode()
    selected = result.selected_records
    configs = _carried_configs(Path(args.pool), args)
    configs.setdefault("default", {})[args.pool_split] = selected
    judge_card = None
    if judge is not None:
        judge_card = {"judge": judge_args.judge, "judge_model": judge_args.judge_model, "template": judge_args.template}
        if judge_args.judge == "local":
            judge_card["judge_mode"] = judge_args.judge_mode
    card = selection_card(report, selected, args.pool, judge_card, decontamination=decontamination)
    write_dataset_folder(args.output, configs, card, files=files)
    console.print(Markdown(files["selection/report.md"].decode()))
    console.print(f"wrote {len(selected)} examples to {args.output} "
                  f"(report: {Path(args.output) / 'selection' / 'report.md'})", highlight=False)
    return 0

