"""The `evaluate` metric modules shipped in the package load offline with `evaluate.load(path)`."""

from pathlib import Path

import evaluate
import pytest

from lima_hf.evaluation.metrics import METRICS, metric_path


def test_metric_modules_are_package_files():
    for name in METRICS:
        assert (Path(metric_path(name)) / f"{name}.py").is_file()
    with pytest.raises(ValueError, match="unknown metric"):
        metric_path("bleu")


def test_preference_metric_offline():
    metric = evaluate.load(metric_path("lima_preference"))
    result = metric.compute(
        ours_first=["A better", "A better", "B better", "Choice: 3", "garbage"],
        baseline_first=["B better", "A better", "A better", "neither", "B better"],
        n_resamples=100,
    )
    assert (
        result["win"] == pytest.approx(0.25)
        and result["tie"] == pytest.approx(0.5)
        and result["loss"] == pytest.approx(0.25)
    )
    assert result["unparsed"] == 1
    assert result["agreement"] == pytest.approx(0.75)
    assert 0 <= result["win_ci"][0] <= 0.25 <= result["win_ci"][1] <= 1


def test_likert_metric_offline_scores_and_replies():
    metric = evaluate.load(metric_path("lima_likert"))
    result = metric.compute(scores=[2, 4, 4, 6])
    assert result["mean"] == 4.0 and result["n"] == 4 and result["unparsed"] == 0
    assert result["ci"][0] == pytest.approx(4 - 1.959963984540054 * (8 / 3) ** 0.5 / 2)
    replies = metric.compute(scores=["Reasoning...\n5\n5", "no score here", "Score: 3", "9"])
    assert replies["mean"] == 4.0 and replies["n"] == 2 and replies["unparsed"] == 2


def test_metric_modules_load_and_compute_where_lima_hf_cannot_be_imported(tmp_path):
    """As a module on the Hub would be: a fresh process whose import system refuses lima_hf."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    for name in METRICS:  # copies, as an upload would make (the helper files are links inside the package)
        shutil.copytree(metric_path(name), tmp_path / name, symlinks=False)
    script = f"""
import json, sys
class NoLimaHf:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "lima_hf":
            raise ImportError("lima_hf is hidden")
sys.meta_path.insert(0, NoLimaHf())
import evaluate
likert = evaluate.load({str(tmp_path / "lima_likert")!r}).compute(scores=["Score: 3", 5])
preference = evaluate.load({str(tmp_path / "lima_preference")!r}).compute(
    ours_first=["A better", "neither"], baseline_first=["B better", "A better"], n_resamples=10)
print(json.dumps({{"likert": likert["mean"], "win": preference["win"]}}))
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path,
                             timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    assert json.loads(process.stdout.strip().splitlines()[-1]) == {"likert": 4.0, "win": 0.5}
