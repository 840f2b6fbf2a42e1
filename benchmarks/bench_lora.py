"""Benchmark full fine-tuning against LoRA on the same model, in one run, and QLoRA on a GPU.

    python benchmarks/bench_lora.py [--steps 6] [--hidden_size 256] [--layers 4]

1. Full fine-tuning, LoRA with the `<|eot|>` rows in ``trainable_token_indices`` (what ``lima-hf train``
   does with ``use_peft``) and LoRA with ``modules_to_save=["embed_tokens", "lm_head"]`` (full copies of both
   matrices), on the same random LLaMA-architecture model (untied embeddings, as LLaMA; SmolLM2's 49,153-token
   vocabulary), data and batch, on the CPU. Each arm runs in its own process, so that its peak memory
   (``ru_maxrss``) is its own; printed: trainable parameters, median wall-clock and CPU time per optimizer
   step (``time.perf_counter`` and ``time.process_time`` between step ends, the first step left out; on a
   shared machine the CPU time is the steadier), the peak resident memory and its
   increase during training over the process after loading, and the bytes of the saved model or adapter;
   then the ratios to full fine-tuning.
2. QLoRA (NF4, double quantisation, bf16 compute, paged AdamW) on the bundled SmolLM2-135M when CUDA is
   present: training tokens per second and peak GPU memory (``torch.cuda.max_memory_allocated``), against
   LoRA on the bf16 model in the same run. Without a GPU it prints "not measured: no GPU".
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARMS = ("full", "lora", "lora_modules_to_save")
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _conversations(n: int = 64):
    from datasets import Dataset

    words = ["the", "answer", "explains", "each", "step", "with", "care", "and", "gives", "an", "example"]
    return Dataset.from_list([
        {"messages": [{"role": "user", "content": f"Question {i}: how does step {i} work?"},
                      {"role": "assistant", "content": " ".join(words[(i + k) % len(words)] for k in range(90))}]}
        for i in range(n)
    ])


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_arm(arm: str, steps: int, hidden: int, layers: int, use_cuda: bool = False, model_path: str | None = None,
            quantize: bool = False) -> dict:
    """Train one arm for ``steps`` optimizer steps; returns its measurements."""
    import copy

    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM, TrainerCallback

    from lima_hf.models import bundled_model_path, tiny_llama
    from lima_hf.training.config import LimaSFTConfig
    from lima_hf.training.trainer import LimaSFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(bundled_model_path())
    if model_path is None:
        model, tokenizer = tiny_llama(copy.deepcopy(tokenizer), hidden_size=hidden, num_hidden_layers=layers,
                                      num_attention_heads=8, num_key_value_heads=4, intermediate_size=hidden * 8 // 3)
        model.config.tie_word_embeddings = False
        torch.manual_seed(0)
        model = LlamaForCausalLM(model.config)
    else:
        model = model_path
    peft_config = None
    if arm != "full":
        from peft import LoraConfig

        peft_config = LoraConfig(r=16, lora_alpha=16, lora_dropout=0.05, target_modules=TARGETS, task_type="CAUSAL_LM",
                                 modules_to_save=["embed_tokens", "lm_head"] if arm == "lora_modules_to_save" else None)
    quantization_config = None
    if quantize:
        from transformers import BitsAndBytesConfig

        quantization_config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                 bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.bfloat16)
    output = tempfile.mkdtemp(prefix=f"bench-lora-{arm}-")
    args = LimaSFTConfig(output, use_cpu=not use_cuda, bf16=use_cuda, report_to=[], disable_tqdm=True,
                         max_steps=steps, per_device_train_batch_size=4, effective_batch_size=4, max_length=128,
                         save_strategy="no", gradient_checkpointing=use_cuda, residual_dropout=0.2,
                         learning_rate=1e-4, logging_steps=steps, seed=0,
                         optim="paged_adamw_32bit" if quantize else "adamw_torch",
                         model_init_kwargs={"dtype": torch.bfloat16} if use_cuda else None)
    kwargs = {"quantization_config": quantization_config} if quantize else {}
    trainer = LimaSFTTrainer(model, args, train_dataset=_conversations(), processing_class=tokenizer,
                             peft_config=peft_config, **kwargs)
    ends, cpu_ends = [], []

    class StepTimes(TrainerCallback):
        def on_step_end(self, *_args, **_kwargs):
            if use_cuda:
                torch.cuda.synchronize()
            ends.append(time.perf_counter())
            cpu_ends.append(time.process_time())

    trainer.add_callback(StepTimes())
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    rss_before = _current_rss_mib()
    if use_cuda:
        torch.cuda.reset_peak_memory_stats()
    start, cpu_start = time.perf_counter(), time.process_time()
    trainer.train()
    times = [b - a for a, b in zip([start, *ends], ends)][1:]  # the first step includes warm-up
    cpu_times = [b - a for a, b in zip([cpu_start, *cpu_ends], cpu_ends)][1:]
    tokens = sum(len(ids) for ids in trainer.train_dataset.select(range(4 * steps))["input_ids"])
    result = {
        "arm": arm,
        "trainable": trainable,
        "step_s": statistics.median(times),
        "cpu_step_s": statistics.median(cpu_times),
        "peak_rss_mib": _rss_mib(),
        "training_rss_mib": _rss_mib() - rss_before,
        "tokens_per_s": tokens / (ends[-1] - start),
    }
    if use_cuda:
        result["peak_gpu_gib"] = torch.cuda.max_memory_allocated() / 2**30
    trainer.save_model(output)
    result["saved_mib"] = sum(p.stat().st_size for p in Path(output).iterdir()
                              if p.is_file() and p.suffix in (".safetensors", ".bin") and p.name != "training_args.bin") / 2**20
    return result


def _in_subprocess(arm: str, args) -> dict:
    command = [sys.executable, __file__, "--arm", arm, "--steps", str(args.steps), "--hidden_size", str(args.hidden_size),
               "--layers", str(args.layers)]
    process = subprocess.run(command, capture_output=True, text=True, check=False)
    if process.returncode != 0:
        raise RuntimeError(f"arm {arm} failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def _table(results: list[dict]) -> str:
    full = results[0]
    header = ("| arm | trainable parameters | step time (wall / CPU) | peak RSS | RSS growth in training | saved weights | "
              "trainable / full | CPU time / full | peak RSS / full | saved / full |")
    lines = [header, "|" + "---|" * 10]
    for r in results:
        lines.append(
            f"| {r['arm']} | {r['trainable']:,} | {r['step_s']:.2f} s / {r['cpu_step_s']:.2f} s | "
            f"{r['peak_rss_mib']:,.0f} MiB | {r['training_rss_mib']:,.0f} MiB | {r['saved_mib']:.1f} MiB | "
            f"{r['trainable'] / full['trainable']:.4f} | {r['cpu_step_s'] / full['cpu_step_s']:.2f} | "
            f"{r['peak_rss_mib'] / full['peak_rss_mib']:.2f} | {r['saved_mib'] / full['saved_mib']:.3f} |"
        )
    return "\n".join(lines)


def qlora_on_gpu(steps: int) -> str:
    import torch

    if not torch.cuda.is_available():
        return "QLoRA on the bundled SmolLM2-135M: not measured: no GPU"
    from lima_hf.models import bundled_model_path

    path = str(bundled_model_path())
    lora = run_arm("lora", steps, 0, 0, use_cuda=True, model_path=path)
    qlora = run_arm("lora", steps, 0, 0, use_cuda=True, model_path=path, quantize=True)
    return (f"QLoRA on the bundled SmolLM2-135M ({torch.cuda.get_device_name()}): {qlora['tokens_per_s']:,.0f} "
            f"tokens/s, peak GPU memory {qlora['peak_gpu_gib']:.2f} GiB; LoRA on bf16 weights: "
            f"{lora['tokens_per_s']:,.0f} tokens/s, {lora['peak_gpu_gib']:.2f} GiB; QLoRA / LoRA: "
            f"{qlora['tokens_per_s'] / lora['tokens_per_s']:.2f}x tokens/s, "
            f"{qlora['peak_gpu_gib'] / lora['peak_gpu_gib']:.2f}x memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--hidden_size", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--arm", choices=ARMS, help=argparse.SUPPRESS)  # one arm, in a child process
    args = parser.parse_args()
    if args.arm:
        print(json.dumps(run_arm(args.arm, args.steps, args.hidden_size, args.layers)))
        return
    print(f"random LLaMA, hidden {args.hidden_size}, {args.layers} layers, untied 49,153-token embeddings; CPU, "
          f"batch 4 x 128 tokens, {args.steps} optimizer steps per arm, LoRA r=16 on all linear layers\n")
    results = [_in_subprocess(arm, args) for arm in ARMS]
    print(_table(results))
    print()
    print(qlora_on_gpu(args.steps))


if __name__ == "__main__":
    main()
