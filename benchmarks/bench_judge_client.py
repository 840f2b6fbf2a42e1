"""Benchmark: the HTTP judge's urllib client against ``huggingface_hub.InferenceClient`` on a loopback endpoint.

    python benchmarks/bench_judge_client.py [--requests 300] [--concurrency 8] [--latency 0.05]

A thread on 127.0.0.1 serves ``/v1/chat/completions`` (OpenAI-compatible). The same chat requests are sent
(1) one at a time to an endpoint that answers at once, which measures each client's own overhead per
request, and (2) ``--concurrency`` at a time to an endpoint that takes ``--latency`` seconds, as a remote
API does. Each run prints requests/s for ``OpenAICompatibleJudge.chat`` (urllib) and for
``InferenceClient(base_url=...).chat.completions.create`` and their ratio, then sends one request to an
endpoint answering 429 with ``Retry-After`` and one with the Hub's offline mode on, and says how each
client handles them. Run it with ``HF_HUB_OFFLINE`` unset (the script turns it on for the last check).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Endpoint(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            status = self.server.statuses.pop(0) if self.server.statuses else 200
            self.server.count += 1
        time.sleep(self.server.latency)
        if status != 200:
            self.send_response(status)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": "Reasoning.\n5"}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def _clients(base_url: str) -> dict:
    from huggingface_hub import InferenceClient

    from lima_hf.evaluation.judges.openai_http import OpenAICompatibleJudge

    judge = OpenAICompatibleJudge("bench", api_base=base_url, api_key="sk-bench", max_tokens=16, backoff=0.0)
    client = InferenceClient(base_url=base_url, api_key="sk-bench")

    def inference_client(prompt: str) -> str:
        reply = client.chat.completions.create(
            model="bench", messages=[{"role": "user", "content": prompt}], temperature=0.0, max_tokens=16
        )
        return reply.choices[0].message.content

    return {"urllib (OpenAICompatibleJudge)": judge.chat, "huggingface_hub.InferenceClient": inference_client}


def _rate(call, prompts, concurrency: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        replies = list(pool.map(call, prompts))
    assert all(reply.startswith("Reasoning.") for reply in replies)
    return len(prompts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the endpoint takes in run (2)")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    server.lock, server.statuses, server.count, server.latency = threading.Lock(), [], 0, 0.0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    clients = _clients(f"http://127.0.0.1:{server.server_port}/v1")
    prompts = [f"Grade answer {i}" for i in range(args.requests)]
    try:
        for name, call in clients.items():  # warm up both (imports, connection set-up)
            _rate(call, prompts[:5], 1)
        for label, latency, concurrency in (("one at a time, instant endpoint", 0.0, 1),
                                             (f"{args.concurrency} in flight, {args.latency} s endpoint",
                                              args.latency, args.concurrency)):
            server.latency = latency
            rates = {name: _rate(call, prompts, concurrency) for name, call in clients.items()}
            print(f"{label}: " + ", ".join(f"{name} {rate:.0f} requests/s" for name, rate in rates.items()))
            urllib_rate, hub_rate = rates.values()
            print(f"  ratio urllib / InferenceClient: {urllib_rate / hub_rate:.2f}")
        server.latency = 0.0
        for name, call in clients.items():
            server.statuses, server.count = [429], 0
            try:
                call("hello")
                outcome = f"retried after Retry-After and succeeded ({server.count} requests)"
            except Exception as err:  # noqa: BLE001 - the point is which error each client raises
                outcome = f"raised {type(err).__name__} on the first 429 ({server.count} request)"
            print(f"429 with Retry-After: {name} {outcome}")
        from huggingface_hub import constants

        constants.HF_HUB_OFFLINE = True  # as with HF_HUB_OFFLINE=1: no Hub traffic, a local judge server
        for name, call in clients.items():
            try:
                call("hello")
                outcome = "answered"
            except Exception as err:  # noqa: BLE001
                outcome = f"refused ({type(err).__name__})"
            print(f"loopback endpoint with HF_HUB_OFFLINE=1: {name} {outcome}")
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
