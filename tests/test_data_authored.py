"""Authored examples: the bundled files, the JSONL/YAML format and its validation errors."""

import json

import pytest

from lima_hf.data.sources import authored
from lima_hf.errors import InputError

BUNDLED = authored.Path(authored.__file__).resolve().parents[2] / "resources" / "authored"


def _curate(path, **kw):
    return authored.curate(authored.Config(input=str(path), **kw))


def test_bundled_authored_examples():
    result = _curate(BUNDLED)
    by_split = {}
    for record in result.records:
        by_split.setdefault(record["category"], []).append(record)
    assert {k: len(v) for k, v in by_split.items()} == {"train": 8, "validation": 4, "test": 6}
    assert sum(json.loads(r["metadata"])["refusal"] for r in by_split["train"]) == 2
    assert all(len(r["messages"]) == 1 for r in by_split["test"])
    assert len(result.extras["multi_turn"]) == 2
    assert all(len(r["messages"]) >= 4 for r in result.extras["multi_turn"])
    assert all(r["author"] and r["license"] for r in result.records)
    assert not result.rejections


def _jsonl(path, *rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    "row, message",
    [
        ({"split": "train", "prompt": "Hi", "response": "  "}, r"bad.jsonl:2: message 2 \(assistant\) is empty"),
        (
            {"split": "multi_turn", "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
            r"bad.jsonl:2: turns must alternate .* message 2 is 'user'",
        ),
        ({"split": "multi_turn", "messages": ["a", "b"]}, r"bad.jsonl:2: a multi-turn dialogue needs at least two"),
        ({"split": "test", "prompt": "q", "response": "a"}, r"bad.jsonl:2: a test example is a prompt only"),
        ({"split": "holdout", "prompt": "q"}, r"bad.jsonl:2: 'split' must be one of"),
        ({"split": "train", "prompt": "q", "answer": "a"}, r"bad.jsonl:2: unknown field\(s\) answer"),
    ],
)
def test_validation_errors_name_file_and_line(tmp_path, row, message):
    path = _jsonl(tmp_path / "bad.jsonl", {"split": "dev", "prompt": "ok?", "response": "ok"}, row)
    with pytest.raises(InputError, match=message):
        _curate(path)
    result = _curate(path, on_error="skip")
    assert len(result.records) == 1 and result.rejections[0]["id"] == "bad.jsonl:2"


def test_yaml_errors_name_the_line_and_duplicates_are_refused(tmp_path):
    path = tmp_path / "dialogues.yaml"
    path.write_text(
        "split: multi_turn\nexamples:\n"
        "  - id: one\n    messages: [a, b, c, d]\n"
        "  - id: two\n    messages:\n      - {role: assistant, content: hi}\n      - {role: user, content: x}\n"
    )
    with pytest.raises(InputError, match=r"dialogues.yaml:5: turns must alternate"):
        _curate(path)
    path.write_text("- {id: a, split: dev, prompt: p, response: r}\n- {id: a, split: dev, prompt: q, response: s}\n")
    with pytest.raises(InputError, match=r"dialogues.yaml:2: duplicate id 'a' \(first at .*dialogues.yaml:1\)"):
        _curate(path)


def test_the_old_split_name_dev_is_read_as_validation_and_announced(tmp_path):
    path = _jsonl(tmp_path / "old.jsonl", {"split": "dev", "prompt": "ok?", "response": "ok"})
    with pytest.warns(FutureWarning, match="old.jsonl: the split 'dev' is now 'validation'"):
        (record,) = _curate(path).records
    assert record["category"] == "validation"
