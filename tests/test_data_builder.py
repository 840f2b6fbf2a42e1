"""Composing the LIMA dataset: counts, manifest, deduplication, test prompts, shortfalls, determinism,
the Hub-ready folder with its card, LimaBuilder, and the curate / build-dataset commands."""

import json
import warnings

import datasets
import pytest
import yaml

from lima_hf.cli import main as cli
from lima_hf.data.build_config import load_build_config, parse_build_config
from lima_hf.data.builder import LimaBuilder, quickstart_config_path
from lima_hf.data.composition import compose, curate_sources
from lima_hf.data.dataset_folder import write_dataset_folder
from lima_hf.data.loading import read_records
from lima_hf.data.records import SourceResult, make_record
from lima_hf.errors import InputError
from lima_hf.io import OUTPUT_MARK

RESOURCES = quickstart_config_path().parent


@pytest.fixture(scope="module")
def quickstart_results():
    return curate_sources(load_build_config(quickstart_config_path()))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The quickstart dataset built by `lima-hf build-dataset` (card statistics with the bundled tokenizer)."""
    pytest.importorskip("gguf")
    output = tmp_path_factory.mktemp("build") / "lima"
    assert cli(["build-dataset", "--dataset_config", str(quickstart_config_path()), "--output", str(output)]) == 0
    return output


def _counts(records):
    counts = {}
    for record in records:
        key = record["source"] + (f"/{record['category']}" if record["source"] == "stackexchange" else "")
        counts[key] = counts.get(key, 0) + 1
    return counts


# the quickstart's exact counts; Stack Exchange parts take what the bundled sample dump yields (1 to 4 each)
QUICKSTART_TRAIN = {"wikihow": 8, "writingprompts": 3, "natural_instructions": 3, "authored": 6}


def _check_quickstart_counts(default, multi_turn):
    train = _counts(default["train"])
    assert {k: v for k, v in train.items() if not k.startswith("stackexchange")} == QUICKSTART_TRAIN
    assert 1 <= train["stackexchange/stem"] <= 4 and 1 <= train["stackexchange/other"] <= 4
    assert len(default["validation"]) == 4 and _counts(default["test"]) == {"askreddit": 5, "authored": 6}
    assert _counts(multi_turn)["authored"] == 2 and len(multi_turn) <= 4


def test_build_dataset_folder_loads_with_card_and_stats(built):
    default = datasets.load_dataset(str(built))
    _check_quickstart_counts(default, datasets.load_dataset(str(built), "multi_turn")["train"])
    train = default["train"]
    wp = [r for r in train if r["source"] == "writingprompts"]
    assert [r["id"] for r in wp] == [
        "reddit/writingprompts/d1aaa2",
        "reddit/writingprompts/d1aaa1",
        "reddit/writingprompts/d1aaa3",
    ]
    assert wp[1]["messages"][0]["content"].startswith("You receive a letter from your future self. It says only")
    assert "reddit/askreddit/e2bbb6" not in default["test"]["id"]  # excluded by the manifest
    test_prompts = {r["messages"][0]["content"] for r in default["test"]}
    assert not test_prompts & {r["messages"][0]["content"] for r in train}
    card = (built / "README.md").read_text()
    assert "| Split | Source | #Examples | Avg Input Len. | Avg Output Len. |" in card
    assert "HuggingFaceTB/SmolLM2-135M-Instruct (bundled)" in card
    assert "| train | wikihow | 8 |" in card and "CC BY-NC-SA 3.0" in card and "zhou2023lima" in card
    assert (built / "length_distribution.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from huggingface_hub import DatasetCard

    data = DatasetCard.load(built / "README.md").data  # the Hub's own parser
    assert (data.license, data.license_name, data.license_link) == ("other", "lima-hf-per-row-licenses", "LICENSE.md")
    assert "license_details" not in data.to_dict() and "CC BY-NC-SA 3.0" in (built / "LICENSE.md").read_text()
    assert [c["config_name"] for c in data.configs] == ["default", "multi_turn"]
    assert {s["name"] for s in data.dataset_info[0]["splits"]} == {"train", "validation", "test"}
    summary = json.loads((built / "build_summary.json").read_text())
    assert summary["counts"]["default"]["test"] == {"askreddit": 5, "authored": 6}
    assert {row["source"] for row in summary["table1"] if row["split"] == "train"} == set(train["source"])
    logs = built.parent / "lima.rejections"
    assert {p.name for p in logs.iterdir()} - {OUTPUT_MARK} == {
        "stackexchange.jsonl",
        "wikihow.jsonl",
        "reddit.jsonl",
        "natural_instructions.jsonl",
        "authored.jsonl",
        "composition.jsonl",
    }
    assert "manifest_excluded" in (logs / "composition.jsonl").read_text()


def test_composition_is_deterministic(quickstart_results, tmp_path):
    config = load_build_config(quickstart_config_path())
    first = compose(config, quickstart_results).configs
    assert first == compose(config, quickstart_results).configs
    a = write_dataset_folder(tmp_path / "a", first, None)
    b = write_dataset_folder(tmp_path / "b", compose(config, quickstart_results).configs, None)
    for shard in (a / "data").rglob("*.parquet"):
        assert shard.read_bytes() == (b / shard.relative_to(a)).read_bytes()
    config.seed = 7
    reseeded = compose(config, curate_sources(config)).configs
    assert [r["id"] for r in reseeded["default"]["train"]] != [r["id"] for r in first["default"]["train"]]


def _pair(id, source, prompt, response="answer", category=None):
    messages = [{"role": "user", "content": prompt}] + (
        [{"role": "assistant", "content": response}] if response else []
    )
    return make_record(id=id, source=source, category=category, messages=messages)


def _config(parts, **top):
    return parse_build_config({"splits": parts, **top}, path="build.yaml")


def test_duplicates_and_test_prompts_never_reach_train():
    results = {
        "x": SourceResult(
            records=[
                _pair("w1", "wikihow", "How to A?"),
                _pair("w2", "wikihow", "How to  a?"),  # exact duplicate modulo case/space
                _pair("w3", "wikihow", "How to C?"),
                _pair("s1", "stackexchange", "How to A?", response="other answer"),
                _pair("t1", "askreddit", "How to C?", response=None),
                _pair("w4", "wikihow", "How to D?"),
            ]
        )
    }
    config = _config(
        {
            "train": [{"source": "wikihow", "count": 2}, {"source": "stackexchange"}],
            "test": [{"source": "askreddit", "count": 1}],
        }
    )
    composition = compose(config, results)
    assert [r["id"] for r in composition.configs["default"]["train"]] == ["w1", "w4", "s1"]
    reasons = {r["id"]: r["reason"] for r in composition.rejections}
    assert reasons == {"w2": "duplicate", "w3": "test_prompt_in_train"}


def test_shortfall_fails_or_takes_what_exists():
    results = {"x": SourceResult(records=[_pair(f"w{i}", "wikihow", f"How to {i}?") for i in range(3)])}
    with pytest.raises(InputError, match=r"build.yaml: train: wikihow needs 5 examples but only 3 are eligible"):
        compose(_config({"train": [{"source": "wikihow", "count": 5}]}), results)
    composition = compose(
        _config({"train": [{"source": "wikihow", "count": 5}]}, on_shortfall="take_available"), results
    )
    assert len(composition.configs["default"]["train"]) == 3 and composition.parts[0].shortfall
    with pytest.raises(InputError, match=r"no curated source produced 'wikihwo' in pool 'records' \(have: wikihow\)"):
        compose(_config({"train": [{"source": "wikihwo", "count": 1}]}), results)
    part = {"source": "wikihow", "count": 5, "on_shortfall": "take_available"}
    assert len(compose(_config({"train": [part]}), results).configs["default"]["train"]) == 3


def test_ablation_is_config_only(tmp_path):
    """A wikiHow-only training set with its own source options, written as nothing but a YAML file."""
    path = tmp_path / "wikihow_only.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "seed": 1,
                "on_shortfall": "take_available",
                "sources": {"wikihow": {"input": str(RESOURCES / "samples" / "wikihow"), "min_methods": 2}},
                "splits": {"train": [{"source": "wikihow", "count": 2000}]},
            }
        )
    )
    composition = compose(load_build_config(path))
    train = composition.configs["default"]["train"]
    assert len(train) == 10 and {r["source"] for r in train} == {"wikihow"}
    assert composition.parts[0].requested == 2000 and composition.parts[0].shortfall


def test_build_config_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("seed: 1\nsplits:\n  train: []\nsourcez: {}\n")
    with pytest.raises(InputError, match=r"bad.yaml:4: unknown key 'sourcez'"):
        load_build_config(path)
    path.write_text("sources:\n  wikihow: {input: x, min_method: 2}\nsplits: {train: []}\n")
    with pytest.raises(InputError, match=r"bad.yaml:2: sources.wikihow: .*min_method"):
        load_build_config(path)
    path.write_text("sources:\n  wiki: {input: x}\nsplits: {train: []}\n")
    with pytest.raises(InputError, match=r"bad.yaml:2: sources.wiki: unknown source 'wiki'"):
        load_build_config(path)
    path.write_text("splits:\n  train:\n    - {source: wikihow, count: 2}\n    - {source: wikihow, amount: 2}\n")
    with pytest.raises(InputError, match=r"bad.yaml:4: splits.train\[1\]: unknown key\(s\) amount"):
        load_build_config(path)
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text("wikihow:\n  select: [wikihow/How-to-Nothing]\n")
    path.write_text(
        yaml.safe_dump(
            {
                "manifest": "manifest.yaml",
                "sources": {"wikihow": {"input": str(RESOURCES / "samples" / "wikihow")}},
                "splits": {"train": [{"source": "wikihow"}]},
            }
        )
    )
    with pytest.raises(
        InputError, match=r"manifest.yaml:2: wikihow: selected id 'wikihow/How-to-Nothing' does not exist"
    ):
        compose(load_build_config(path))


def test_lima_builder(tmp_path):
    builder = LimaBuilder(cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare()
    lima = builder.as_dataset()
    dialogues = LimaBuilder(config_name="multi_turn", cache_dir=str(tmp_path / "cache"))
    dialogues.download_and_prepare()
    _check_quickstart_counts(lima, dialogues.as_dataset()["train"])
    assert lima["train"][0]["messages"][0]["role"] == "user"


def test_curate_command(tmp_path, capsys):
    out = tmp_path / "reddit.jsonl"
    manifest = RESOURCES / "quickstart_manifest.yaml"
    code = cli(
        [
            "curate",
            "reddit",
            "--input",
            str(RESOURCES / "samples" / "reddit"),
            "--output",
            str(out),
            "--manifest",
            str(manifest),
            "--on_error",
            "skip",
        ]
    )
    assert code == 0
    records = read_records(out)
    assert [r["id"] for r in records if r["source"] == "writingprompts"][0] == "reddit/writingprompts/d1aaa2"
    rejections = (tmp_path / "reddit.rejections.jsonl").read_text()
    assert rejections.count("\n") == 10 and rejections.count("manifest_") == 2  # as in a build
    assert (tmp_path / "reddit.ranked_candidates.jsonl").is_file()
    printed = capsys.readouterr().out
    assert "not_a_writing_prompt" in printed and "writingprompts" in printed
    assert cli(["curate", "nosuch", "--input", "x", "--output", str(out)]) == 2
    assert cli(["curate", "authored", "--input", str(tmp_path / "missing.yaml"), "--output", str(out)]) == 1
    assert "missing.yaml: file not found" in capsys.readouterr().err


@pytest.mark.shared_data
def test_build_from_real_data(shared_data, tmp_path):
    """Real Stack Exchange dumps, a real Pushshift file (r/AskMen standing in for r/AskReddit), real
    Super-NI task files and the released LIMA data (its wikiHow and WritingPrompts rows) in one build."""
    pytest.importorskip("gguf")
    path = tmp_path / "real.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "on_shortfall": "take_available",
                "sources": {
                    "stackexchange": {
                        "input": str(shared_data / "stackexchange"),
                        "stem_count": 10,
                        "other_count": 10,
                        "report": False,
                        "progress": False,
                    },
                    "reddit": {
                        "input": str(shared_data / "pushshift" / "AskMen_submissions.zst"),
                        "askreddit_subreddit": "AskMen",
                        "writingprompts_subreddit": "",
                        "max_candidates": 100,
                    },
                    "natural_instructions": {"input": str(shared_data / "super_natural_instructions" / "tasks")},
                    "lima_release": {"input": str(shared_data / "lima" / "train.jsonl")},
                    "authored": {"input": str(RESOURCES / "authored")},
                },
                "splits": {
                    "train": [
                        {"source": "stackexchange", "category": "stem", "count": 10},
                        {"source": "stackexchange", "category": "other", "count": 10},
                        {"source": "natural_instructions", "count": 2},
                        {"source": "wikihow", "count": 200},
                        {"source": "writingprompts", "count": 150},
                    ],
                    "dev": [{"source": "authored", "category": "dev"}],  # the old split name, still read
                    "test": [{"source": "askreddit", "count": 70}],
                },
                "multi_turn": [
                    {"source": "stackexchange", "pool": "multi_turn_candidates", "count": 5},
                    {"source": "multi_turn", "pool": "multi_turn", "count": 10},
                ],
            }
        )
    )
    output = tmp_path / "lima"
    assert cli(["build-dataset", "--dataset_config", str(path), "--output", str(output)]) == 0
    default = datasets.load_dataset(str(output))
    counts = _counts(default["train"])
    assert counts["wikihow"] == 200 and counts["writingprompts"] == 150 and counts["natural_instructions"] == 2
    assert counts["stackexchange/stem"] == 10 and 1 <= counts["stackexchange/other"] <= 10
    assert len(default["test"]) == 70 and len(default["validation"]) == 4
    assert len(datasets.load_dataset(str(output), "multi_turn")["train"]) >= 11
    assert "| train | wikihow | 200 |" in (output / "README.md").read_text()


def test_build_dataset_takes_the_build_config_as_dataset_config_and_a_recipe_as_config(tmp_path, capsys):
    build = tmp_path / "dataset.yaml"
    build.write_text("sources:\n  wikihwo: {input: raw}\nsplits:\n  train: []\n")
    out = str(tmp_path / "out")
    assert cli(["build-dataset", "--dataset_config", str(build), "--output", out]) == 1
    assert "unknown source 'wikihwo'" in capsys.readouterr().err
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"dataset_config: {build}\noutput: {out}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # a recipe as --config is not the old form
        assert cli(["build-dataset", "--config", str(recipe)]) == 1
    assert "unknown source 'wikihwo'" in capsys.readouterr().err
    with pytest.warns(FutureWarning, match="is a build config: it is now given as --dataset_config"):
        assert cli(["build-dataset", "--config", str(build), "--output", out]) == 1  # the old form
    assert "unknown source 'wikihwo'" in capsys.readouterr().err
    assert cli(["build-dataset", "--output", out]) == 2
    assert "--dataset_config dataset.yaml (the build config) is required" in capsys.readouterr().err
