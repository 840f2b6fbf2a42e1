"""The selection study in one command: one small model per selection strategy, equal-size subsets of one pool.

    python recipes/ablations/selection_scan.py                       # recipes/ablations/selection_scan.yaml
    python recipes/ablations/selection_scan.py --dry_run             # every arm's commands, nothing run
    python recipes/ablations/selection_scan.py --model PATH -- --judge http --judge_model gpt-4o-mini
    python recipes/ablations/selection_scan.py --backend vllm --gpu_memory_utilization 0.5   # answers with vLLM

Steps (each printed as the command it runs; lima-hf commands run in this process):

1. pool: the scan's ``pool`` entries (files, or ``lima-hf curate`` runs) written as one ``WORK/pool.jsonl``;
2. per arm (``arms``: ``lima-hf select`` options, e.g. a strategy or a list of steps): ``lima-hf select``
   ``n`` examples, ``lima-hf train`` the model on them (``train_recipe`` + ``train``), ``lima-hf generate``
   answers to ``test_prompts`` (``generate``); arms that need a judge are skipped without one;
3. score: ``metrics`` per arm with 95% intervals (stop rate: Wilson; length: bootstrap; instruction
   accuracy: the instruction-following scorer's own), and with a judge the length-controlled preference
   over ``baseline`` (``lima-hf evaluate pairwise``); ``WORK/report.md``, ``report.json``, ``scan.png``.

A finished step leaves ``WORK/arms/ARM/STEP.done`` holding its command; a rerun skips the steps whose
command is unchanged and redoes the others (never mixing results made with other settings).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

from lima_hf.evaluation.backends import add_backend_options, given_backend_options
from lima_hf.registry import Registry

JUDGE_ARMS_KEY = "needs_judge"
STEPS = ("pool", "select", "train", "generate", "score")


# --- metrics ---------------------------------------------------------------------------------------------------

def _wilson(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    if total == 0:
        return math.nan, math.nan
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return centre - half, centre + half


def _bootstrap_mean(values: list[float], seed: int = 0, resamples: int = 1000) -> tuple[float, float]:
    import numpy as np

    if not values:
        return math.nan, math.nan
    data = np.asarray(values, dtype=float)
    means = data[np.random.default_rng(seed).integers(0, len(data), (resamples, len(data)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def _answers(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def stop_rate(arm: dict, scan: Scan) -> dict:
    """Share of answers that ended at an end token (not at the token limit), Wilson 95% interval."""
    answers = _answers(arm["answers"])
    stopped = sum(a["finish_reason"][-1] == "eos" for a in answers)
    low, high = _wilson(stopped, len(answers))
    return {"value": stopped / len(answers) if answers else math.nan, "low": low, "high": high, "n": len(answers)}


def length(arm: dict, scan: Scan) -> dict:
    """Mean new tokens of the last answer, bootstrap 95% interval."""
    values = [float(a["new_tokens"][-1]) for a in _answers(arm["answers"])]
    low, high = _bootstrap_mean(values, scan.seed)
    return {"value": sum(values) / len(values) if values else math.nan, "low": low, "high": high, "n": len(values)}


def instruction_accuracy(arm: dict, scan: Scan) -> dict:
    """Judge-free instruction following (prompt-level, strict) from the instruction-following scorer,
    imported when present; the test prompts must carry their instructions (IFEval schema)."""
    try:
        from lima_hf.evaluation.protocols.instruction_following import (
            score_instructions,
        )
    except ImportError as err:
        return {"value": None, "note": f"not scored: the instruction-following scorer is not installed ({err})"}
    try:
        summary = score_instructions(str(arm["answers"]), str(scan.test_prompts))
    except Exception as err:  # noqa: BLE001 - not an instruction set, a checker missing: said in the report
        return {"value": None, "note": f"not scored: {type(err).__name__}: {str(err).splitlines()[0]}"}
    low, high = summary["intervals_95"]["prompt_strict"]
    return {"value": summary["prompt_strict"], "low": low, "high": high}


def length_controlled_preference(arm: dict, scan: Scan) -> dict:
    """The judge's length-controlled preference for this arm over the baseline arm (lima-hf evaluate pairwise)."""
    if not scan.judge_args:
        return {"value": None, "note": "no judge given"}
    if arm["name"] == scan.baseline:
        return {"value": None, "note": "the baseline"}
    report = json.loads((arm["dir"] / "pairwise" / "report.json").read_text(encoding="utf-8"))
    found = _find_key(report, "length_controlled")
    if found is None:
        return {"value": None, "note": "the pairwise report has no length-controlled figure"}
    return {"value": found.get("length_controlled"), "low": None, "high": None, "raw": found.get("raw")}


