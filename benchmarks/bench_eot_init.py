"""How the new ``<|eot|>`` row starts decides whether a short fine-tune learns to stop, and to answer.

Fine-tunes each bundled model (the Gemma 3 270M base and SmolLM2-135M-Instruct, in one run) on the
quickstart's training split once per EOT initialisation (``eot_init``: ``mean`` of all rows; ``eos``, a copy of the model's own end token with its output
row scaled by ``lima_hf.chat.EOT_COPY_SCALE``; ``eos-unscaled``, the plain copy), with
the quickstart's settings (same data, steps, learning rate, residual dropout, seed), each choice in its own
process, then measures on the held-out prompts (the test and validation splits, never trained on):

- P(EOT) where the held-out validation replies end (teacher forcing), before and after training, and the
  probability of the old EOS (``<|im_end|>``, ``<eos>``) there after training: the EOT must win, as its own token;
- P(EOT) where the held-out validation replies *start* (the first reply position), before and after training:
  an EOT that wins there is an empty reply;
- the stop rate: answers (nucleus sampling p=0.9, temperature 0.7, plain ``transformers`` ``generate``,
  at most ``--max_new_tokens``) that end with ``<|eot|>``, that end with the old EOS, that run to the limit;
- the number of empty replies (no text before the end token), the mean answer length and the training time
  (wall and CPU seconds).

    python benchmarks/bench_eot_init.py                      # both models, all three choices, quickstart settings
    python benchmarks/bench_eot_init.py --models gemma-3-270m --max_steps 8   # shorter
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


def _start_probabilities(model, tokenizer, conversations) -> list[float]:
    """P(EOT) at the first position of each conversation's first reply (teacher forcing, eval mode)."""
    import torch

    eot_id = tokenizer.convert_tokens_to_ids("<|eot|>")
    model.eval()
    probabilities = []
    for messages in conversations:
        ids = tokenizer.apply_chat_template(messages[:1], add_generation_prompt=True, tokenize=True,
                                            return_dict=True)["input_ids"]
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([ids])).logits[0, -1].float()
        probabilities.append(torch.softmax(logits, dim=-1)[eot_id].item())
    return probabilities


def _generate(model, tokenizer, prompts, max_new_tokens: int, seed: int) -> list[dict]:
    """Plain transformers generation; which token ended each answer, and whether it is empty. Nucleus
    filtering is lima-hf's candidate-first warper, which keeps transformers' mask without sorting 262k logits."""
    import torch
    from transformers import LogitsProcessorList, TemperatureLogitsWarper

    from lima_hf.evaluation.backends.transformers_backend import NucleusLogitsWarper

    eot_id = tokenizer.convert_tokens_to_ids("<|eot|>")
    stops = model.generation_config.eos_token_id
    stops = stops if isinstance(stops, list) else [stops]
    tokenizer.padding_side = "left"
    texts = [tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                           tokenize=False) for p in prompts]
    batch = tokenizer(texts, add_special_tokens=False, padding=True, return_tensors="pt")
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.generate(**batch, do_sample=True, top_p=1.0, top_k=0, temperature=1.0,
                             logits_processor=LogitsProcessorList([TemperatureLogitsWarper(0.7), NucleusLogitsWarper(0.9)]),
                             max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id)
    results = []
    for row in out[:, batch["input_ids"].shape[1]:].tolist():
        end = next((i for i, t in enumerate(row) if t in stops), None)
        results.append({"tokens": len(row) if end is None else end + 1,
                        "stop": "length" if end is None else "eot" if row[end] == eot_id else "eos",
                        "empty": not tokenizer.decode(row[:end], skip_special_tokens=True).strip()})
    return results


