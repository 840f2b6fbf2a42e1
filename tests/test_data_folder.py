"""The Hub-ready dataset folder, reading records back, and load_lima_dataset for every kind of input."""

import json

import datasets
import pytest

from lima_hf.data.dataset_folder import write_dataset_folder
from lima_hf.data.loading import load_lima_dataset, read_records
from lima_hf.data.records import RECORD_COLUMNS, make_record
from lima_hf.errors import InputError
from lima_hf.io import OutputRefusedError, write_jsonl


def _record(i, source="authored", turns=2):
    messages = [
        {"role": "user" if t % 2 == 0 else "assistant", "content": f"{source} {i} turn {t}"} for t in range(turns)
    ]
    return make_record(id=f"{source}/{i}", source=source, messages=messages, url=f"https://example.org/{i}", score=i)


@pytest.fixture
def configs():
    return {
        "default": {
            "train": [_record(i) for i in range(3)],
            "dev": [_record(10, "dev")],
            "test": [_record(20, "test", turns=1)],
        },
        "multi_turn": {"train": [_record(30, "multi", turns=4)]},
    }


def test_folder_loads_with_datasets(tmp_path, configs):
    out = write_dataset_folder(tmp_path / "lima", configs, card="---\nlicense: other\n---\n# My card\n")
    assert (out / "data/default/train-00000-of-00001.parquet").is_file()
    assert (out / "data/multi_turn/train-00000-of-00001.parquet").is_file()
    readme = (out / "README.md").read_text()
    assert "license: other" in readme and "# My card" in readme and "config_name: multi_turn" in readme
    default = datasets.load_dataset(str(out))
    assert {name: len(split) for name, split in default.items()} == {"train": 3, "dev": 1, "test": 1}
    assert default["train"][0]["messages"] == configs["default"]["train"][0]["messages"]
    assert list(default["train"].column_names) == list(RECORD_COLUMNS)
    multi = datasets.load_dataset(str(out), "multi_turn")
    assert len(multi["train"]) == 1 and len(multi["train"][0]["messages"]) == 4
    assert len(load_lima_dataset(out, "multi_turn")["train"]) == 1


def test_the_old_split_name_dev_is_read_as_validation_and_announced(tmp_path, configs):
    out = write_dataset_folder(tmp_path / "lima", configs)  # a folder of an earlier version: a `dev` split
    with pytest.warns(FutureWarning, match="the split 'dev' is now 'validation'; lima-hf 0.3 removes the old form"):
        assert load_lima_dataset(out)["validation"][0]["source"] == "dev"
    with pytest.warns(FutureWarning, match="the split 'dev' is now 'validation'"):
        assert read_records(out, split="validation")[0]["source"] == "dev"
    configs["default"]["validation"] = configs["default"].pop("dev")
    out = write_dataset_folder(tmp_path / "new", configs)
    assert read_records(out, split="dev")[0]["source"] == "dev"  # and the old name still finds the new split


def test_folder_is_replaced_atomically_and_other_folders_refused(tmp_path, configs):
    out = write_dataset_folder(tmp_path / "lima", configs, None, files={"plot.png": b"PNG"})
    assert (out / "plot.png").read_bytes() == b"PNG"
    configs["default"]["train"] = configs["default"]["train"][:1]
    write_dataset_folder(out, configs, None)
    assert len(read_records(out, split="train")) == 1
    assert not (out / "plot.png").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["lima"]  # no staging or old folder left behind
    other = tmp_path / "precious"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(OutputRefusedError, match="refusing"):
        write_dataset_folder(other, configs, None)
    assert (other / "notes.txt").read_text() == "keep me"


def test_failed_write_leaves_previous_folder(tmp_path, configs):
    out = write_dataset_folder(tmp_path / "lima", configs, None)
    broken = {"default": {"train": [{"id": "x", "source": "s"}]}}  # no messages
    with pytest.raises(ValueError, match=r"default/train\[0\].*messages"):
        write_dataset_folder(out, broken, None)
    assert len(read_records(out)) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lima"]


def test_read_records_from_folder_and_jsonl(tmp_path, configs):
    out = write_dataset_folder(tmp_path / "lima", configs, None)
    assert [r["id"] for r in read_records(out)] == ["authored/0", "authored/1", "authored/2", "dev/10", "test/20"]
    assert read_records(out, config="multi_turn")[0]["id"] == "multi/30"
    with pytest.raises(InputError, match="no config 'nope'"):
        read_records(out, config="nope")
    path = tmp_path / "records.jsonl"
    write_jsonl(path, configs["default"]["train"])
    assert read_records(path) == configs["default"]["train"]
    assert len(load_lima_dataset(path)["train"]) == 3
    path.write_text(path.read_text() + '{"id": "bad"}\n')
    with pytest.raises(InputError, match=r"records.jsonl:4 \(id bad\): not a record"):
        read_records(path)


def test_load_release_layout(tmp_path):
    rows = [
        {"conversations": ["How to X?", "Like this."], "source": "wikihow"},
        {"conversations": ["Hi", "Hello", "More?", "Sure."], "source": "multi_turn"},
    ]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "test.jsonl").write_text(
        json.dumps({"conversations": ["Tell me a joke."], "source": "AskReddit"}) + "\n"
    )
    default = load_lima_dataset(tmp_path)
    assert len(default["train"]) == 1 and default["train"][0]["source"] == "wikihow"
    assert default["test"][0]["messages"] == [{"role": "user", "content": "Tell me a joke."}]
    assert load_lima_dataset(tmp_path, "multi_turn")["train"][0]["messages"][3]["content"] == "Sure."


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        load_lima_dataset(str(tmp_path / "missing" / "folder"))
