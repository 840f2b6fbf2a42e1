"""Fault cases about records that would train or judge silently wrong: a training record with an empty assistant
reply, no assistant turn, unknown roles or the assistant first is one line naming the record (not a Jinja error);
``evaluate`` refuses a second, different answer under one id and a baseline that answered another prompt under
the same id; a build config's ``seed: [1, 2]`` names the file and key. User files are unchanged (``user_files``)."""

import json

import pytest

from lima_hf.cli import main

pytestmark = pytest.mark.usefixtures("token_in_environment")  # the token in the environment, found nowhere

GOOD = [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]


@pytest.fixture
def base(tmp_path, tiny_model):
    model, tokenizer = tiny_model
    model.save_pretrained(tmp_path / "base")
    tokenizer.save_pretrained(tmp_path / "base")
    return tmp_path / "base"


BAD = [
    ([{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "  "}], "assistant turn 1 is empty"),
    ([{"role": "user", "content": "Q?"}], "no assistant turn"),
    ([{"role": "human", "content": "Q?"}, {"role": "gpt", "content": "A."}], "role(s) 'gpt', 'human'"),
    ([{"role": "assistant", "content": "A."}, {"role": "user", "content": "Q?"}], "turn 1 is 'assistant'"),
]


def test_train_names_the_record_that_cannot_be_trained_on(base, tmp_path, capsys, user_files):
    from lima_hf.training.script import check_training_messages

    for messages, said in BAD:  # the check itself, every case
        with pytest.raises(ValueError, match=said.replace("(", r"\(").replace(")", r"\)")):
            check_training_messages(messages, "data.jsonl record 2")
    check_training_messages([{"role": "system", "content": "S"}, *GOOD], "fine")
    data = tmp_path / "train.jsonl"  # and the command, on the first case
    data.write_text("".join(json.dumps({"id": f"r{i}", "messages": m}) + "\n"
                            for i, m in enumerate([GOOD, BAD[0][0], GOOD])))
    user_files(tmp_path)
    code = main(["train", "--model_name_or_path", str(base), "--dataset_name", str(data), "--output_dir",
                 str(tmp_path / "out"), "--use_cpu", "true", "--bf16", "false", "--report_to", "none"])
    err = capsys.readouterr().err
    assert code == 1 and "record 2 (id 'r1')" in err and BAD[0][1] in err, err
    assert len(err.strip().splitlines()) == 1 and "TemplateError" not in err
    assert not (tmp_path / "out").exists()


def _answers(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_evaluate_refuses_a_second_different_answer_under_one_id(tmp_path, capsys, user_files):
    answers = _answers(tmp_path / "ours.jsonl", [{"id": "1", "sample": 0, "prompt": "Q", "response": "A"},
                                                 {"id": "2", "sample": 0, "prompt": "R", "response": "B"},
                                                 {"id": "1", "sample": 0, "prompt": "Q", "response": "other"}])
    user_files(tmp_path)
    code = main(["evaluate", "likert", "--responses", str(answers), "--judge", "people", "--output_dir",
                 str(tmp_path / "report")])
    err = capsys.readouterr().err
    assert code == 1 and f"{answers}:3: a second, different answer for id '1' sample 0" in err, err
    assert "line 1" in err and len(err.strip().splitlines()) == 1


def test_evaluate_refuses_a_baseline_that_answered_another_prompt_under_the_same_id(tmp_path, capsys, user_files):
    ours = _answers(tmp_path / "ours.jsonl", [{"id": "1", "sample": 0, "prompt": "How do I boil an egg?",
                                               "response": "A"}])
    theirs = _answers(tmp_path / "theirs.jsonl", [{"id": "1", "prompt": "Write a haiku.", "response": "B"}])
    user_files(ours, theirs)
    code = main(["evaluate", "pairwise", "--responses", str(ours), "--baselines", f"base={theirs}", "--judge",
                 "people", "--output_dir", str(tmp_path / "report")])
    err = capsys.readouterr().err
    assert code == 1 and "answers another prompt under id '1'" in err and "Write a haiku." in err, err
    assert len(err.strip().splitlines()) == 1


def test_a_build_config_seed_that_is_not_an_integer_names_the_file_and_key(tmp_path, capsys, user_files):
    config = tmp_path / "dataset.yaml"
    config.write_text("seed: [1, 2]\nsources:\n  authored: {}\nsplits:\n  train: [{source: authored}]\n")
    user_files(tmp_path)
    code = main(["build-dataset", "--dataset_config", str(config), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and f"{config}:1: seed must be an integer, not [1, 2]" in err, err
    assert len(err.strip().splitlines()) == 1
