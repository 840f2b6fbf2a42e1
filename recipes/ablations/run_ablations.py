"""Run the paper's ablations end to end and hand every study's answers to one evaluation report.

For each dataset of the scan (scan.yaml): ``lima-hf build-dataset``, train LLaMA-7B on it with the
ablation recipe (``accelerate launch`` here, or ``sbatch recipes/launch.slurm`` with ``--launcher slurm``),
``lima-hf select-checkpoint`` on the dev set (epochs 5 to 10), ``lima-hf generate`` 5 answers per TEST prompt
with the chosen checkpoint (the paper: the dev prompts pick the checkpoint, the test prompts score the arms,
so the figures are not scored on the prompts that chose the model), and one answer per bundled
verifiable-instruction prompt; then per study ``lima-hf evaluate likert`` with one system per arm, which
writes the report (table, plot, every figure in report.json, and which prompts each arm answered) under
WORK_DIR/reports/STUDY, and the judge-free ``lima-hf evaluate instructions`` report (strict and loose
accuracy, per instruction type) under WORK_DIR/reports/STUDY/instructions. ``--criterion instructions``
also chooses the checkpoints without a judge (instruction accuracy on the bundled prompts).

The test prompts are the test split of the scan's ``test_set`` (the LIMA build config; built once with the
other datasets) or ``--test_prompts FILE`` (e.g. the released LIMA ``test.jsonl``).

    python recipes/ablations/run_ablations.py --study all --dry_run
    python recipes/ablations/run_ablations.py --study quality -- --judge http --judge_model gpt-3.5-turbo
    python recipes/ablations/run_ablations.py --study quantity --launcher slurm -- --judge local --judge_model DIR
    python recipes/ablations/run_ablations.py --study all --backend vllm --tensor_parallel_size 8 -- --judge http ...
    python recipes/ablations/run_ablations.py --study quality --criterion instructions --steps build train select generate

Everything after ``--`` is passed to the judge of select-checkpoint and evaluate (lima-hf's judge options).
``--backend vllm`` (and vLLM's engine options) generates the dev and test answers with vLLM.
Steps whose output exists are skipped, so re-running resumes the scan; generation and judging resume too.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

from lima_hf.evaluation.backends import add_backend_options, given_backend_options
from lima_hf.evaluation.checkpoint_selection import CRITERIA
from lima_hf.evaluation.instruction_checks import bundled_prompts_path

STEPS = ("build", "train", "select", "generate", "evaluate")
LIMA_HF = [sys.executable, "-m", "lima_hf.cli"]


def load_scan(path: Path) -> dict:
    """The scan file with its paths resolved; errors name the file and the key."""
    scan = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key in ("train_recipe", "accelerate_config", "test_set", "studies"):
        if key not in scan:
            raise SystemExit(f"{path}: missing '{key}'")
    base = path.parent
    scan["train_recipe"] = (base / scan["train_recipe"]).resolve()
    scan["accelerate_config"] = (base / scan["accelerate_config"]).resolve()
    scan["test_set"] = (base / scan["test_set"]).resolve()
    if not scan["test_set"].is_file():
        raise SystemExit(f"{path}: test_set: {scan['test_set']} not found")
    for study, arms in scan["studies"].items():
        for arm, data_config in arms.items():
            arms[arm] = (base / data_config).resolve()
            if not arms[arm].is_file():
                raise SystemExit(f"{path}: studies.{study}.{arm}: {arms[arm]} not found")
    return scan


class Scan:
    """The commands of a scan, in order; runs them (or prints them with ``dry_run``)."""

    def __init__(self, scan: dict, work_dir: Path, launcher: str, judge_args: list[str], train_args: list[str],
                 dry_run: bool, test_prompts: Path | None = None, generate_args: list[str] = (),
                 criterion: str = "likert"):
        self.scan, self.work, self.launcher, self.criterion = scan, work_dir, launcher, criterion
        self.generate_args = list(generate_args)  # generation options of select-checkpoint and generate
        self.judge_args, self.train_args, self.dry_run = judge_args, train_args, dry_run
        self.test_prompts = test_prompts or self.dataset(scan["test_set"])

    def run(self, command: list[str], skip_if: Path | None = None) -> None:
        if skip_if is not None and skip_if.exists():
            print(f"[skip] {skip_if} exists")
            return
        print("$ " + shlex.join(str(part) for part in command), flush=True)
        if not self.dry_run:
            subprocess.run([str(part) for part in command], check=True, cwd=REPO)

    def dataset(self, data_config: Path) -> Path:
        return self.work / "data" / data_config.stem

    def model(self, data_config: Path) -> Path:
        return self.work / "models" / data_config.stem

    def build(self, data_config: Path) -> None:
        output = self.dataset(data_config)
        self.run([*LIMA_HF, "build-dataset", "--dataset_config", data_config, "--output", output], skip_if=output / "README.md")

    def train(self, data_config: Path) -> None:
        overrides = ["--dataset_name", self.dataset(data_config), "--output_dir", self.model(data_config),
                     *self.train_args]
        if self.launcher == "slurm":
            recipe = self.scan["train_recipe"]
            command = ["sbatch", "--wait", "--nodes=1", f"--job-name=lima-ablation-{data_config.stem}",
                       REPO / "recipes" / "launch.slurm", recipe.parent.parent.name, recipe.stem.removeprefix("config_"),
                       self.scan["accelerate_config"].stem, *overrides]
        else:
            command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", self.scan["accelerate_config"],
                       "-m", "lima_hf.cli", "train", "--config", self.scan["train_recipe"], *overrides]
        self.run(command, skip_if=self.model(data_config) / "config.json")  # written by the final save only

    def selection(self, data_config: Path) -> Path:
        return self.work / "selection" / data_config.stem

    def select(self, data_config: Path) -> None:
        output = self.selection(data_config)
        by = (["--dev_prompts", self.dataset(data_config)] if self.criterion == "likert"
              else ["--criterion", self.criterion])  # instructions: the bundled prompts, no judge
        judge = self.judge_args if self.criterion == "likert" else []
        self.run([*LIMA_HF, "select-checkpoint", "--run_dir", self.model(data_config), *by, "--output_dir", output,
                  *self.generate_args, *judge], skip_if=output / "selection.json")

    def chosen_checkpoint(self, data_config: Path) -> str:
        selection = self.selection(data_config) / "selection.json"
        if selection.is_file():
            chosen = json.loads(selection.read_text(encoding="utf-8")).get("chosen")
            if chosen:
                return chosen
        if self.dry_run:
            return f"<checkpoint chosen in {selection}>"
        raise SystemExit(f"{selection}: no checkpoint chosen yet (finish select-checkpoint first)")

    def answers(self, data_config: Path, suffix: str = "") -> Path:
        return self.work / "answers" / f"{data_config.stem}{suffix}.jsonl"

    def build_test_set(self) -> None:
        """The test prompts every arm answers (skipped when --test_prompts names them)."""
        if self.test_prompts == self.dataset(self.scan["test_set"]):
            self.build(self.scan["test_set"])

    def generate(self, data_config: Path) -> None:
        self.run([*LIMA_HF, "generate", "--model", self.chosen_checkpoint(data_config), "--prompts",
                  self.test_prompts, "--split", "test", "--num_samples", str(self.scan.get("num_samples", 5)),
                  "--output", self.answers(data_config), *self.generate_args])
        self.run([*LIMA_HF, "generate", "--model", self.chosen_checkpoint(data_config), "--prompts",
                  bundled_prompts_path(), "--output", self.answers(data_config, ".instructions"), *self.generate_args])

    def evaluate(self, study: str, arms: dict[str, Path]) -> None:
        responses = [f"{arm}={self.answers(data_config)}" for arm, data_config in arms.items()]
        self.run([*LIMA_HF, "evaluate", "likert", "--responses", *responses, "--output_dir",
                  self.work / "reports" / study, *self.judge_args])
        followed = [f"{arm}={self.answers(data_config, '.instructions')}" for arm, data_config in arms.items()]
        self.run([*LIMA_HF, "evaluate", "instructions", "--responses", *followed, "--output_dir",
                  self.work / "reports" / study / "instructions"])


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    judge_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="Judge options go after --, e.g. -- --judge http --judge_model gpt-3.5-turbo")
    parser.add_argument("--study", nargs="+", default=["all"], help="diversity, quality, quantity, or all")
    parser.add_argument("--scan", type=Path, default=HERE / "scan.yaml", help="the scan file")
    parser.add_argument("--work_dir", type=Path, default=REPO / "outputs" / "ablations", help="where everything goes")
    parser.add_argument("--launcher", choices=("local", "slurm"), default="local",
                        help="train with accelerate launch on this machine, or submit recipes/launch.slurm jobs")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS), help="steps to run")
    parser.add_argument("--train_arg", action="append", default=[], metavar="OPTION",
                        help="an extra `lima-hf train` argument, e.g. --train_arg=--num_train_epochs --train_arg=5")
    parser.add_argument("--generate_arg", action="append", default=[], metavar="OPTION",
                        help="an extra generation argument of select-checkpoint and generate, e.g. "
                        "--generate_arg=--max_new_tokens --generate_arg=1024")
    add_backend_options(parser.add_argument_group("generation backend (select-checkpoint and generate)"))
    parser.add_argument("--test_prompts", type=Path, default=None,
                        help="the prompts every arm is scored on (default: the test split of the scan's test_set, "
                             "built once); e.g. the released LIMA test.jsonl")
    parser.add_argument("--criterion", choices=CRITERIA, default="likert",
                        help="how select-checkpoint chooses: the judge's Likert on each arm's dev split, or "
                        "instruction accuracy on the bundled verifiable-instruction prompts (no judge)")
    parser.add_argument("--dry_run", action="store_true", help="print the commands without running them")
    args = parser.parse_args(argv)

    scan = load_scan(args.scan)
    studies = list(scan["studies"]) if "all" in args.study else args.study
    unknown = [s for s in studies if s not in scan["studies"]]
    if unknown:
        parser.error(f"unknown study {', '.join(unknown)} (the scan has {', '.join(scan['studies'])})")
    runner = Scan(scan, args.work_dir.resolve(), args.launcher, judge_args, args.train_arg, args.dry_run,
                  args.test_prompts and args.test_prompts.resolve(),
                  generate_args=[*args.generate_arg, *(part for name, value in given_backend_options(args).items()
                                                       for part in (f"--{name}", str(value)))],
                  criterion=args.criterion)
    datasets = list(dict.fromkeys(path for study in studies for path in scan["studies"][study].values()))
    for step in ("build", "train", "select", "generate"):
        if step in args.steps:
            if step == "build":
                runner.build_test_set()
            for data_config in datasets:
                getattr(runner, step)(data_config)
    if "evaluate" in args.steps:
        for study in studies:
            runner.evaluate(study, scan["studies"][study])
    return 0


if __name__ == "__main__":
    sys.exit(main())
