"""``lima-hf generate``: answer a prompt set in the LIMA sampling protocol.

    lima-hf generate --model DIR --prompts FILE --output OUT.jsonl [--split test] [--num_samples 5] ...

FILE is a dataset folder of ``lima-hf build-dataset`` (its ``--split``, default ``test``), the released LIMA
``test.jsonl``, or a JSONL of prompts (``prompt`` text or ``messages``). OUT gets one JSON line per prompt
and sample as soon as it is generated; running the same command again after an interruption continues
where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lima_hf.cli_args import CLIError, parse_args
from lima_hf.evaluation.generation import SamplingConfig


@dataclass
class GenerateArguments:
    """Inputs and outputs of ``lima-hf generate``."""

    model: str = field(default=None, metadata={"help": "Model folder or Hub id ('bundled': the bundled SmolLM2)."})
    prompts: str = field(
        default=None, metadata={"help": "Prompt file: dataset folder, released LIMA jsonl, or prompts JSONL."}
    )
    output: str = field(default=None, metadata={"help": "Output JSONL (appended to and resumed from)."})
    split: str = field(default="test", metadata={"help": "Split of a dataset folder to answer (test or validation)."})
    limit: int | None = field(default=None, metadata={"help": "Answer only the first N prompts."})
    device: str | None = field(default=None, metadata={"help": "Device (default: cuda if available, else cpu)."})
    dtype: str = field(default="auto", metadata={"help": "Weights dtype: auto, float32, bfloat16, float16."})


def main(argv: list[str]) -> int:
    args, sampling = parse_args([GenerateArguments, SamplingConfig], argv, prog="lima-hf generate")
    for name in ("model", "prompts", "output"):
        if not getattr(args, name):
            raise CLIError(f"--{name} is required")
    from lima_hf.evaluation.generation import generate_responses, load_generation_model
    from lima_hf.evaluation.prompt_sets import load_prompts

    prompts = load_prompts(args.prompts, split=args.split, limit=args.limit)
    model_path = args.model
    if model_path == "bundled":
        from lima_hf.models import bundled_model_path

        model_path = bundled_model_path()
    model, tokenizer = load_generation_model(model_path, device=args.device, dtype=args.dtype)
    prompt_set = f"{args.prompts} ({args.split} split)" if Path(args.prompts).is_dir() else str(args.prompts)
    records = generate_responses(
        model, tokenizer, prompts, args.output, sampling, model_name=str(args.model), prompt_set=prompt_set
    )
    stopped = sum(r["finish_reason"][-1] == "length" for r in records)
    print(
        f"{len(records)} answers ({len(prompts)} prompts x {sampling.num_samples}) in {args.output}"
        + (f"; {stopped} hit --max_new_tokens" if stopped else "")
    )
    return 0