def _find_key(node: Any, key: str) -> dict | None:
    if isinstance(node, dict):
        if key in node and isinstance(node[key], (int, float)):
            return node
        for value in node.values():
            found = _find_key(value, key)
            if found is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _find_key(value, key)
            if found is not None:
                return found
    return None


METRICS = Registry("scan metric", {
    "stop_rate": stop_rate,
    "length": length,
    "instruction_accuracy": instruction_accuracy,
    "length_controlled_preference": length_controlled_preference,
})


# --- the scan ---------------------------------------------------------------------------------------------------

def _flags(options: dict) -> list[str]:
    argv = []
    for key, value in options.items():
        if isinstance(value, (list, dict)):
            value = json.dumps(value)
        elif isinstance(value, bool):
            value = str(value).lower()
        argv += [f"--{key}", str(value)]
    return argv


class Scan:
    """The scan file's arms and options, and the commands that run them."""

    def __init__(self, config: dict, path: Path, work: Path, *, model: str | None, n: int | None,
                 judge_args: list[str], dry_run: bool, arms: list[str] | None):
        def resolve(value):
            return str((path.parent / value).resolve()) if isinstance(value, str) and not Path(value).is_absolute() else value

        self.config, self.work, self.dry_run, self.judge_args = config, work, dry_run, judge_args
        self.model = model or config["model"]
        if Path(path.parent / self.model).exists():
            self.model = resolve(self.model)
        self.n = n or int(config["n"])
        self.seed = int(config.get("seed", 42))
        self.train_recipe = resolve(config["train_recipe"])
        self.test_prompts = resolve(config["test_prompts"])
        self.pool_entries = [{**e, **({"path": resolve(e["path"])} if "path" in e else {}),
                              **({"input": resolve(e["input"])} if "input" in e else {})} for e in config["pool"]]
        self.baseline = config.get("baseline", "random")
        self.metrics = list(config.get("metrics", ["stop_rate", "length", "instruction_accuracy",
                                                   "length_controlled_preference"]))
        for name in self.metrics:
            METRICS.get(name)  # an unknown metric is named before anything runs
        wanted = arms or list(config["arms"])
        unknown = [a for a in wanted if a not in config["arms"]]
        if unknown:
            raise SystemExit(f"unknown arm(s) {', '.join(unknown)} (the scan has {', '.join(config['arms'])})")
        self.arms = []
        for name in wanted:
            options = dict(config["arms"][name] or {})
            needs_judge = bool(options.pop(JUDGE_ARMS_KEY, False))
            self.arms.append({"name": name, "options": options, "needs_judge": needs_judge,
                              "dir": work / "arms" / name, "answers": work / "arms" / name / "answers.jsonl"})
        self.skipped = {a["name"]: "needs a judge (give judge options after --)" for a in self.arms
                        if a["needs_judge"] and not judge_args}
        self.pool = work / "pool.jsonl"

    # commands ------------------------------------------------------------------------------------------------
    def commands(self, arm: dict) -> dict[str, list[str]]:
        data, model = arm["dir"] / "data", arm["dir"] / "model"
        judge = self.judge_args if arm["needs_judge"] else []
        commands = {
            "select": ["lima-hf", "select", "--pool", str(self.pool), "--n", str(self.n), "--seed", str(self.seed),
                       "--output", str(data), "--embedding_cache_dir", str(self.work / "embeddings"),
                       "--show_progress", "false", *_flags(arm["options"]), *judge],
            "train": ["lima-hf", "train", "--config", self.train_recipe, "--model_name_or_path", self.model,
                      "--dataset_name", str(data), "--output_dir", str(model), "--seed", str(self.seed),
                      *_flags(self.config.get("train", {}))],
            "generate": ["lima-hf", "generate", "--model", str(model), "--prompts", self.test_prompts,
                         "--output", str(arm["answers"]), *_flags(self.config.get("generate", {}))],
        }
        if self.judge_args and arm["name"] != self.baseline and "length_controlled_preference" in self.metrics:
            base = self.work / "arms" / self.baseline / "answers.jsonl"
            commands["score"] = ["lima-hf", "evaluate", "pairwise", "--responses", f"{arm['name']}={arm['answers']}",
                                 f"{self.baseline}={base}", "--output_dir", str(arm["dir"] / "pairwise"),
                                 *self.judge_args]
        return commands

    def pool_commands(self) -> list[list[str]]:
        commands = []
        for index, entry in enumerate(self.pool_entries):
            if "curate" in entry:
                commands.append(["lima-hf", "curate", entry["curate"], "--input", entry["input"], "--output",
                                 str(self._curated(index, entry)), *_flags(entry.get("options", {}))])
        return commands

    def _curated(self, index: int, entry: dict) -> Path:
        return self.work / "pool" / f"{index}-{entry['curate']}.jsonl"

    # running -------------------------------------------------------------------------------------------------
    def run(self, argv: list[str], marker: Path | None = None) -> None:
        print("$ " + shlex.join(argv), flush=True)
        if self.dry_run:
            return
        line = shlex.join(argv)
        if marker is not None and marker.is_file() and marker.read_text(encoding="utf-8") == line:
            print("  (done before with the same command: skipped)", flush=True)
            return
        from lima_hf.cli import main as cli

        start = time.monotonic()
        code = cli(argv[1:])
        print(f"  ({time.monotonic() - start:.1f} s)", flush=True)
        if code != 0:
            raise SystemExit(f"selection scan: `{line}` failed (exit {code}); see its message above")
        if marker is not None:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(line, encoding="utf-8")

    def build_pool(self) -> None:
        """Write WORK/pool.jsonl: every pool entry's records, ids kept (a duplicate id is an error)."""
        for command, marker in zip(self.pool_commands(), [self.work / "pool" / f"{i}.done" for i in range(99)]):
            self.run(command, marker)
        sources = [e["path"] if "path" in e else str(self._curated(i, e)) for i, e in enumerate(self.pool_entries)]
        print(f"# write {self.pool} from {', '.join(sources)}", flush=True)
        if self.dry_run:
            return
        from lima_hf.data.selection.pool import load_pool
        from lima_hf.io import atomic_open, dump_jsonl_line

        seen: dict[str, str] = {}
        rows = []
        for source in sources:
            records, _ = load_pool(source)
            for record in records:
                if record["id"] in seen:
                    raise SystemExit(f"selection scan: id {record['id']} is in both {seen[record['id']]} and {source}")
                seen[record["id"]] = source
                rows.append({k: record[k] for k in ("id", "source", "messages", "score", "category", "license")
                             if record.get(k) is not None})
        self.pool.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(self.pool, replace="any") as handle:
            handle.writelines(dump_jsonl_line(row) for row in rows)
        print(f"# pool: {len(rows)} candidates", flush=True)

    def score(self) -> dict:
        rows = {}
        for arm in self.arms:
            if arm["name"] in self.skipped:
                rows[arm["name"]] = {"skipped": self.skipped[arm["name"]]}
                continue
            rows[arm["name"]] = {name: METRICS.get(name)(arm, self) for name in self.metrics}
        report = {"model": self.model, "n": self.n, "seed": self.seed, "pool": str(self.pool),
                  "test_prompts": self.test_prompts, "arms": {a["name"]: a["options"] for a in self.arms},
                  "metrics": self.metrics, "results": rows}
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        (self.work / "report.md").write_text(report_markdown(report), encoding="utf-8")
        plot(report, self.work / "scan.png")
        print(report_markdown(report), flush=True)
        return report


