"""Checkpoint selection on the dev set, as the paper does it (perplexity does not track answer quality).

For every epoch checkpoint of a training run in a range (the paper: epochs 5 to 10; the epoch of
``checkpoint-<step>/`` is read from its ``trainer_state.json``), answer the dev prompts in the LIMA sampling
protocol, grade the answers with a judge on the 1-6 helpfulness scale, and pick the checkpoint with the
highest mean (the earlier one on a tie). With people as the judge the answers wait for their labels
(a sheet or the annotation page); running again once they are in finishes the selection. Answers and judgments are resumable.

``criterion="instructions"`` needs no judge: each checkpoint answers verifiable-instruction prompts (IFEval's
schema; lima-hf's bundled set by default) and the one with the highest prompt-level strict accuracy wins
(:mod:`lima_hf.evaluation.protocols.instruction_following`).
"""

from __future__ import annotations

import gc
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

from lima_hf.errors import InputError
from lima_hf.evaluation.backends import BackendArguments
from lima_hf.evaluation.generation import SamplingConfig, generate_responses
from lima_hf.evaluation.judges.base import LabelsPending
from lima_hf.evaluation.prompt_sets import load_prompts
from lima_hf.evaluation.protocols.likert import run_likert
from lima_hf.io import atomic_open


def find_checkpoints(run_dir: str | os.PathLike, min_epoch: float = 5, max_epoch: float = 10) -> list[dict[str, Any]]:
    """``{"path", "name", "epoch", "step"}`` of the checkpoints of ``run_dir`` whose epoch is in range."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: training output folder not found")
    from lima_hf.training.checkpoints import checkpoint_dirs, incomplete_reason

    found = []
    for folder in checkpoint_dirs(run_dir):
        state_file = folder / "trainer_state.json"
        reason = incomplete_reason(folder)
        if reason is not None:  # e.g. the run was killed while saving it
            warnings.warn(f"skipping incomplete checkpoint {folder} ({reason})", stacklevel=2)
            continue
        try:
            state = json.loads(state_file.read_text(encoding="utf-8"))
            epoch = float(state["epoch"])
        except FileNotFoundError as err:
            raise InputError(f"{state_file}: missing; is {folder} a Trainer checkpoint?") from err
        except (ValueError, KeyError, TypeError) as err:
            raise InputError(f"{state_file}: no readable 'epoch' ({err})") from err
        found.append({"path": str(folder), "name": folder.name, "epoch": epoch, "step": state.get("global_step")})
    found.sort(key=lambda c: c["epoch"])
    chosen = [c for c in found if min_epoch - 1e-6 <= c["epoch"] <= max_epoch + 1e-6]
    if not chosen:
        have = ", ".join(f"{c['name']} (epoch {c['epoch']:g})" for c in found) or "none"
        raise InputError(f"{run_dir}: no checkpoint between epochs {min_epoch:g} and {max_epoch:g} (found: {have})")
    return chosen


def _load(checkpoint: dict, run_dir: Path, device: str | None, engine: BackendArguments):
    path = Path(checkpoint["path"])
    has_tokenizer = any((path / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json"))
    # older Trainer versions save the tokenizer only with the final model
    return engine.load(path, tokenizer=None if has_tokenizer else run_dir, device=device)


CRITERIA = ("likert", "instructions")


def select_checkpoint(
    run_dir: str | os.PathLike,
    dev_prompts: str | os.PathLike | None,
    output_dir: str | os.PathLike,
    judge,
    *,
    criterion: str = "likert",
    min_epoch: float = 5,
    max_epoch: float = 10,
    split: str = "validation",
    limit: int | None = None,
    sampling: SamplingConfig | None = None,
    template_path: str | os.PathLike | None = None,
    retries: int = 2,
    device: str | None = None,
    progress: bool = True,
    backend: BackendArguments | None = None,
) -> dict[str, Any]:
    """Answer and grade the dev prompts with each checkpoint in range; write ``selection.json``/``.md`` and
    ``checkpoints.png`` in ``output_dir`` and return the selection (``chosen`` is ``None`` until graded).

    ``criterion``: ``"likert"`` (the paper: the judge's mean helpfulness on ``dev_prompts``) or
    ``"instructions"`` (no judge: prompt-level strict instruction accuracy on ``dev_prompts``, an
    IFEval-schema JSONL, ``None`` for the bundled set).
    ``backend`` chooses the generation backend and its engine options (default: transformers)."""
    if criterion not in CRITERIA:
        raise InputError(f"unknown checkpoint-selection criterion {criterion!r} (choose from {', '.join(CRITERIA)})")
    run_dir, output_dir = Path(run_dir), Path(output_dir)
    checkpoints = find_checkpoints(run_dir, min_epoch, max_epoch)
    if criterion == "instructions":
        from lima_hf.evaluation.instruction_checks import (
            bundled_prompts_path,
            load_instruction_prompts,
        )

        dev_prompts = bundled_prompts_path() if dev_prompts in (None, "bundled") else Path(dev_prompts)
        load_instruction_prompts(dev_prompts)  # a bad file stops here, before any answer is generated
    elif dev_prompts is None:
        raise InputError("the likert criterion needs dev prompts (a dataset folder or a prompts JSONL)")
    prompts = load_prompts(dev_prompts, split=split, limit=limit)
    answers = {}
    for checkpoint in checkpoints:
        path = output_dir / "answers" / f"{checkpoint['name']}.jsonl"
        if progress:
            print(f"{checkpoint['name']} (epoch {checkpoint['epoch']:g}): answering {len(prompts)} dev prompts")
        generator = _load(checkpoint, run_dir, device, backend or BackendArguments())
        try:
            generate_responses(generator, None, prompts, path, sampling, model_name=checkpoint["path"],
                               progress=progress)
        finally:
            generator.close()
        del generator
        gc.collect()
        answers[checkpoint["name"]] = path
    selection: dict[str, Any] = {
        "run_dir": str(run_dir),
        "dev_prompts": str(dev_prompts),
        "epochs": [min_epoch, max_epoch],
        "criterion": criterion,
    }
    if criterion == "instructions":
        return _select_by_instructions(selection, checkpoints, answers, dev_prompts, output_dir, progress)
    try:
        figures = run_likert(
            answers, output_dir / "likert", judge, template_path=template_path, retries=retries, progress=progress
        )
    except LabelsPending as pending:
        figures, waiting = None, str(pending)
    if figures is None:
        selection.update(
            chosen=None,
            checkpoints=checkpoints,
            note=f"waiting for people's labels: {waiting}",
        )
    else:
        for checkpoint in checkpoints:
            checkpoint["likert"] = figures["systems"][checkpoint["name"]]
        graded = [c for c in checkpoints if not math.isnan(c["likert"]["mean"])]
        best = max(graded, key=lambda c: (c["likert"]["mean"], -c["epoch"])) if graded else None
        selection.update(
            chosen=best and best["path"],
            chosen_epoch=best and best["epoch"],
            judge=figures["judge"],
            checkpoints=checkpoints,
        )
        from lima_hf.evaluation.plots import plot_checkpoints

        plot_checkpoints(
            [c["epoch"] for c in checkpoints],
            [c["likert"] for c in checkpoints],
            best and best["epoch"],
            output_dir / "checkpoints.png",
        )
    _write(output_dir, selection)
    return selection


def _select_by_instructions(selection: dict, checkpoints: list[dict], answers: dict, prompts: Path,
                            output_dir: Path, progress: bool) -> dict[str, Any]:
    """The checkpoint whose answers follow the most prompts' instructions (strict), the earlier one on a tie."""
    from lima_hf.evaluation.plots import plot_checkpoints
    from lima_hf.evaluation.protocols.instruction_following import InstructionFollowing

    figures = InstructionFollowing(None, output_dir / "instructions", prompts=str(prompts), progress=progress).run(answers)
    for checkpoint in checkpoints:
        checkpoint["instructions"] = figures["systems"][checkpoint["name"]]
    best = max(checkpoints, key=lambda c: (c["instructions"]["prompt_strict"], -c["epoch"]))
    selection.update(chosen=best["path"], chosen_epoch=best["epoch"], judge=figures["checkers"], checkpoints=checkpoints)
    scores = [{"mean": 100 * c["instructions"]["prompt_strict"],
               "interval_95": [100 * v for v in c["instructions"]["intervals_95"]["prompt_strict"]]} for c in checkpoints]
    plot_checkpoints([c["epoch"] for c in checkpoints], scores, best["epoch"], output_dir / "checkpoints.png",
                     ylabel="dev instructions followed, prompt-level strict (%)", ylim=(0, 100))
    _write(output_dir, selection)
    return selection


def _write(output_dir: Path, selection: dict) -> None:
    from lima_hf.evaluation.reports import jsonable, num

    with atomic_open(output_dir / "selection.json") as handle:
        json.dump(jsonable(selection), handle, indent=2)
        handle.write("\n")
    lines = ["# Checkpoint selection", ""]
    by_instructions = selection.get("criterion") == "instructions"
    if selection["chosen"]:
        what = ("highest prompt-level strict instruction accuracy" if by_instructions
                else "highest mean dev helpfulness")
        chosen = (
            f"**Chosen: `{selection['chosen']}`** (epoch {selection['chosen_epoch']:g}), "
            f"{what} (judge: {selection['judge']})."
        )
        lines += [chosen, ""]
    else:
        lines += [selection.get("note", "no checkpoint could be graded"), ""]
    if by_instructions:
        from lima_hf.evaluation.reports import pct

        lines += ["| checkpoint | epoch | step | prompt-level strict | prompt-level loose | instruction-level strict "
                  "| cut at the token limit |", "|---|---|---|---|---|---|---|"]
        for c in selection["checkpoints"]:
            s = c["instructions"]
            lines.append(f"| {c['name']} | {c['epoch']:g} | {c['step']} | "
                         f"{pct(s['prompt_strict'], s['intervals_95']['prompt_strict'])} | {pct(s['prompt_loose'])} | "
                         f"{pct(s['instruction_strict'])} | {s['cut_at_limit']} |")
        lines += ["", "![checkpoints](checkpoints.png)"]
        with atomic_open(output_dir / "selection.md") as handle:
            handle.write("\n".join(lines) + "\n")
        return
    lines += [
        "| checkpoint | epoch | step | mean helpfulness (1-6) | 95% interval | unparsed |",
        "|---|---|---|---|---|---|",
    ]
    for c in selection["checkpoints"]:
        s = c.get("likert")
        cells = (
            f"{num(s['mean'])} | [{num(s['interval_95'][0])}, {num(s['interval_95'][1])}] | {s['unparsed']}"
            if s
            else "- | - | -"
        )
        lines.append(f"| {c['name']} | {c['epoch']:g} | {c['step']} | {cells} |")
    if selection["chosen"]:
        lines += ["", "![checkpoints](checkpoints.png)"]
    with atomic_open(output_dir / "selection.md") as handle:
        handle.write("\n".join(lines) + "\n")
