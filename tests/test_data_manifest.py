"""The curation manifest: selection, exclusion, text overrides, and unknown ids as clear errors."""

import json

import pytest

from lima_hf.data.manifest import load_manifest
from lima_hf.data.records import make_record
from lima_hf.errors import InputError


def _records(*ids):
    return [
        make_record(
            id=i,
            source="writingprompts",
            messages=[{"role": "user", "content": f"prompt {i}"}, {"role": "assistant", "content": f"story {i}"}],
        )
        for i in ids
    ]


def _manifest(tmp_path, text):
    path = tmp_path / "manifest.yaml"
    path.write_text(text)
    return load_manifest(path)


def test_select_exclude_override(tmp_path):
    manifest = _manifest(
        tmp_path,
        """
writingprompts:
  select: [c, a, b]
  exclude: [b]
  overrides:
    a: {prompt: New prompt, response: New story, reason: tightened}
""",
    )
    result = manifest.apply("writingprompts", "records", _records("a", "b", "c", "d"))
    assert [r["id"] for r in result] == ["c", "a"]
    assert [m["content"] for m in result[1]["messages"]] == ["New prompt", "New story"]
    kept = json.loads(result[1]["metadata"])["manifest_override"]
    assert kept["reason"] == "tightened" and kept["original"][0]["content"] == "prompt a"
    assert manifest.apply("askreddit", "records", _records("z")) == _records("z")  # no entry: unchanged


def test_unknown_ids_are_errors_naming_file_and_line(tmp_path):
    manifest = _manifest(tmp_path, "writingprompts:\n  select:\n    - a\n    - missing\n")
    with pytest.raises(InputError, match=r"manifest.yaml:4: writingprompts: selected id 'missing' does not exist"):
        manifest.apply("writingprompts", "records", _records("a", "b"))
    manifest = _manifest(tmp_path, "writingprompts:\n  select: [r]\n")
    with pytest.raises(InputError, match=r"selected id 'r' was rejected by a curation rule"):
        manifest.apply("writingprompts", "records", _records("a"), known_ids={"r"})
    manifest = _manifest(tmp_path, "writingprompts:\n  exclude: [r]\n")
    assert len(manifest.apply("writingprompts", "records", _records("a"), known_ids={"r"})) == 1
    with pytest.raises(InputError, match=r"manifest.yaml:2: writingprompts: unknown field\(s\) choose"):
        _manifest(tmp_path, "\nwritingprompts:\n  choose: [a]\n")
    with pytest.raises(InputError, match=r"overrides.a: expected some of"):
        _manifest(tmp_path, "writingprompts:\n  overrides:\n    a: {title: x}\n")
