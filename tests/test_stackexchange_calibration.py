"""The calibration report: every answer rule over the released LIMA Stack Exchange answers."""

import importlib.util
import json
from pathlib import Path

import pytest

from lima_hf.data.sources.stackexchange.calibration import (
    calibrate,
    calibration_json,
    read_rebuild_answers,
    read_release_answers,
)
from lima_hf.errors import InputError
from lima_hf.io import write_jsonl

SCRIPT = Path(__file__).resolve().parent.parent / "dataset_scripts" / "calibrate.py"


def _main():
    spec = importlib.util.spec_from_file_location("calibrate", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_release_pass_counts_per_rule(shared_data):
    report = calibrate(read_release_answers(shared_data / "lima" / "train.jsonl"))
    passed = {r.rule: r.passed for r in report.rules}
    assert report.checked == 400
    assert passed == {"answer_too_short": 355, "answer_too_long": 397, "first_person": 362, "other_answers": 389,
                      "leans_on_removed_content": 399}
    assert report.passed_all == 308
    first_person = next(r for r in report.rules if r.rule == "first_person")
    assert first_person.examples[0] == ("train.jsonl:4", "I'll", first_person.examples[0][2])
    assert report.distributions[0].length_quantiles[0.5] == pytest.approx(1654, abs=1)


def test_script_compares_a_rebuild_with_the_release(tmp_path, capsys):
    release = tmp_path / "train.jsonl"
    release.write_text("\n".join(json.dumps({"conversations": c, "source": s}) for c, s in [
        (["q1", "I think so. " + "x" * 1300], "stackexchange"),
        (["q2", "Short."], "stackexchange"),
        (["q3", "y" * 1500], "stackexchange"),
        (["q4", "w" * 1500], "wikihow"),
        (["q5", "a", "b", "c"], "stackexchange"),  # multi-turn rows are not answers of the source
    ]) + "\n")
    rebuild = tmp_path / "se.jsonl"
    write_jsonl(rebuild, [{"id": "stackexchange/x/a/1", "messages": [{"role": "user", "content": "q"},
                                                                   {"role": "assistant", "content": "z" * 2000}]}])
    out = tmp_path / "calibration.json"
    assert _main()(["--release", str(release), "--rebuild", str(rebuild), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "first_person" in printed and "rebuild (1)" in printed
    report = json.loads(out.read_text())
    assert report["checked"] == 3 and report["passed_all"] == 1
    rules = {r["rule"]: r for r in report["rules"]}
    assert rules["first_person"]["passed"] == 2 and rules["first_person"]["examples"][0]["id"] == "train.jsonl:1"
    assert rules["answer_too_short"]["examples"][0]["why"] == "6 characters"
    assert [d["name"] for d in report["distributions"]] == ["release", "rebuild"]
    assert report["distributions"][1]["in_window"] == 1.0
    assert calibration_json(calibrate(read_release_answers(release), read_rebuild_answers(rebuild)))["checked"] == 3


def test_bad_inputs_name_the_file(tmp_path, capsys):
    bad = tmp_path / "train.jsonl"
    bad.write_text('{"conversations": ["a", "b"], "source": "wikihow"}\n')
    with pytest.raises(InputError, match="no single-turn rows with source 'stackexchange'"):
        read_release_answers(bad)
    bad.write_text("not json\n")
    assert _main()(["--release", str(bad)]) == 1
    assert f"{bad}:1: not a GAIR/lima row" in capsys.readouterr().err
