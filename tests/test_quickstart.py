"""`lima-hf quickstart` runs the whole pipeline end to end (shortened), as the README's first command does."""

import json

import pytest

from lima_hf.cli import main


@pytest.mark.slow
def test_quickstart_end_to_end(tmp_path, bundled_model, capsys):
    out = tmp_path / "qs"
    code = main(
        ["quickstart", "--output_dir", str(out), "--max_steps", "2", "--max_length", "128",
         "--num_eval_prompts", "1", "--max_new_tokens", "8"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    for name in ("dataset", "model", "answers", "evaluation reports"):
        assert name in printed

    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer

    splits = datasets.load_dataset(str(out / "dataset"))
    assert set(splits) == {"train", "validation", "test"} and len(splits["train"]) > 0
    tokenizer = AutoTokenizer.from_pretrained(out / "model")
    AutoModelForCausalLM.from_pretrained(out / "model")
    assert "<|eot|>" in tokenizer.get_vocab()
    answers = [json.loads(line) for line in (out / "evaluation" / "answers" / "model.jsonl").read_text().splitlines()]
    assert len(answers) == 1 and "<|eot|>" not in answers[0]["response"]
    assert (out / "evaluation" / "pairwise" / "report.json").is_file()
