"""Throughput and peak memory of automatic selection, each against a baseline measured in the same run.

Part 1, real text: the default encoder (offline all-MiniLM-L6-v2) on prompts of the released LIMA training
set: batched encoding (the pipeline's way) against one text at a time, and against a warm cache.

Part 2, synthetic embeddings (384-d like MiniLM, clustered, 2% planted near-duplicates) for pools of 100k
and 1M candidates, each case in its own process so that its peak memory (max RSS, including the
embeddings themselves) is its own:

- selection of n=1,000: random (the baseline), greedy k-center, facility location (100k);
- the near-duplicate join at cosine 0.95 (every pair above it): exact (numpy, blockwise; timed on a sample
  of rows against the whole pool and scaled, as its cost is linear in the rows) against the ANN join (faiss
  k-means cells, run in full); the ANN pairs are checked against the exact ones of the sampled rows;
- the whole pipeline (rules, quality ranking, ANN dedup, k-center) on 100k synthetic records.

Part 3, decontamination on real text: the released LIMA training set against 300 of its own prompts as the
"evaluation" set (so every one of those must be found), the 13-gram hash index against the baseline of
comparing each record's n-gram set with each evaluation prompt's (no index); both must flag the same records.

Run: python benchmarks/bench_selection.py [--sizes 100000 1000000] [--n 1000] [--query-sample 2000]
     python benchmarks/bench_selection.py --texts 0 --sizes --decontamination   # part 3 only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DIM = 384
DEDUP_THRESHOLD = 0.95
LIMA_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "lima" / "train.jsonl"


def reset_peak_rss() -> None:
    """Restart this process's peak-RSS count from its current RSS (Linux: /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the parent's fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_embeddings(size: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around size/100 cluster centres, with 2% near-copies (cosine ~0.99) of other rows."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(1, size // 100), DIM), dtype=np.float32)
    vectors = np.empty((size, DIM), dtype=np.float32)
    for start in range(0, size, 100_000):
        stop = min(size, start + 100_000)
        chunk = centres[rng.integers(0, len(centres), stop - start)]
        chunk += 0.6 * rng.standard_normal(chunk.shape, dtype=np.float32)
        vectors[start:stop] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    copies = rng.choice(size, size // 50, replace=False)
    noisy = vectors[copies[::2]] + 0.01 * rng.standard_normal((len(copies[::2]), DIM), dtype=np.float32)
    vectors[copies[1::2][: len(noisy)]] = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True))[: len(copies[1::2])]
    return vectors


def sampled_radius(vectors: np.ndarray, chosen: np.ndarray, sample: int = 20_000) -> float:
    """Largest cosine distance from a sample of the pool to its nearest chosen vector."""
    rows = np.random.default_rng(2).choice(len(vectors), min(sample, len(vectors)), replace=False)
    return float(1.0 - (vectors[rows] @ vectors[chosen].T).max(axis=1).min())


def query_rows(size: int, count: int) -> np.ndarray:
    """The rows whose pairs the exact baseline times (and against which ANN recall is checked)."""
    return np.sort(np.random.default_rng(1).choice(size, min(size, count), replace=False))


