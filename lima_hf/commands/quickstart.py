"""``lima-hf quickstart``: the whole LIMA pipeline on the bundled defaults, on a CPU laptop in minutes.

1. build a small LIMA-style dataset from the sample raw sources shipped with lima-hf (real source formats);
2. convert the bundled SmolLM2-135M-Instruct GGUF into a trainable model (once, cached);
3. fine-tune it for a few dozen steps with ``LimaSFTTrainer`` (EOT chat format, residual dropout);
4. answer a few test prompts with LIMA's sampling and judge them against the base model (a small local
   judge: this shows the pipeline working, not a meaningful score);
5. print where the dataset, model and outputs are.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from lima_hf.cli_args import parse_args


@dataclass
class QuickstartConfig:
    """Options of ``lima-hf quickstart`` (defaults: about 2.5 minutes on 2 idle CPU cores)."""

    output_dir: str = field(default="lima-quickstart", metadata={"help": "Folder for the dataset, model and outputs."})
    max_steps: int = field(default=24, metadata={"help": "Optimizer steps of the fine-tune."})
    effective_batch_size: int = field(default=2, metadata={"help": "Examples per optimizer step."})
    max_length: int = field(default=256, metadata={"help": "Tokens per training text (longer texts are trimmed)."})
    learning_rate: float = field(
        default=3e-4,
        metadata={
            "help": "Peak learning rate, decaying linearly to a tenth of it. The paper's 1e-5 is for 15 epochs "
            "(about 470 steps of 32); in a few dozen steps, with residual dropout on, the model only learns the "
            "EOT format at a larger rate (at 1e-4 it still ends its turn at once)."
        },
    )
    residual_dropout: float = field(
        default=0.2, metadata={"help": "Residual dropout at the top layer (LIMA: 0.2 for smaller models)."}
    )
    num_eval_prompts: int = field(default=4, metadata={"help": "Test prompts to answer and judge (0 skips the evaluation)."})
    max_new_tokens: int = field(default=64, metadata={"help": "Tokens per generated answer."})
    seed: int = field(default=42, metadata={"help": "Random seed of the data build, training and sampling."})


def _step(number: int, total: int, text: str) -> None:
    print(f"\n[{number}/{total}] {text}", flush=True)


def run_quickstart(config: QuickstartConfig) -> dict[str, Path]:
    """Run the pipeline of :class:`QuickstartConfig`; return the path of each output."""
    from lima_hf.data.builder import build_dataset, quickstart_config_path
    from lima_hf.models import bundled_model_path
    from lima_hf.training.script import train

    output = Path(config.output_dir)
    total = 4 if config.num_eval_prompts > 0 else 3
    started = time.monotonic()
    paths: dict[str, Path] = {}

    _step(1, total, "building the LIMA-style dataset from the bundled sample sources")
    paths["dataset"] = build_dataset(quickstart_config_path(), output / "dataset")

    _step(2, total, "preparing the bundled base model (SmolLM2-135M-Instruct, converted from GGUF once)")
    paths["base model"] = bundled_model_path()
    print(f"base model: {paths['base model']}")

    _step(3, total, f"fine-tuning with LimaSFTTrainer for {config.max_steps} steps on the CPU")
    paths["model"] = train(
        str(paths["dataset"]),
        str(output / "model"),
        model_name_or_path=str(paths["base model"]),
        max_steps=config.max_steps,
        per_device_train_batch_size=min(2, config.effective_batch_size),
        effective_batch_size=config.effective_batch_size,
        max_length=config.max_length,
        learning_rate=config.learning_rate,
        final_learning_rate=config.learning_rate / 10,
        residual_dropout=config.residual_dropout,
        save_strategy="no",
        logging_steps=4,
        report_to="none",
        use_cpu=True,
        bf16=False,
        seed=config.seed,
    )

    if config.num_eval_prompts > 0:
        from lima_hf.evaluation import run_quick_evaluation

        _step(4, total, f"answering {config.num_eval_prompts} test prompts and judging them against the base model")
        results = run_quick_evaluation(
            paths["model"],
            paths["dataset"],
            output / "evaluation",
            num_prompts=config.num_eval_prompts,
            max_new_tokens=config.max_new_tokens,
        )
        paths["answers"] = Path(results["answers"])
        paths["evaluation reports"] = output / "evaluation"
        _show_answers(paths["answers"])

    width = max(len(name) for name in paths)
    print(f"\nDone in {time.monotonic() - started:.0f} s. Outputs:")
    for name, path in paths.items():
        print(f"  {name.ljust(width)}  {path}")
    print(f"\nLoad the dataset:  datasets.load_dataset({str(paths['dataset'])!r})")
    print(f"Chat with the model in plain transformers:  pipeline('text-generation', {str(paths['model'])!r})")
    return paths


def _show_answers(path: Path, limit: int = 2, width: int = 300) -> None:
    from lima_hf.io import read_jsonl

    for _, record in list(read_jsonl(path))[:limit]:
        prompt = record.get("prompt") or record["messages"][0]["content"]
        response = record.get("response") or record["messages"][-1]["content"]
        print(f"  Q: {prompt[:width]}\n  A: {response[:width]}\n")


def main(argv: list[str]) -> int:
    (config,) = parse_args([QuickstartConfig], argv, prog="lima-hf quickstart")
    run_quickstart(config)
    return 0