def _cell(result: dict) -> str:
    value = result.get("value")
    if value is None:
        return result.get("note", "-")
    digits = 1 if abs(value) >= 10 else 3
    low, high = result.get("low"), result.get("high")
    interval = f" [{low:.{digits}f}, {high:.{digits}f}]" if low is not None and high is not None else ""
    return f"{value:.{digits}f}{interval}"


def report_markdown(report: dict) -> str:
    metrics = report["metrics"]
    lines = ["# Selection scan", "",
             (f"{report['n']} examples per arm from `{report['pool']}`, model `{report['model']}`, answers to "
              f"`{report['test_prompts']}`, seed {report['seed']}. Intervals: 95%."), "",
             "| arm | selection | " + " | ".join(metrics) + " |", "|---|---|" + "---|" * len(metrics)]
    for name, row in report["results"].items():
        selection = ", ".join(f"{k}={json.dumps(v) if isinstance(v, (list, dict)) else v}"
                              for k, v in report["arms"][name].items())
        if "skipped" in row:
            lines.append(f"| {name} | {selection} | skipped: {row['skipped']} |" + " |" * (len(metrics) - 1))
        else:
            lines.append(f"| {name} | {selection} | " + " | ".join(_cell(row[m]) for m in metrics) + " |")
    lines += ["", "![scan](scan.png)", ""]
    return "\n".join(lines)


