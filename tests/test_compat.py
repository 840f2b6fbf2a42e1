"""Every compatibility shim of lima_hf.compat still reads its old form and says, with a FutureWarning, the new form and
the release that removes the old one; the new forms give no warning. (The split ``dev``, the old source spellings,
the build config's ``source:`` key, ``build-dataset --config BUILD`` and the earlier staging layout are also
checked where they are read: test_data_folder, test_data_authored, test_data_sources, test_data_builder,
test_faults_output.)"""

import importlib.util
import os
import time
import warnings
from pathlib import Path

import pytest

from lima_hf import compat
from lima_hf.cli import main
from lima_hf.evaluation.judges import PeopleJudge
from lima_hf.evaluation.judges.config import JudgeArguments, make_judge

REMOVES = f"lima-hf {compat.REMOVED_IN} removes the old form"


@pytest.mark.parametrize("shim, old, new", [
    (compat.SPLIT, "dev", "validation"),
    (compat.JUDGE, "human", "people"),
    (compat.SOURCE, "natural-instructions", "natural_instructions"),
    (compat.SOURCE, "lima-release", "lima_release"),
    (compat.SOURCE_KEY, "source", "module"),
])
def test_each_renamed_spelling_is_read_with_a_future_warning_naming_the_release(shim, old, new):
    with pytest.warns(FutureWarning, match=f"^x.yaml:3: .*'{old}' is now '{new}'; {REMOVES}$"):
        assert shim(old, "x.yaml:3") == new
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert shim(new) == new


def test_judge_human_is_the_people_judge_with_a_warning(tmp_path):
    with pytest.warns(FutureWarning, match=f"--judge 'human' is now 'people'; {REMOVES}"):
        judge = make_judge(JudgeArguments(judge="human", labels=str(tmp_path)))
    assert isinstance(judge, PeopleJudge)


def test_build_dataset_config_as_config_warns(tmp_path, capsys):
    build = tmp_path / "dataset.yaml"
    build.write_text("sources:\n  wikihwo: {input: raw}\nsplits:\n  train: []\n")
    with pytest.warns(FutureWarning, match=f"--config {build} is a build config: .*; {REMOVES}"):
        assert main(["build-dataset", "--config", str(build), "--output", str(tmp_path / "out")]) == 1
    assert "unknown source 'wikihwo'" in capsys.readouterr().err  # read as the build config it is


def test_build_lima_script_config_spelling_warns(tmp_path, capsys):
    path = Path(__file__).resolve().parents[1] / "dataset_scripts" / "build_lima.py"
    spec = importlib.util.spec_from_file_location("build_lima", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    missing = tmp_path / "missing.yaml"
    with pytest.warns(FutureWarning, match=f"build_lima.py: --config is now --dataset_config; {REMOVES}"):
        assert script.main(["--config", str(missing), "--output", str(tmp_path / "out")]) == 1
    assert f"{missing}" in capsys.readouterr().err  # the file was taken as the build config
    assert not (tmp_path / "out").exists()


def test_a_staging_folder_of_the_earlier_layout_is_cleaned_with_a_warning(tmp_path):
    stale = tmp_path / ".lima.staging-abc"
    stale.mkdir()
    hour_ago = time.time() - 7200
    os.utime(stale, (hour_ago, hour_ago))
    with pytest.warns(FutureWarning, match=f"lima: removed .lima.staging-abc, .*earlier output layout; {REMOVES}"):
        compat.recover_old_layout(tmp_path / "lima", stale)
    assert not stale.exists()
