"""`lima-hf generate` + `lima-hf evaluate` end to end on the bundled model with a tiny local judge, and
`lima-hf select-checkpoint` on tiny checkpoints."""

import json

import pytest

from lima_hf.chat import setup_eot_chat_format
from lima_hf.cli import main
from lima_hf.models import tiny_llama


@pytest.fixture
def tiny_chat_dir(model_folder):
    """Conftest's tiny chat model, as a folder named ``tiny``: the judge and the baseline (named by its folder)."""
    return model_folder.rename(model_folder.with_name("tiny"))


@pytest.fixture
def prompts_file(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text(
        json.dumps({"id": "t1", "prompt": "How do I boil an egg?"})
        + "\n"
        + json.dumps({"id": "t2", "prompt": "Write a haiku about the sea."})
        + "\n"
    )
    return path


@pytest.mark.slow
def test_generate_then_evaluate_end_to_end(tmp_path, bundled_model, tiny_chat_dir, prompts_file, capsys):
    ours, base = tmp_path / "ours.jsonl", tmp_path / "base.jsonl"
    gen = ["--prompts", str(prompts_file), "--max_new_tokens", "8", "--batch_size", "2"]
    assert main(["generate", "--model", "bundled", "--output", str(ours), *gen]) == 0
    assert main(["generate", "--model", str(tiny_chat_dir), "--output", str(base), *gen]) == 0
    assert len(ours.read_text().splitlines()) == 2 and len(base.read_text().splitlines()) == 2

    judge = ["--judge", "local", "--judge_model", str(tiny_chat_dir)]
    report = tmp_path / "pairwise"
    assert (
        main(
            [
                "evaluate",
                "pairwise",
                "--responses",
                str(ours),
                "--baselines",
                f"tiny={base}",
                "--name",
                "smol",
                *judge,
                "--judge_mode",
                "choice",
                "--bootstrap",
                "50",
                "--output_dir",
                str(report),
            ]
        )
        == 0
    )
    figures = json.loads((report / "report.json").read_text())
    counts = figures["baselines"]["tiny"]["counts"]
    assert sum(counts.values()) == 2 and counts["unparsed"] == 0  # a choice judge always answers
    assert figures["baselines"]["tiny"]["position"]["verdicts"] == 4  # both orders of both pairs
    assert "| tiny |" in (report / "report.md").read_text()
    assert (report / "preference.png").read_bytes()[:4] == b"\x89PNG"

    likert = tmp_path / "likert"
    assert (
        main(
            [
                "evaluate",
                "likert",
                "--responses",
                f"smol={ours}",
                f"tiny={base}",
                *judge,
                "--judge_mode",
                "generate",
                "--judge_max_tokens",
                "3",
                "--retries",
                "1",
                "--output_dir",
                str(likert),
            ]
        )
        == 0
    )
    systems = json.loads((likert / "report.json").read_text())["systems"]
    assert all(s["n"] + s["unparsed"] == 2 for s in systems.values())  # a random judge's garbage is counted
    assert (likert / "likert.png").is_file() and "| smol |" in (likert / "report.md").read_text()
    # the report says which prompts each system answered (recorded by generate)
    assert f"smol answered 2 prompts x 1 samples, {prompts_file}" in (likert / "report.md").read_text()

    absolute = tmp_path / "absolute"
    assert (
        main(
            [
                "evaluate",
                "absolute",
                "--responses",
                str(ours),
                *judge,
                "--judge_mode",
                "choice",
                "--sample_size",
                "1",
                "--bootstrap",
                "20",
                "--output_dir",
                str(absolute),
            ]
        )
        == 0
    )
    assert json.loads((absolute / "report.json").read_text())["systems"]["ours"]["n"] == 1
    assert (absolute / "absolute.png").is_file()


def test_evaluate_usage_errors(tmp_path, capsys):
    assert main(["evaluate"]) == 2
    assert "choose what to evaluate" in capsys.readouterr().err
    assert (
        main(
            [
                "evaluate",
                "pairwise",
                "--responses",
                str(tmp_path / "missing.jsonl"),
                "--baselines",
                "x=y",
                "--judge",
                "people",
                "--output_dir",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "file not found" in capsys.readouterr().err
    assert (
        main(["evaluate", "likert", "--responses", "a.jsonl", "--judge", "http", "--output_dir", str(tmp_path)]) == 2
    )
    assert "--judge http needs --judge_model" in capsys.readouterr().err


def _checkpoint(run_dir, step, epoch, seed, tokenizer):
    model, tok = setup_eot_chat_format(*tiny_llama(tokenizer, seed=seed))
    folder = run_dir / f"checkpoint-{step}"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    (folder / "trainer_state.json").write_text(json.dumps({"epoch": epoch, "global_step": step}))


def test_select_checkpoint_on_tiny_checkpoints(tmp_path, bundled_tokenizer, tiny_chat_dir, prompts_file):
    import copy

    run = tmp_path / "run"
    for step, epoch, seed in ((10, 5.0, 1), (20, 6.0, 2), (30, 11.0, 3)):
        _checkpoint(run, step, epoch, seed, copy.deepcopy(bundled_tokenizer))
    out = tmp_path / "selection"

    def select(output, *options):
        return main(["select-checkpoint", "--run_dir", str(run), "--dev_prompts", str(prompts_file), "--output_dir",
                     str(output), *options])

    assert select(out, "--max_new_tokens", "4", "--judge", "local", "--judge_model", str(tiny_chat_dir),
                  "--judge_mode", "choice") == 0
    selection = json.loads((out / "selection.json").read_text())
    assert [c["name"] for c in selection["checkpoints"]] == [
        "checkpoint-10",
        "checkpoint-20",
    ]  # epoch 11 is out of range
    best = max(selection["checkpoints"], key=lambda c: (c["likert"]["mean"], -c["epoch"]))
    assert selection["chosen"] == str(run / best["name"])
    assert f"`{selection['chosen']}`" in (out / "selection.md").read_text()
    assert (out / "checkpoints.png").is_file() and len(
        (out / "answers" / "checkpoint-10.jsonl").read_text().splitlines()
    ) == 2

    people = tmp_path / "people"
    assert select(people, "--max_new_tokens", "2", "--judge", "people") == 0
    assert json.loads((people / "selection.json").read_text())["chosen"] is None
    assert (people / "likert" / "annotation" / "checkpoint-20" / "annotation.csv").is_file()


def test_select_checkpoint_errors(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "checkpoint-5").mkdir(parents=True)
    (run / "checkpoint-5" / "trainer_state.json").write_text(json.dumps({"epoch": 2.0}))
    with pytest.warns(UserWarning, match=r"skipping incomplete checkpoint .*checkpoint-5 \(no model weights\)"):
        code = main(
            [
                "select-checkpoint",
                "--run_dir",
                str(run),
                "--dev_prompts",
                "x",
                "--output_dir",
                str(tmp_path / "o"),
                "--judge",
                "people",
            ]
        )
    assert code == 1
    err = capsys.readouterr().err
    assert "no checkpoint between epochs 5 and 10 (found: none)" in err


def test_quick_evaluation(tmp_path, tiny_chat_dir, prompts_file):
    from lima_hf.evaluation import run_quick_evaluation

    result = run_quick_evaluation(
        tiny_chat_dir, prompts_file, tmp_path / "eval", baseline_model=tiny_chat_dir, judge_model=tiny_chat_dir,
        num_prompts=2, max_new_tokens=3, progress=False,
    )
    assert sum(result["pairwise"]["baselines"]["baseline"]["counts"].values()) == 2
    assert set(result["likert"]["systems"]) == {"model", "baseline"}
    for folder, plot in (("pairwise", "preference.png"), ("likert", "likert.png")):
        assert {"report.json", "report.md", plot} <= {p.name for p in (tmp_path / "eval" / folder).iterdir()}
    assert len((tmp_path / "eval" / "answers" / "model.jsonl").read_text().splitlines()) == 2
