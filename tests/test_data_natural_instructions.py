"""Super-NaturalInstructions: current and older task-file formats, the split, the category filter."""

import json

import pytest

from lima_hf.data.sources import natural_instructions as ni
from lima_hf.errors import InputError

SAMPLES = ni.Path(ni.__file__).resolve().parents[2] / "resources" / "samples" / "natural-instructions"


def _curate(path, **kw):
    return ni.curate(ni.Config(input=str(path), **kw))


def test_sample_layout_both_formats():
    result = _curate(SAMPLES)
    records = {json.loads(r["metadata"])["task"]: r for r in result.records}
    assert set(records) == {
        "task9001_lima_hf_sentence_paraphrasing",
        "task9002_lima_hf_formal_to_casual",
        "task9003_lima_hf_meeting_notes_summarization",
    }
    old = records["task9002_lima_hf_formal_to_casual"]  # string Definition, "Text Modification -> Style Transfer"
    assert old["category"] == "Style Transfer"
    assert old["messages"][0]["content"].startswith(
        "In this task, you are given a sentence written in a formal register."
    )
    current = records["task9001_lima_hf_sentence_paraphrasing"]
    prompt, response = (m["content"] for m in current["messages"])
    definition, _ = prompt.split("\n\n")
    assert definition.startswith("In this task") and response
    assert current["license"] == "CC BY 4.0" and current["url"].endswith(
        "tasks/task9001_lima_hf_sentence_paraphrasing.json"
    )
    reasons = {r["id"].split("/")[-1]: r["reason"] for r in result.rejections}
    assert reasons == {
        "task9004_lima_hf_review_sentiment": "not_generation",
        "task9005_lima_hf_paragraph_title_generation": "not_in_train_split",
    }
    assert "task9003-2" not in {r["source_id"] for r in result.records}  # the instance without an output
    assert [r["id"] for r in _curate(SAMPLES, count=2).records] == [r["id"] for r in result.records][:2]


@pytest.mark.shared_data
def test_real_task_files(shared_data, tmp_path):
    root = shared_data / "super_natural_instructions"
    assert _curate(root).records == []  # both real tasks are test-split tasks
    result = _curate(root / "tasks", seed=3)
    assert len(result.records) == 2
    record = result.records[0]
    assert record["category"] == "Question Rewriting" and record["license"]
    task = json.loads((root / "tasks" / f"{json.loads(record['metadata'])['task']}.json").read_text())
    instance = next(i for i in task["Instances"] if i["id"] == record["source_id"])
    assert record["messages"][0]["content"] == task["Definition"][0] + "\n\n" + instance["input"]
    assert record["messages"][1]["content"] == instance["output"][0]


def test_bad_task_files(tmp_path):
    (tmp_path / "task1_x.json").write_text('{"Definition": "d", "Categories": ["Summarization"]}')
    with pytest.raises(InputError, match=r"task1_x.json: missing field 'Instances'"):
        _curate(tmp_path)
    (tmp_path / "task1_x.json").write_text('{"Definition": "d", "Instances": [}')
    with pytest.raises(InputError, match=r"task1_x.json:1: malformed JSON"):
        _curate(tmp_path)
    result = _curate(tmp_path, on_error="skip")
    assert result.records == [] and result.rejections[0]["reason"] == "malformed"