def measure_one(model_name: str, eot_init: str, dataset_dir: Path, work: Path, args) -> dict:
    """Train bundled model ``model_name`` with ``eot_init`` and measure; runs in a child process."""
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
    base = bundled_model_path(name=model_name)
    model = AutoModelForCausalLM.from_pretrained(base)
    model, tokenizer = setup_eot_chat_format(model, AutoTokenizer.from_pretrained(base), eot_init=eot_init)
    before = [p["eot"] for p in turn_end_probabilities(model, tokenizer, conversations)]
    start_before = _start_probabilities(model, tokenizer, conversations)
    del model

    config = QuickstartConfig(**{key: value for key, value in (("max_steps", args.max_steps),
                                 ("learning_rate", args.learning_rate), ("residual_dropout", args.residual_dropout))
                                 if value is not None})
    started, cpu = time.perf_counter(), time.process_time()
    folder = train(str(dataset_dir), str(work / f"{model_name}-{choice}"), model_name_or_path=str(base),
                   disable_tqdm=True, **{**training_overrides(config), "eot_init": eot_init})
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu

    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    after = turn_end_probabilities(model, tokenizer, conversations)
    start_after = _start_probabilities(model, tokenizer, conversations)
    answers = _generate(model, tokenizer, prompts, args.max_new_tokens, config.seed)
    return {
        "model": model_name,
        "eot_init": choice,
        "steps": config.max_steps,
        "learning_rate": config.learning_rate,
        "residual_dropout": config.residual_dropout,
        "p_eot_before": statistics.median(before),
        "p_eot_after": statistics.median(p["eot"] for p in after),
        "p_old_eos_after": statistics.median(p["other_stop"] for p in after),
        "p_eot_start_before": max(start_before),
        "p_eot_start_after": max(start_after),
        "answers": len(answers),
        "stop_eot": sum(a["stop"] == "eot" for a in answers),
        "stop_eos": sum(a["stop"] == "eos" for a in answers),
        "length": sum(a["stop"] == "length" for a in answers),
        "empty": sum(a["empty"] for a in answers),
        "mean_tokens": statistics.mean(a["tokens"] for a in answers),
        "train_seconds": seconds,
        "train_cpu_seconds": cpu_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    from lima_hf.models import BUNDLED_MODELS

    parser.add_argument("--models", nargs="+", default=BUNDLED_MODELS.names(), choices=BUNDLED_MODELS.names())
    parser.add_argument("--choices", nargs="+", default=list(CHOICES), choices=CHOICES)
    parser.add_argument("--max_steps", type=int, default=None, help="default: the quickstart's")
    parser.add_argument("--learning_rate", type=float, default=None, help="default: the quickstart's")
    parser.add_argument("--residual_dropout", type=float, default=None, help="default: the quickstart's")
    parser.add_argument("--max_new_tokens", type=int, default=None, help="default: the quickstart's")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--parallel", type=int, default=1,
                        help="runs at once (a Gemma full fine-tune takes about 7 GB of memory)")
    parser.add_argument("--work_dir", default=None)
    parser.add_argument("--child", nargs=3, metavar=("MODEL", "CHOICE", "RESULT_JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.max_new_tokens is None:
        from lima_hf.commands.quickstart import QuickstartConfig

        args.max_new_tokens = QuickstartConfig.max_new_tokens
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench-eot-init-"))
    dataset_dir = work / "dataset"
    if args.child:
        result = measure_one(args.child[0], args.child[1], dataset_dir, work, args)
        Path(args.child[2]).write_text(json.dumps(result))
        return

    from lima_hf.data.builder import build_dataset, quickstart_config_path

    if not (dataset_dir / "README.md").is_file():
        build_dataset(quickstart_config_path(), dataset_dir)
    started = time.perf_counter()
    runs = [(model, choice) for model in args.models for choice in args.choices]
    pending, running = list(runs), []
    while pending or running:
        while pending and len(running) < args.parallel:
            model, choice = pending.pop(0)
            name = f"{model}-{choice}"
            command = [sys.executable, __file__, "--work_dir", str(work), "--max_new_tokens", str(args.max_new_tokens),
                       "--threads", str(args.threads), "--child", model, choice, str(work / f"{name}.json")]
            for option in ("max_steps", "learning_rate", "residual_dropout"):
                if getattr(args, option) is not None:
                    command[2:2] = [f"--{option}", str(getattr(args, option))]
            log = open(work / f"{name}.log", "w")
            running.append((name, subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                                   env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})))
        name, child = running.pop(0)
        if child.wait() != 0:
            sys.exit(f"{name} failed; see {work / f'{name}.log'}")
    rows = [json.loads((work / f"{model}-{choice}.json").read_text()) for model, choice in runs]

    print(f"\nQuickstart data and settings, {rows[0]['steps']} steps, peak learning rate {rows[0]['learning_rate']:g}, "
          f"residual dropout {rows[0]['residual_dropout']:g}; {rows[0]['answers']} held-out prompts, at most "
          f"{args.max_new_tokens} new tokens; wall time {time.perf_counter() - started:.0f} s")
    print("| model | eot_init | P(EOT) at reply end, before | after | P(old EOS) after | max P(EOT) at reply start, "
          "before | after | stops at EOT | at old EOS | runs to the limit | empty replies | mean answer tokens "
          "| training s (CPU s) |")
    print("|---" * 13 + "|")
    for r in rows:
        n = r["answers"]
        print(f"| {r['model']} | {r['eot_init']} | {r['p_eot_before']:.1e} | {r['p_eot_after']:.2g} "
              f"| {r['p_old_eos_after']:.1e} | {r['p_eot_start_before']:.1e} | {r['p_eot_start_after']:.1e} "
              f"| {r['stop_eot']}/{n} ({100 * r['stop_eot'] / n:.0f}%) | {r['stop_eos']}/{n} | {r['length']}/{n} "
              f"| {r['empty']}/{n} | {r['mean_tokens']:.0f} | {r['train_seconds']:.0f} ({r['train_cpu_seconds']:.0f}) |")
    by_run = {(r["model"], r["eot_init"]): r for r in rows}
    for model in args.models:
        for a, b in (("mean", "eos"), ("eos-unscaled", "eos")):
            if (model, a) in by_run and (model, b) in by_run:
                print(f"{model}: P(EOT) after training, {b} / {a}: "
                      f"{by_run[model, b]['p_eot_after'] / max(by_run[model, a]['p_eot_after'], 1e-30):.3g}x")
    print("(P at reply ends: medians over the held-out validation replies; at reply starts: the maximum; "
          "figures from a shared 2-core CPU)")


if __name__ == "__main__":
    main()
