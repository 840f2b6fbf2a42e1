"""``lima-hf select-checkpoint``: pick the training checkpoint with the best dev-set answers.

    lima-hf select-checkpoint --run_dir OUTPUT_DIR --dev_prompts DATASET_DIR --output_dir OUTPUT_DIR/selection \\
        --judge http --judge_model gpt-4 [--min_epoch 5 --max_epoch 10]

The paper picks a checkpoint between epochs 5 and 10 by reading the answers to its 50 dev prompts, because
held-out perplexity does not track answer quality. Each ``checkpoint-*/`` of the run whose epoch (from its
``trainer_state.json``) is in range answers the dev prompts; a judge grades them 1-6 and the best mean wins.
With ``--judge people`` the answers are exported for people (or added to ``--database``); run again with
``--labels`` (or the same ``--database``) once they are labelled. ``--criterion instructions`` needs no
judge: the checkpoint whose answers follow the most verifiable instructions (``--dev_prompts``: an
IFEval-schema JSONL, default lima-hf's bundled set) wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lima_hf.cli_args import CLIError, parse_args
from lima_hf.evaluation.backends import BackendArguments
from lima_hf.evaluation.generation import SamplingConfig
from lima_hf.evaluation.judges.config import JudgeArguments, make_judge


@dataclass
class SelectCheckpointArguments:
    """The run, the dev prompts and the epoch range."""

    run_dir: str = field(default=None, metadata={"help": "Training output folder with checkpoint-*/ subfolders."})
    dev_prompts: str = field(
        default=None, metadata={"help": "Dev-set prompts: dataset folder (its --split), or a prompts JSONL."}
    )
    output_dir: str = field(default=None, metadata={"help": "Where answers, judgments and the selection report go."})
    split: str = field(
        default="validation",
        metadata={"help": "Split of a dataset folder to answer: 'validation', LIMA's dev set ('dev' works too)."},
    )
    criterion: str = field(
        default="likert",
        metadata={"help": "'likert': a judge grades the dev answers 1-6 (the paper); 'instructions': no judge, the "
                  "share of verifiable-instruction prompts followed (--dev_prompts: an IFEval-schema JSONL, "
                  "default lima-hf's bundled set).", "choices": ["likert", "instructions"]},
    )
    min_epoch: float = field(default=5, metadata={"help": "First epoch considered (LIMA: 5)."})
    max_epoch: float = field(default=10, metadata={"help": "Last epoch considered (LIMA: 10)."})
    limit: int | None = field(default=None, metadata={"help": "Answer only the first N dev prompts."})
    device: str | None = field(default=None, metadata={"help": "Device for generation (default: cuda if available)."})


def main(argv: list[str]) -> int:
    args, sampling, judge_args, engine = parse_args(
        [SelectCheckpointArguments, SamplingConfig, JudgeArguments, BackendArguments], argv,
        prog="lima-hf select-checkpoint",
    )
    for name in ("run_dir", "dev_prompts", "output_dir"):
        if not getattr(args, name) and not (name == "dev_prompts" and args.criterion == "instructions"):
            raise CLIError(f"--{name} is required")
    judge = make_judge(judge_args) if args.criterion == "likert" else None
    from lima_hf.evaluation.checkpoint_selection import select_checkpoint

    selection = select_checkpoint(
        args.run_dir,
        args.dev_prompts,
        args.output_dir,
        judge,
        criterion=args.criterion,
        min_epoch=args.min_epoch,
        max_epoch=args.max_epoch,
        split=args.split,
        limit=args.limit,
        sampling=sampling,
        template_path=judge_args.template,
        retries=judge_args.retries,
        device=args.device,
        backend=engine,
    )
    if selection["chosen"]:
        print(
            f"chosen checkpoint: {selection['chosen']} (epoch {selection['chosen_epoch']:g}); "
            f"report: {args.output_dir}/selection.md"
        )
    else:
        print(selection.get("note", "no checkpoint chosen"))
    return 0