def plot(report: dict, path: Path) -> None:
    """One PNG: a panel per metric, a point with its interval per arm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics, arms = report["metrics"], [a for a, r in report["results"].items() if "skipped" not in r]
    figure, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 0.5 * len(arms) + 1.8), squeeze=False)
    for axis, metric in zip(axes[0], metrics):
        for y, arm in enumerate(arms):
            result = report["results"][arm][metric]
            if result.get("value") is None:
                continue
            low, high = result.get("low"), result.get("high")
            err = None if low is None or high is None else [[result["value"] - low], [high - result["value"]]]
            axis.errorbar(result["value"], y, xerr=err, fmt="o", capsize=3)
        axis.set_yticks(range(len(arms)), arms if axis is axes[0][0] else [""] * len(arms))
        axis.set_title(metric, fontsize=9)
        axis.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    judge_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="Judge options go after --, e.g. -- --judge http --judge_model gpt-4o-mini")
    parser.add_argument("--config", type=Path, default=HERE / "selection_scan.yaml", help="the scan file (YAML)")
    parser.add_argument("--work_dir", type=Path, default=REPO / "outputs" / "selection-scan", help="where everything goes")
    parser.add_argument("--model", default=None, help="the base model every arm trains (path or Hub id; default: the "
                                                      "scan file's)")
    parser.add_argument("--n", type=int, default=None, help="examples per arm (default: the scan file's)")
    parser.add_argument("--arms", nargs="+", default=None, help="run only these arms")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS), help="steps to run")
    parser.add_argument("--dry_run", action="store_true", help="print every arm's commands without running them")
    add_backend_options(parser.add_argument_group("generation backend (over the scan file's generate options)"))
    args = parser.parse_args(argv)

    from lima_hf.io import read_yaml

    config, _ = read_yaml(args.config, "scan file")
    missing = [k for k in ("model", "n", "pool", "arms", "train_recipe", "test_prompts") if k not in (config or {})]
    if missing:
        raise SystemExit(f"{args.config}: missing key(s) {', '.join(missing)}")
    config["generate"] = {**(config.get("generate") or {}), **given_backend_options(args)}
    scan = Scan(config, args.config.resolve(), args.work_dir.resolve(), model=args.model, n=args.n,
                judge_args=judge_args, dry_run=args.dry_run, arms=args.arms)
    if "pool" in args.steps:
        scan.build_pool()
    ordered = [a for a in scan.arms if a["name"] == scan.baseline] + [a for a in scan.arms if a["name"] != scan.baseline]
    for arm in ordered:
        if arm["name"] in scan.skipped:
            print(f"# arm {arm['name']}: skipped, {scan.skipped[arm['name']]}", flush=True)
            continue
        print(f"# arm {arm['name']}", flush=True)
        for step, command in scan.commands(arm).items():
            if step in args.steps:
                scan.run(command, arm["dir"] / f"{step}.done")
    if "score" in args.steps and not args.dry_run:
        scan.score()
    return 0


if __name__ == "__main__":
    sys.exit(main())
