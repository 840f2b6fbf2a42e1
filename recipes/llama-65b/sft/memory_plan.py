"""ZeRO-3 memory plan per GPU and per node, from DeepSpeed's own estimator; LoRA / QLoRA plan for one GPU.

    python recipes/llama-65b/sft/memory_plan.py                       # LLaMA-65B, 1/2/4/8 nodes of 8 x 80 GB
    python recipes/llama-65b/sft/memory_plan.py --model llama-3.1-70b --nodes 2 4
    python recipes/llama-65b/sft/memory_plan.py --method qlora        # LLaMA-65B QLoRA on one GPU
    python recipes/llama-65b/sft/memory_plan.py --method lora --model llama-7b

The model is built on PyTorch's meta device from its published architecture (no download, no memory), its
parameters counted the way DeepSpeed's ``model_to_params`` does (total, and the largest single layer), and
``deepspeed.runtime.zero.stage3.estimate_zero3_model_states_mem_needs`` (what ``..._all_cold`` prints) gives
the bytes per GPU and per node for each offload setting. The split into parameters / gradients / optimizer
states follows the estimator's 18 bytes per parameter: 2 (bf16 parameter shard) + 4 (fp32 gradient shard)
+ 12 (fp32 master weights, Adam m and v); the script checks that the parts add up to the estimator's total.
Activations are not model states and are not in the estimator: ``--activation_headroom_gib`` reserves room
for them when judging whether a setting fits.
"""

from __future__ import annotations

import argparse

GIB = 2**30

# Published architectures (config.json of each model); LLaMA-33B is the one Meta released as "30B".
_LLAMA1 = {"vocab_size": 32000}
ARCHITECTURES = {
    "llama-7b": {**_LLAMA1, "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
                 "num_attention_heads": 32},
    "llama-13b": {**_LLAMA1, "hidden_size": 5120, "intermediate_size": 13824, "num_hidden_layers": 40,
                  "num_attention_heads": 40},
    "llama-33b": {**_LLAMA1, "hidden_size": 6656, "intermediate_size": 17920, "num_hidden_layers": 60,
                  "num_attention_heads": 52},
    "llama-65b": {**_LLAMA1, "hidden_size": 8192, "intermediate_size": 22016, "num_hidden_layers": 80,
                  "num_attention_heads": 64},
    "llama-3.1-70b": {"vocab_size": 128256, "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80,
                      "num_attention_heads": 64, "num_key_value_heads": 8},
}
# (name, offload_optimizer, offload_param) as in deepspeed_zero3.yaml / deepspeed_zero3_offload.yaml
OFFLOAD = [("none", False, False), ("optimizer", True, False), ("optimizer + params", True, True)]


