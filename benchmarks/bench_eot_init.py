"""How the new ``<|eot|>`` row starts decides whether a short fine-tune of SmolLM2-135M learns to stop.

Fine-tunes the bundled SmolLM2-135M-Instruct on the quickstart's training split once per EOT
initialisation (``eot_init``: ``mean`` of all rows; ``eos``, a copy of the model's own end token with its output
row scaled by ``lima_hf.chat.EOT_COPY_SCALE``; ``eos-unscaled``, the plain copy), with
the quickstart's settings (same data, steps, learning rate, residual dropout, seed), each choice in its own
process, then measures on the held-out prompts (the test and validation splits, never trained on):

- P(EOT) where the held-out validation replies end (teacher forcing), before and after training, and the
  probability of the old EOS (``<|im_end|>``) there after training: the EOT must win, as its own token;
- the stop rate: answers (nucleus sampling p=0.9, temperature 0.7, plain ``transformers`` ``generate``,
  at most ``--max_new_tokens``) that end with ``<|eot|>``, that end with the old EOS, that run to the limit;
- the mean answer length and the training time.

    python benchmarks/bench_eot_init.py                      # all three choices, quickstart settings
    python benchmarks/bench_eot_init.py --max_steps 8        # shorter
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHOICES = ("mean", "eos-unscaled", "eos")
"""``eos-unscaled``: the ``eos`` copy without :data:`lima_hf.chat.EOT_COPY_SCALE` (a plain copy of the row)."""


def _held_out(dataset_dir: Path):
    from lima_hf.data.loading import load_lima_dataset
    from lima_hf.data.records import VALIDATION_SPLIT

    data = load_lima_dataset(str(dataset_dir))
    conversations = [list(m) for m in data[VALIDATION_SPLIT]["messages"]]
    prompts = [m[0]["content"] for split in ("test", VALIDATION_SPLIT) for m in data[split]["messages"]]
    return conversations, prompts


def _generate(model, tokenizer, prompts, max_new_tokens: int, seed: int) -> list[dict]:
    """Plain transformers generation; which token ended each answer."""
    import torch

    eot_id = tokenizer.convert_tokens_to_ids("<|eot|>")
    stops = model.generation_config.eos_token_id
    stops = stops if isinstance(stops, list) else [stops]
    tokenizer.padding_side = "left"
    texts = [tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                           tokenize=False) for p in prompts]
    batch = tokenizer(texts, add_special_tokens=False, padding=True, return_tensors="pt")
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.generate(**batch, do_sample=True, top_p=0.9, temperature=0.7, max_new_tokens=max_new_tokens,
                             pad_token_id=tokenizer.pad_token_id)
    results = []
    for row in out[:, batch["input_ids"].shape[1]:].tolist():
        end = next((i for i, t in enumerate(row) if t in stops), None)
        results.append({"tokens": len(row) if end is None else end + 1,
                        "stop": "length" if end is None else "eot" if row[end] == eot_id else "eos"})
    return results


def measure_one(eot_init: str, dataset_dir: Path, work: Path, args) -> dict:
    """Train with ``eot_init`` and measure; runs in a child process."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lima_hf.chat import setup_eot_chat_format
    from lima_hf.commands.quickstart import QuickstartConfig, training_overrides
    from lima_hf.evaluation.quick import turn_end_probabilities
    from lima_hf.models import bundled_model_path
    from lima_hf.training.script import train

    torch.set_num_threads(args.threads)
    if eot_init == "eos-unscaled":
        import lima_hf.chat

        lima_hf.chat.EOT_COPY_SCALE = 1.0
    choice, eot_init = eot_init, eot_init.removesuffix("-unscaled")
    conversations, prompts = _held_out(dataset_dir)
    base = bundled_model_path()
    model = AutoModelForCausalLM.from_pretrained(base)
    model, tokenizer = setup_eot_chat_format(model, AutoTokenizer.from_pretrained(base), eot_init=eot_init)
    before = [p["eot"] for p in turn_end_probabilities(model, tokenizer, conversations)]
    del model

    config = QuickstartConfig(**{key: value for key, value in (("max_steps", args.max_steps),
                                 ("learning_rate", args.learning_rate), ("residual_dropout", args.residual_dropout))
                                 if value is not None})
    started = time.perf_counter()
    folder = train(str(dataset_dir), str(work / choice), model_name_or_path=str(base), disable_tqdm=True,
                   **{**training_overrides(config), "eot_init": eot_init})
    seconds = time.perf_counter() - started

    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    after = turn_end_probabilities(model, tokenizer, conversations)
    answers = _generate(model, tokenizer, prompts, args.max_new_tokens, config.seed)
    return {
        "eot_init": choice,
        "steps": config.max_steps,
        "learning_rate": config.learning_rate,
        "residual_dropout": config.residual_dropout,
        "p_eot_before": statistics.median(before),
        "p_eot_after": statistics.median(p["eot"] for p in after),
        "p_old_eos_after": statistics.median(p["other_stop"] for p in after),
        "answers": len(answers),
        "stop_eot": sum(a["stop"] == "eot" for a in answers),
        "stop_eos": sum(a["stop"] == "eos" for a in answers),
        "length": sum(a["stop"] == "length" for a in answers),
        "mean_tokens": statistics.mean(a["tokens"] for a in answers),
        "train_seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--choices", nargs="+", default=list(CHOICES), choices=CHOICES)
    parser.add_argument("--max_steps", type=int, default=None, help="default: the quickstart's")
    parser.add_argument("--learning_rate", type=float, default=None, help="default: the quickstart's")
    parser.add_argument("--residual_dropout", type=float, default=None, help="default: the quickstart's")
    parser.add_argument("--max_new_tokens", type=int, default=None, help="default: the quickstart's")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per choice (they run in parallel)")
    parser.add_argument("--work_dir", default=None)
    parser.add_argument("--child", nargs=2, metavar=("CHOICE", "RESULT_JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.max_new_tokens is None:
        from lima_hf.commands.quickstart import QuickstartConfig

        args.max_new_tokens = QuickstartConfig.max_new_tokens
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench-eot-init-"))
    dataset_dir = work / "dataset"
    if args.child:
        result = measure_one(args.child[0], dataset_dir, work, args)
        Path(args.child[1]).write_text(json.dumps(result))
        return

    from lima_hf.data.builder import build_dataset, quickstart_config_path

    if not (dataset_dir / "README.md").is_file():
        build_dataset(quickstart_config_path(), dataset_dir)
    started = time.perf_counter()
    children = []
    for choice in args.choices:
        command = [sys.executable, __file__, "--work_dir", str(work), "--max_new_tokens", str(args.max_new_tokens),
                   "--threads", str(args.threads), "--child", choice, str(work / f"{choice}.json")]
        for option in ("max_steps", "learning_rate", "residual_dropout"):
            if getattr(args, option) is not None:
                command[2:2] = [f"--{option}", str(getattr(args, option))]
        log = open(work / f"{choice}.log", "w")
        children.append((choice, subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                                  env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})))
    for choice, child in children:
        if child.wait() != 0:
            sys.exit(f"{choice} failed; see {work / f'{choice}.log'}")
    rows = [json.loads((work / f"{choice}.json").read_text()) for choice in args.choices]

    print(f"\nSmolLM2-135M-Instruct, quickstart data and settings, {rows[0]['steps']} steps, peak learning rate "
          f"{rows[0]['learning_rate']:g}, residual dropout {rows[0]['residual_dropout']:g}; "
          f"{rows[0]['answers']} held-out prompts, at most {args.max_new_tokens} new tokens; "
          f"wall time {time.perf_counter() - started:.0f} s")
    print("| eot_init | P(EOT) at reply end, before | after | P(old EOS) after | stops at EOT | at old EOS "
          "| runs to the limit | mean answer tokens | training s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        n = r["answers"]
        print(f"| {r['eot_init']} | {r['p_eot_before']:.1e} | {r['p_eot_after']:.2g} | {r['p_old_eos_after']:.1e} "
              f"| {r['stop_eot']}/{n} ({100 * r['stop_eot'] / n:.0f}%) | {r['stop_eos']}/{n} | {r['length']}/{n} "
              f"| {r['mean_tokens']:.0f} | {r['train_seconds']:.0f} |")
    by_choice = {r["eot_init"]: r for r in rows}
    for a, b in (("mean", "eos"), ("eos-unscaled", "eos")):
        if a in by_choice and b in by_choice:
            print(f"P(EOT) after training, {b} / {a}: "
                  f"{by_choice[b]['p_eot_after'] / max(by_choice[a]['p_eot_after'], 1e-30):.3g}x")
    print("(P: medians over the held-out validation replies; figures from a shared 2-core CPU)")


if __name__ == "__main__":
    main()
