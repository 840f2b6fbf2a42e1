"""dataset_scripts/: the paper's build config parses, and the release matcher recovers choices as a manifest."""

import importlib.util
from pathlib import Path

import yaml

from lima_hf.data.build_config import load_build_config
from lima_hf.data.manifest import load_manifest
from lima_hf.data.sources import lima_release, reddit
from lima_hf.io import write_jsonl

SCRIPTS = Path(__file__).resolve().parent.parent / "dataset_scripts"
SAMPLES = Path(reddit.__file__).resolve().parents[3] / "resources" / "samples" / "reddit"


def _script(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_paper_build_config_is_the_papers_mix():
    config = load_build_config(SCRIPTS / "lima.yaml")
    counts = {split: sum(p.count for p in parts) for split, parts in config.parts()}
    assert counts == {"test": 300, "validation": 50, "train": 1000, "multi_turn": 30}
    assert {p.category: p.count for p in config.splits["train"] if p.source == "stackexchange"} == {
        "stem": 200,
        "other": 200,
    }
    assert load_manifest(config.manifest).entries.keys() == {
        "writingprompts",
        "askreddit",
        "stackexchange/multi_turn_candidates",
    }


def test_manifest_from_release_matches_prompts_and_edited_prompts(tmp_path):
    records = reddit.curate(reddit.Config(input=str(SAMPLES))).records
    wp = [r for r in records if r["source"] == "writingprompts"]
    release = [lima_release.to_release_row(wp[2]), lima_release.to_release_row(wp[0])]
    release[1]["conversations"][0] = "An edited prompt"  # still matched by its response
    release.append({"conversations": ["not in the dump", "x"], "source": "writingprompts"})
    write_jsonl(tmp_path / "train.jsonl", release)
    write_jsonl(tmp_path / "reddit.jsonl", records)
    out = tmp_path / "manifest.yaml"
    assert (
        _script("manifest_from_release").main(
            [
                "--release",
                str(tmp_path / "train.jsonl"),
                "--candidates",
                str(tmp_path / "reddit.jsonl"),
                "--output",
                str(out),
            ]
        )
        == 0
    )
    assert yaml.safe_load(out.read_text()) == {"writingprompts": {"select": [wp[2]["id"], wp[0]["id"]]}}
    assert load_manifest(out).entry("writingprompts").select == [wp[2]["id"], wp[0]["id"]]