def count_parameters(name: str) -> tuple[int, int]:
    """(total parameters, parameters of the largest single module) of a model built on the meta device."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**ARCHITECTURES[name], tie_word_embeddings=False)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    # DeepSpeed's model_to_params dedups shared tensors by data_ptr, which is 0 for every meta tensor:
    # dedup by identity instead, then take the largest layer exactly as it does.
    total = sum({id(p): p.numel() for p in model.parameters()}.values())
    largest = max(sum(p.numel() for p in m.parameters(recurse=False)) for m in model.modules())
    return total, largest


def plan(name: str, nodes: list[int], gpus_per_node: int, gpu_memory_gib: float, headroom_gib: float) -> list[dict]:
    from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs

    total, largest = count_parameters(name)
    rows = []
    for num_nodes in nodes:
        gpus = num_nodes * gpus_per_node
        for label, offload_optimizer, offload_param in OFFLOAD:
            cpu_bytes, gpu_bytes, largest_layer_bytes = estimate_zero3_model_states_mem_needs(
                total_params=total, largest_layer_params=largest, num_gpus_per_node=gpus_per_node,
                num_nodes=num_nodes, cpu_offload=offload_optimizer, cpu_offload_params=offload_param, zero_init=True,
            )
            params = 0 if offload_param else 2 * total / gpus
            grads = 0 if offload_optimizer else 4 * total / gpus
            optimizer = 0 if offload_optimizer else 12 * total / gpus
            parts = largest_layer_bytes + params + grads + optimizer
            assert abs(parts - gpu_bytes) <= 1, (name, num_nodes, label, parts, gpu_bytes)
            rows.append({
                "nodes": num_nodes, "gpus": gpus, "offload": label, "params": params, "grads": grads,
                "optimizer": optimizer, "largest_layer": largest_layer_bytes, "gpu": gpu_bytes, "cpu_per_node": cpu_bytes,
                "fits": gpu_bytes / GIB + headroom_gib <= gpu_memory_gib,
            })
    return rows, total, largest


def markdown(rows: list[dict]) -> str:
    header = ("| nodes | GPUs | offload | params / GPU | grads / GPU | optimizer / GPU | largest layer / GPU | "
              "total / GPU | CPU RAM / node | fits |")
    lines = [header, "|" + "---|" * 10]
    for r in rows:
        cells = [str(r["nodes"]), str(r["gpus"]), r["offload"]]
        cells += [f"{r[key] / GIB:.1f} GiB" for key in ("params", "grads", "optimizer", "largest_layer", "gpu")]
        cells += [f"{r['cpu_per_node'] / GIB:,.0f} GiB", "yes" if r["fits"] else "no"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- LoRA / QLoRA on one GPU

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")  # all linear layers
# GPUs by memory class: (label, usable GiB as nvidia-smi reports the total in MiB / 1024)
GPUS = (("24 GB (RTX 4090)", 24564 / 1024), ("48 GB (RTX A6000)", 49140 / 1024),
        ("80 GB (A100 / H100)", 81559 / 1024), ("141 GB (H200)", 143771 / 1024))
NF4_BITS = 4 + 8 / 64 + 32 / (64 * 256)  # 4-bit weights + double-quantised absmax per block of 64 (QLoRA: 4.127)


def adapter_plan(name: str, method: str, lora_r: int = 64, max_length: int = 2048, batch_size: int = 1,
                 headroom_gib: float = 4.0) -> dict:
    """Bytes on one GPU for LoRA (bf16 base) or QLoRA (NF4 base), by part; ``total`` includes ``headroom_gib``.

    - base weights: bf16 (2 bytes); with QLoRA the decoder's linear layers in NF4 with double quantisation
      (4.127 bits, QLoRA paper section 3), the embeddings, output layer and norms in bf16;
    - LoRA adapters on every linear layer of the decoder, r x (in + out) each: fp32 with their gradients and
      AdamW's m and v (16 bytes per parameter, peft's default) for LoRA; bf16 with bf16 gradients and 32-bit
      paged AdamW (12 bytes) for QLoRA, as TRL casts them;
    - the EOT rows (``trainable_token_indices`` on the input and output layers): each forward builds the
      layer's weight with the trained row (a vocab x hidden copy) and the backward its dense gradient, so
      2 x 2 vocab x hidden bf16 buffers at the peak;
    - activations with gradient checkpointing: every layer's input (tokens x hidden, bf16) plus one layer
      recomputed (about tokens x (10 hidden + 4 intermediate) bf16 values);
    - headroom for the CUDA context, the allocator's fragmentation and TRL's LM-head tiles.
    """
    if method not in ("lora", "qlora"):
        raise ValueError(f"method must be 'lora' or 'qlora', got {method!r}")
    arch = ARCHITECTURES[name]
    hidden, inter, layers, vocab = (arch["hidden_size"], arch["intermediate_size"], arch["num_hidden_layers"],
                                    arch["vocab_size"])
    kv = hidden * arch.get("num_key_value_heads", arch["num_attention_heads"]) // arch["num_attention_heads"]
    shapes = {"q_proj": (hidden, hidden), "k_proj": (hidden, kv), "v_proj": (hidden, kv), "o_proj": (hidden, hidden),
              "gate_proj": (hidden, inter), "up_proj": (hidden, inter), "down_proj": (inter, hidden)}
    total, _ = count_parameters(name)
    linear = layers * sum(i * o for i, o in shapes.values())
    adapters = layers * sum(lora_r * (i + o) for key, (i, o) in shapes.items() if key in LORA_TARGETS)
    eot_rows = 2 * hidden
    if method == "lora":
        weights, per_trainable = 2 * total, 16
    else:
        weights, per_trainable = linear * NF4_BITS / 8 + 2 * (total - linear), 12
    tokens = max_length * batch_size
    parts = {
        "weights": weights,
        "adapters": (adapters + eot_rows) * per_trainable,
        "eot_buffers": 2 * 2 * vocab * hidden * 2,
        "activations": 2 * tokens * hidden * layers + 2 * tokens * (10 * hidden + 4 * inter),
        "headroom": headroom_gib * GIB,
    }
    return {"model": name, "method": method, "parameters": total, "trainable": adapters + eot_rows, **parts,
            "total": sum(parts.values())}


def adapter_markdown(plans: list[dict]) -> str:
    header = ["model", "method", "trainable", "weights", "adapters + optimizer", "EOT-row buffers", "activations",
              "headroom", "total"] + [label for label, _ in GPUS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for p in plans:
        cells = [p["model"], "QLoRA (NF4)" if p["method"] == "qlora" else "LoRA (bf16)",
                 f"{p['trainable'] / 1e6:,.0f}M ({100 * p['trainable'] / p['parameters']:.2f}%)"]
        cells += [f"{p[key] / GIB:.1f} GiB" for key in ("weights", "adapters", "eot_buffers", "activations",
                                                         "headroom", "total")]
        cells += ["yes" if p["total"] / GIB <= usable else "no" for _, usable in GPUS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="llama-65b", choices=sorted(ARCHITECTURES))
    parser.add_argument("--method", default="zero3", choices=["zero3", "lora", "qlora"],
                        help="zero3: full fine-tuning over nodes (DeepSpeed's estimator); lora / qlora: one GPU")
    parser.add_argument("--lora_r", type=int, default=64)
    parser.add_argument("--max_length", type=int, default=2048)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--gpus_per_node", type=int, default=8)
    parser.add_argument("--gpu_memory_gib", type=float, default=79.6,
                        help="usable GPU memory; an '80 GB' A100/H100 has 81,559 MiB = 79.6 GiB")
    parser.add_argument("--activation_headroom_gib", type=float, default=12,
                        help="GPU memory kept for activations, buffers and fragmentation when judging 'fits'")
    args = parser.parse_args()
    if args.method != "zero3":
        result = adapter_plan(args.model, args.method, args.lora_r, args.max_length)
        print(f"{args.model} {args.method}: one GPU, r={args.lora_r} on all linear layers, {args.max_length}-token "
              "examples, batch 1, gradient checkpointing\n")
        print(adapter_markdown([result]))
        return
    rows, total, largest = plan(args.model, args.nodes, args.gpus_per_node, args.gpu_memory_gib,
                                args.activation_headroom_gib)
    print(f"{args.model}: {total:,} parameters, largest layer {largest:,}; {args.gpus_per_node} x "
          f"{args.gpu_memory_gib:g} GiB GPUs per node; 'fits' keeps {args.activation_headroom_gib:g} GiB per GPU for "
          "activations\n")
    print(markdown(rows))


if __name__ == "__main__":
    main()
