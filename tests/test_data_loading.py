"""The one reader: every input kind goes through load_lima_dataset and comes out as the same records."""

import json

import datasets
import pyarrow.parquet as pq
import pytest

from lima_hf.data import loading
from lima_hf.data.dataset_folder import records_table, write_dataset_folder
from lima_hf.data.records import RECORD_COLUMNS, make_record
from lima_hf.errors import InputError
from lima_hf.io import write_jsonl

PAIR = [{"role": "user", "content": "What is LIMA?"}, {"role": "assistant", "content": "A small SFT set."}]


def _record(i):
    return make_record(id=f"r/{i}", source="authored", messages=PAIR, license="CC BY 4.0")


def _same_records(data, split="train"):
    assert list(data[split].column_names) == list(RECORD_COLUMNS)
    return data[split].to_list()


def test_every_input_kind_gives_records(tmp_path):
    records = [_record(i) for i in range(2)]
    folder = write_dataset_folder(tmp_path / "built", {"default": {"train": records, "test": records[:1]}})
    jsonl = tmp_path / "records.jsonl"
    write_jsonl(jsonl, records)
    parquet = tmp_path / "records.parquet"
    pq.write_table(records_table(records), parquet)
    for source in (folder, jsonl, parquet):
        assert _same_records(loading.load_lima_dataset(source)) == records
    release = tmp_path / "train.jsonl"
    release.write_text(json.dumps({"conversations": ["What is LIMA?", "A small SFT set."], "source": "nlp"}) + "\n")
    (row,) = _same_records(loading.load_lima_dataset(release))
    assert row["messages"] == PAIR and row["source"] == "nlp" and row["id"] == "lima_release/train/1"
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"prompt": "What is LIMA?", "topic": "ml"}) + "\n")
    (row,) = _same_records(loading.load_lima_dataset(prompts, needs="prompt"))
    assert row["id"] == "prompts/1" and row["messages"] == PAIR[:1] and json.loads(row["metadata"]) == {"topic": "ml"}


def test_hub_ids_and_plain_folders_go_through_datasets(tmp_path, monkeypatch):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "train.jsonl").write_text(json.dumps({"messages": PAIR, "extra": 1}) + "\n")
    (row,) = _same_records(loading.load_lima_dataset(plain))
    assert row["id"] == "train/0" and json.loads(row["metadata"]) == {"extra": 1}
    calls = []

    def fake_load_dataset(name, config):
        calls.append((name, config))
        return datasets.DatasetDict({"train": datasets.Dataset.from_list([{"messages": PAIR, "source": "hub"}])})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    (row,) = _same_records(loading.load_lima_dataset("org/data"))
    assert calls == [("org/data", "default")] and row["source"] == "hub" and row["messages"] == PAIR


def test_rows_that_do_not_qualify_are_named_or_skipped(tmp_path):
    path = tmp_path / "pool.jsonl"
    rows = [{"id": "a", "messages": PAIR}, {"id": "b", "messages": PAIR[:1]}, {"id": "a", "messages": PAIR}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InputError, match=r"pool\.jsonl:3 \(id a\): duplicate id 'a' \(also at 1\)"):
        loading.load_lima_dataset(path)
    skipped = []
    data = loading.load_lima_dataset(path, needs="conversation", on_error="skip", rejections=skipped)
    assert [r["id"] for r in data["train"]] == ["a"]
    assert [(r["id"], r["reason"]) for r in skipped] == [("b", "malformed"), ("a", "malformed")]
    assert skipped[0]["detail"].endswith("pool.jsonl:2 (id b): needs a non-empty user turn and a non-empty assistant turn")
