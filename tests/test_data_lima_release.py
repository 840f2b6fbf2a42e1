"""Importing the released LIMA data (GAIR/lima layout) and exporting ours back to it."""

import json
from collections import Counter

import pytest

from lima_hf.data.loading import load_lima_dataset
from lima_hf.data.sources import lima_release
from lima_hf.errors import InputError


@pytest.mark.shared_data
def test_release_import_and_export_round_trip(shared_data, tmp_path):
    path = shared_data / "lima" / "train.jsonl"
    result = lima_release.curate(lima_release.Config(input=str(path)))
    assert len(result.records) == 1000 and len(result.extras["multi_turn"]) == 30
    assert Counter(r["source"] for r in result.records) == {
        "stackexchange": 400,
        "authors": 200,
        "wikihow": 200,
        "writingprompts": 150,
        "nlp": 50,
    }
    assert {r["source"] for r in result.extras["multi_turn"]} == {"multi_turn"}
    assert all(r["messages"][0]["role"] == "user" and r["messages"][1]["role"] == "assistant" for r in result.records)
    out = tmp_path / "export.jsonl"
    assert lima_release.export_release(out, result.records, result.extras["multi_turn"]) == 1030
    original = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == original
    dataset = load_lima_dataset(path)
    assert len(dataset["train"]) == 1000


def test_release_export_maps_our_source_names():
    record = {
        "source": "natural_instructions",
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
    }
    assert lima_release.to_release_row(record) == {"conversations": ["q", "a"], "source": "nlp"}
    assert lima_release.to_release_row(dict(record, source="authored"))["source"] == "authors"


def test_release_malformed_rows(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"conversations": ["q", "a"], "source": "nlp"}\n{"conversations": [], "source": "nlp"}\n')
    with pytest.raises(InputError, match=r"train.jsonl:2: 'conversations' must be a non-empty list"):
        lima_release.curate(lima_release.Config(input=str(path)))
    result = lima_release.curate(lima_release.Config(input=str(path), on_error="skip"))
    assert len(result.records) == 1 and result.rejections[0]["id"] == "train.jsonl:2"