def run_case(case: str, size: int, n: int, query_sample: int) -> dict:
    """One measurement, in this process. Returns seconds, candidates/s and memory figures."""
    from lima_hf.data.selection import (
        NeighbourIndex,
        SelectionConfig,
        facility_location,
        k_center_greedy,
        random_selection,
        select_records,
    )

    imports_peak = peak_rss_mib()
    vectors = synthetic_embeddings(size)
    reset_peak_rss()  # the peak below is the operation's (with the embeddings resident), not the generator's
    extra: dict = {"imports_mib": imports_peak}
    start = time.perf_counter()
    chosen = None
    if case == "random":
        chosen = random_selection(size, n, seed=0)
    elif case == "k_center":
        chosen = k_center_greedy(vectors, n)
    elif case == "facility_location":
        chosen = facility_location(vectors, n, index=NeighbourIndex(vectors, "ann"))
    elif case == "dedup_exact":
        # the exact join compares every row with every row, block by block; timed on a sample of rows
        sample = query_rows(size, query_sample)
        pairs = set()
        rows_per_block = max(1, (1 << 24) // size)  # as NeighbourIndex's exact blocks
        for chunk in np.array_split(sample, max(1, len(sample) // rows_per_block)):
            sims = vectors[chunk] @ vectors.T
            rows, columns = np.nonzero(sims >= DEDUP_THRESHOLD)
            pairs |= {(int(chunk[r]), int(c)) for r, c in zip(rows, columns) if chunk[r] != c}
        queried = time.perf_counter() - start
        extra.update({"sample": len(sample), "sampled_s": queried, "pairs": sorted(pairs)})
        return {"seconds": queried * size / len(sample), "peak_mib": peak_rss_mib(), **extra}
    elif case == "dedup_ann":
        index = NeighbourIndex(vectors, "ann")
        built = time.perf_counter() - start
        first, second, _ = index.pairs_above(DEDUP_THRESHOLD)
        sample = set(query_rows(size, query_sample).tolist())
        pairs = {(int(a), int(b)) for a, b in zip(first, second) if a in sample}
        pairs |= {(int(b), int(a)) for a, b in zip(first, second) if b in sample}
        extra.update({"build_s": built, "sample": len(sample), "pairs": sorted(pairs), "found": len(first)})
    elif case == "pipeline":
        records = [{"id": f"c{i}", "source": f"s{i % 4}", "score": int(i % 50),
                    "messages": [{"role": "user", "content": f"question {i}"},
                                 {"role": "assistant", "content": f"answer {i} " * 20}]} for i in range(size)]
        start = time.perf_counter()
        result = select_records(records, SelectionConfig(n=n, index="ann", show_progress=False), embeddings=vectors)
        extra["dropped"] = len(result.dropped)
    else:
        raise ValueError(case)
    seconds = time.perf_counter() - start
    if chosen is not None:
        extra["radius"] = sampled_radius(vectors, chosen)
    return {"seconds": seconds, "peak_mib": peak_rss_mib(), **extra}


def in_subprocess(case: str, size: int, n: int, query_sample: int) -> dict:
    command = [sys.executable, __file__, "--case", case, "--sizes", str(size), "--n", str(n),
               "--query-sample", str(query_sample)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{case} at {size}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def embedding_rows(texts_count: int) -> list[tuple]:
    import tempfile

    from lima_hf.data.selection import Embedder

    prompts = [json.loads(line)["conversations"][0] for line in LIMA_TRAIN.read_text(encoding="utf-8").splitlines()]
    prompts = prompts[:texts_count]
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        batched = Embedder(cache_dir=cache, show_progress=False)
        batched.load()  # loading the model is not throughput
        start = time.perf_counter()
        batched.encode(prompts)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        batched.encode(prompts)
        warm = time.perf_counter() - start
        single = Embedder(cache_dir=False, batch_size=1, show_progress=False)
        single.load()
        few = prompts[: max(8, texts_count // 8)]
        start = time.perf_counter()
        single.encode(few)
        one_by_one = (time.perf_counter() - start) * len(prompts) / len(few)
    rows.append(("encode, batch 64 (cold cache)", len(prompts), cold, 1.0))
    rows.append((f"encode, batch 1 (timed on {len(few)})", len(prompts), one_by_one, cold / one_by_one))
    rows.append(("cache hits (warm cache)", len(prompts), warm, cold / warm))
    return rows


def decontamination_rows(eval_count: int = 300) -> list[tuple]:
    """(case, records, seconds, flagged ids) for the index and the no-index baseline."""
    from lima_hf.data.decontamination import (
        DEFAULT_NGRAM,
        EvalIndex,
        find_contamination,
        words,
    )
    from lima_hf.data.selection.pool import load_pool

    records, _ = load_pool(str(LIMA_TRAIN))
    prompts = [{"id": r["id"], "set": "lima-train-prompts", "text": r["messages"][0]["content"]}
               for r in records[:: max(1, len(records) // eval_count)][:eval_count]]
    start = time.perf_counter()
    index = EvalIndex(prompts, DEFAULT_NGRAM)
    flagged = {r["id"] for r in find_contamination(records, index)}
    indexed = time.perf_counter() - start

    def grams(text):
        tokens = words(text)
        return {tuple(tokens[i : i + DEFAULT_NGRAM]) for i in range(len(tokens) - DEFAULT_NGRAM + 1)}

    start = time.perf_counter()
    eval_grams = [grams(p["text"]) for p in prompts]
    short = {tuple(words(p["text"])) for p in prompts if len(words(p["text"])) < DEFAULT_NGRAM}
    naive = set()
    for record in records:
        texts = ["\n\n".join(m["content"] for m in record["messages"] if m["role"] == role) for role in ("user", "assistant")]
        mine = [grams(t) for t in texts]
        if any(g & e for g in mine for e in eval_grams) or tuple(words(texts[0])) in short:
            naive.add(record["id"])
    baseline = time.perf_counter() - start
    return [("n-gram set per record x per prompt (baseline)", len(records), baseline, naive),
            ("13-gram hash index (lima-hf)", len(records), indexed, flagged)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--query-sample", type=int, default=2000, help="rows the exact join is timed on")
    parser.add_argument("--texts", type=int, default=256, help="LIMA prompts for the embedding part (0: skip)")
    parser.add_argument("--decontamination", action="store_true", help="also run part 3 (decontamination)")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.sizes[0], args.n, args.query_sample)))
        return

    print(f"# bench_selection: {os.cpu_count()} CPUs, n={args.n}\n")
    if args.texts:
        print(f"## Embedding: all-MiniLM-L6-v2 on {args.texts} LIMA prompts (max 256 tokens)\n")
        print("| case | texts | seconds | texts/s | speed vs batched |")
        print("|---|---:|---:|---:|---:|")
        for name, count, seconds, ratio in embedding_rows(args.texts):
            print(f"| {name} | {count} | {seconds:.1f} | {count / seconds:,.0f} | {ratio:.2f}x |", flush=True)
        print()
    if args.decontamination:
        rows = decontamination_rows()
        baseline, ours = rows
        print(f"## Decontamination: {baseline[1]:,} LIMA training records against 300 of their own prompts\n")
        print("| case | records | seconds | records/s | speed vs baseline | flagged |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, count, seconds, flagged in rows:
            print(f"| {name} | {count:,} | {seconds:.2f} | {count / seconds:,.0f} | {baseline[2] / seconds:.1f}x | "
                  f"{len(flagged)} |", flush=True)
        print(f"\nSame records flagged: {baseline[3] == ours[3]}\n")
    if not args.sizes:
        return
    print("## Selection on synthetic 384-d embeddings\n")
    print("Time ratio: this case's seconds over the baseline's (random selection; exact search for dedup). "
          "Radius: largest cosine distance from 20k sampled candidates to the nearest selected one (lower is "
          "better). Peak RSS includes the embeddings (pool x 384 float32) and the imports.\n")
    print("| pool | case | seconds | candidates/s | time vs baseline | radius | peak RSS MiB | notes |")
    print("|---:|---|---:|---:|---:|---:|---:|---|")
    for size in args.sizes:
        cases = ["random", "k_center", "dedup_exact", "dedup_ann"]
        if size <= 200_000:
            cases[2:2] = ["facility_location"]
            cases.append("pipeline")
        results = {}
        for case in cases:
            results[case] = row = in_subprocess(case, size, args.n, args.query_sample)
            baseline, label = (results.get("dedup_exact"), "exact") if case.startswith("dedup") else (
                results.get("random"), "random")
            ratio = f"{row['seconds'] / baseline['seconds']:.3g}x {label}" if baseline and baseline is not row else "1x"
            notes = f"embeddings {size * DIM * 4 / 2**20:,.0f} MiB, imports {row['imports_mib']:,.0f} MiB"
            if case == "dedup_exact":
                notes += f"; {row['sample']:,} rows x all in {row['sampled_s']:.1f}s, scaled to {size:,} rows"
            elif case == "dedup_ann":
                notes += f"; index build {row['build_s']:.1f}s, {row['found']:,} pairs"
                if "dedup_exact" in results:
                    exact = {tuple(p) for p in results["dedup_exact"]["pairs"]}
                    found = {tuple(p) for p in row["pairs"]} & exact
                    notes += (f"; recall {len(found) / max(1, len(exact)):.3f} of the {len(exact):,} exact pairs "
                              f"of the sampled rows")
            elif case == "pipeline":
                notes += f"; rules + quality + ANN dedup + k-center, {row['dropped']:,} dropped"
            radius = f"{row['radius']:.3f}" if "radius" in row else ""
            print(f"| {size:,} | {case} | {row['seconds']:.2f} | {size / row['seconds']:,.0f} | {ratio} | {radius} | "
                  f"{row['peak_mib']:,.0f} | {notes} |", flush=True)


if __name__ == "__main__":
    main()
