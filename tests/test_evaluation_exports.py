"""`lima-hf export`: answers read by AlpacaEval's and FastChat's (MT-Bench) own readers; our length-controlled
preference against AlpacaEval 2's own GLM code on a fixed example."""

import json
import sys
import types
from importlib.metadata import version

import numpy as np
import pytest

from lima_hf.cli import main
from lima_hf.evaluation.stats import length_controlled_win_rate


def _shim_missing_modules(monkeypatch):
    """AlpacaEval 0.6.6 imports ``pkg_resources`` (gone from setuptools >= 81) for two version helpers, and
    FastChat's MT-Bench module imports the ``anthropic`` SDK for its Claude judge at import time. Neither is
    used by the readers tested here; stand-ins let them import without changing the environment's setuptools."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        from packaging.version import parse

        shim = types.ModuleType("pkg_resources")
        shim.parse_version = parse
        shim.get_distribution = lambda name: types.SimpleNamespace(version=version(name))
        monkeypatch.setitem(sys.modules, "pkg_resources", shim)  # undone after the test
    try:
        import anthropic  # noqa: F401
    except ImportError:
        monkeypatch.setitem(sys.modules, "anthropic", types.ModuleType("anthropic"))


@pytest.fixture
def answers(tmp_path):
    rows = [
        {"id": "81", "sample": 0, "prompt": "Write a travel blog post about Hawaii.", "response": "Aloha! ...",
         "messages": [{"role": "user", "content": "Write a travel blog post about Hawaii."},
                      {"role": "assistant", "content": "Aloha! ..."},
                      {"role": "user", "content": "Rewrite it starting every sentence with A."},
                      {"role": "assistant", "content": "A trip to Hawaii ..."}],
         "finish_reason": ["eos", "eos"], "stop_token": ["<|eot|>", "<|eot|>"], "prompt_set": "mt_bench.jsonl"},
        {"id": "82", "sample": 0, "prompt": "Draft an email asking for feedback.", "response": "Dear Ana, ...",
         "prompt_set": "mt_bench.jsonl"},
        {"id": "82", "sample": 1, "prompt": "Draft an email asking for feedback.", "response": "Hi Ana, ...",
         "prompt_set": "mt_bench.jsonl"},
    ]
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_alpaca_eval_reads_the_exported_model_outputs(answers, tmp_path, monkeypatch):
    _shim_missing_modules(monkeypatch)
    pytest.importorskip("alpaca_eval", reason="alpaca-eval is in the test extra")
    from alpaca_eval.utils import load_or_convert_to_dataframe

    output = tmp_path / "model_outputs.json"
    assert main(["export", "alpaca-eval", "--responses", str(answers), "--name", "lima", "--output", str(output)]) == 0
    frame = load_or_convert_to_dataframe(str(output))
    assert {"instruction", "output", "generator"} <= set(frame.columns)
    assert frame["output"].tolist() == ["Aloha! ...", "Dear Ana, ..."] and set(frame["generator"]) == {"lima"}
    assert frame["instruction"].tolist()[1] == "Draft an email asking for feedback."


def test_fastchat_reads_the_exported_mt_bench_answers(answers, tmp_path, monkeypatch):
    _shim_missing_modules(monkeypatch)
    pytest.importorskip("fastchat", reason="fschat is in the test extra")
    from fastchat.llm_judge.common import load_model_answers

    folder = tmp_path / "model_answer"
    output = folder / "lima-7b.jsonl"
    assert main(["export", "mt-bench", "--responses", str(answers), "--name", "lima-7b", "--output", str(output),
                 "--sample", "0"]) == 0
    loaded = load_model_answers(str(folder))  # {model: {question_id: answer}}, as gen_judgment.py reads them
    assert set(loaded) == {"lima-7b"} and set(loaded["lima-7b"]) == {81, 82}
    assert loaded["lima-7b"][81]["choices"][0]["turns"] == ["Aloha! ...", "A trip to Hawaii ..."]
    assert loaded["lima-7b"][82]["choices"][0]["turns"] == ["Dear Ana, ..."]
    assert loaded["lima-7b"][81]["model_id"] == "lima-7b"


def test_export_usage_errors(answers, tmp_path, capsys):
    assert main(["export"]) == 2
    assert main(["export", "alpaca-eval", "--responses", str(answers), "--output", str(tmp_path / "x.json")]) == 2
    assert "--name is required" in capsys.readouterr().err
    assert main(["export", "alpaca-eval", "--responses", str(answers), "--name", "m", "--output",
                 str(tmp_path / "x.json"), "--sample", "5"]) == 1
    assert "no answers with sample 5" in capsys.readouterr().err


def _fixed_pairs():
    """40 pairs with a judge that likes length, from a fixed seed."""
    rng = np.random.default_rng(7)
    pairs = []
    for k in range(40):
        ours, base = int(rng.integers(50, 1500)), int(rng.integers(50, 1500))
        p_win = 1 / (1 + np.exp(-(0.3 + 1.5 * np.tanh((ours - base) / 500))))
        draw = rng.random()
        outcome = "win" if draw < p_win * 0.9 else ("tie" if draw < p_win else "loss")
        pairs.append({"id": str(k), "outcome": outcome, "ours_response": "x" * ours, "baseline_response": "y" * base})
    return pairs


def test_length_control_matches_alpaca_eval_2_glm_on_a_fixed_example(monkeypatch):
    """AlpacaEval 2's own featurisation and fit (``length_controlled_minimal``: tanh of the standardised
    character-length difference plus an intercept; its default adds AlpacaEval's per-instruction difficulty,
    which only exists for its 805 instructions), against ``length_controlled_win_rate``."""
    _shim_missing_modules(monkeypatch)
    pytest.importorskip("alpaca_eval", reason="alpaca-eval is in the test extra")
    pytest.importorskip("sklearn")
    import pandas as pd
    from alpaca_eval.metrics.glm_winrate import GLM_INFO, fit_LogisticRegressionCV, make_dmatrix_for_model

    pairs = _fixed_pairs()
    ours = length_controlled_win_rate(pairs)
    # AlpacaEval's frame: the model is output_2 / generator_2, preference 2 = model wins, 1.5 = tie (_get_featurized_data)
    preference = pd.Series([{"win": 2.0, "tie": 0.0, "loss": 1.0}[p["outcome"]] for p in pairs])
    delta = pd.Series([len(p["baseline_response"]) - len(p["ours_response"]) for p in pairs], dtype=float)
    delta = -delta  # len(output_2) - len(output_1): the model's length minus the baseline's
    frame = pd.DataFrame({"preference": preference.replace({0.0: 1.5}) - 1, "std_delta_len": delta / delta.std(),
                          "not_gamed_baseline": True})
    test = frame[["not_gamed_baseline"]].copy()
    test["std_delta_len"] = 0
    formula = GLM_INFO["length_controlled_minimal"]["formula"]
    train, x_test = make_dmatrix_for_model(frame, test, formula=formula)
    plain = fit_LogisticRegressionCV(train, "preference", is_ytrue_proba=True, n_splits=0, C=1e6)
    theirs = plain.predict_proba(x_test)[:, 1].mean()
    assert ours["length_controlled"] == pytest.approx(theirs, abs=2e-3)
    assert ours["slope"] == pytest.approx(dict(zip(x_test.columns, plain.coef_[0]))["np.tanh(std_delta_len)"], abs=2e-2)
    # their default fit chooses an L1 penalty by 5-fold cross-validation: it shrinks the slope, so the
    # length-controlled figure moves towards the raw one, never past it
    cv = fit_LogisticRegressionCV(train, "preference", is_ytrue_proba=True, n_splits=5)
    cv_value = cv.predict_proba(x_test)[:, 1].mean()
    low, high = sorted([ours["length_controlled"], ours["raw"]])
    assert low - 2e-2 <= cv_value <= high + 2e-2
