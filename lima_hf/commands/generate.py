"""``lima-hf generate``: answer a prompt set in the LIMA sampling protocol.

    lima-hf generate --model DIR --prompts FILE --output OUT.jsonl [--split test] [--num_samples 5] ...
        [--backend vllm --tensor_parallel_size 2 --gpu_memory_utilization 0.9 --max_model_len 4096]

FILE is a dataset folder of ``lima-hf build-dataset`` (its ``--split``, default ``test``), the released LIMA
``test.jsonl``, or a JSONL of prompts (``prompt`` text or ``messages``). OUT gets one JSON line per prompt
and sample as soon as it is generated; running the same command again after an interruption continues
where it stopped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from lima_hf.cli_args import CLIError, parse_args
from lima_hf.evaluation.backends import BackendArguments
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
    overwrite: bool = field(
        default=False,
        metadata={"help": "Start OUTPUT anew when it holds answers made with another model or other settings "
                  "(without it such a rerun stops, naming what changed; with the same settings it resumes)."},
    )


def _looks_like_path(name: str) -> bool:
    """A local path rather than a Hub id (``name`` or ``org/name``)."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or os.path.exists(name)


def main(argv: list[str]) -> int:
    args, sampling, engine = parse_args([GenerateArguments, SamplingConfig, BackendArguments], argv,
                                        prog="lima-hf generate")
    for name in ("model", "prompts", "output"):
        if not getattr(args, name):
            raise CLIError(f"--{name} is required")
    from lima_hf.evaluation.generation import generate_responses
    from lima_hf.evaluation.prompt_sets import load_prompts

    prompts = load_prompts(args.prompts, split=args.split, limit=args.limit)
    model_path = args.model
    if model_path == "bundled":
        from lima_hf.models import bundled_model_path

        model_path = bundled_model_path()
    elif _looks_like_path(model_path) and not Path(model_path).is_dir():
        raise CLIError(f"--model {model_path}: no such model folder")
    from lima_hf.io import check_output_not_input, check_writable

    check_output_not_input(args.output, [args.prompts])
    check_writable(args.output)
    try:
        backend = engine.load(model_path, device=args.device, dtype=args.dtype)
    except OSError as err:  # not a model folder, or a Hub id that cannot be fetched (offline, private)
        raise CLIError(f"--model {args.model}: cannot load a model ({str(err).splitlines()[0]})") from err
    prompt_set = f"{args.prompts} ({args.split} split)" if Path(args.prompts).is_dir() else str(args.prompts)
    try:
        records = generate_responses(
            backend, None, prompts, args.output, sampling, model_name=str(args.model), prompt_set=prompt_set,
            overwrite=args.overwrite,
        )
    finally:
        backend.close()
    stopped = sum(r["finish_reason"][-1] == "length" for r in records)
    print(
        f"{len(records)} answers ({len(prompts)} prompts x {sampling.num_samples}) in {args.output}"
        + (f"; {stopped} hit --max_new_tokens" if stopped else "")
    )
    return 0
