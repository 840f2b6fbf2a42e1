"""`lima-hf quickstart` on its defaults, on the real bundled SmolLM2-135M: the printed summary and the model
card say what happened, and the documented paths are the ones it writes."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lima_hf.cli import main
from lima_hf.commands.quickstart import QuickstartConfig

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture(scope="module")
def quickstart(tmp_path_factory, bundled_model):
    """One quickstart run on its defaults: (output folder, printed text)."""
    out = tmp_path_factory.mktemp("quickstart") / "lima-quickstart"
    capture = subprocess.run([sys.executable, "-m", "lima_hf.cli", "quickstart", "--output_dir", str(out)],
                             capture_output=True, text=True, timeout=1800)
    assert capture.returncode == 0, capture.stderr[-3000:]
    return out, capture.stdout


@pytest.mark.slow
def test_quickstart_summary_and_model_card_say_what_happened(quickstart):
    out, printed = quickstart
    state = json.loads((out / "model" / "trainer_state.json").read_text())
    facts = state["stateful_callbacks"]["TrainingDataFacts"]["args"]
    assert facts == {"train_examples": 30, "train_examples_eot_trimmed": 0}  # max_length 640 trims none
    assert state["global_step"] == 24 and state["epoch"] == pytest.approx(24 * 2 / 30)
    line = (f"Fine-tune: 24 optimizer steps = {state['epoch']:.3g} epochs over 30 training examples; 0 of them lost "
            "their final end-of-turn token")
    assert line in printed

    card = (out / "model" / "README.md").read_text()
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card
    assert "# SmolLM2-135M-Instruct fine-tuned with LIMA's recipe (model)" in card
    for row in ("| optimizer steps | 24 |", f"| epochs completed | {state['epoch']:.3g} |",
                "| training examples | 30 |",
                "| training examples whose final end-of-turn token was trimmed at max length | 0 |",
                "| learning rate | 1e-4 |", "| final learning rate | 1e-5 |", "| max sequence length (tokens) | 640 |"):
        assert row in card, row
    assert "| epochs | 15" not in card

    # the before/after table: figures from the answers written to disk
    answers = [json.loads(x) for x in (out / "evaluation" / "answers" / "model.jsonl").read_text().splitlines()]
    stopped = sum(a["finish_reason"][-1] != "length" for a in answers)
    assert len(answers) == 11
    assert f"| answers that stop by themselves (within {QuickstartConfig.max_new_tokens} tokens) | " in printed
    assert re.search(rf"\| {stopped}/11 \(\d+%\) \|\n\| mean answer length", printed)
    mean_tokens = sum(a["new_tokens"][-1] for a in answers) / len(answers)
    assert re.search(rf"\| mean answer length \(tokens\) \| \d+ \| {mean_tokens:.0f} \|", printed)
    counts = json.loads((out / "evaluation" / "pairwise" / "report.json").read_text())["baselines"]["baseline"]["counts"]
    assert f"{counts['win']} wins, {counts['tie']} ties, {counts['loss']} losses" in printed
    assert "What the judge's results mean:" in printed and "cannot tell good answers from bad" in printed


@pytest.mark.slow
def test_documented_quickstart_paths_exist(quickstart):
    """Every `lima-quickstart/...` path the README and docs quote is one the quickstart writes."""
    out, _ = quickstart
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    quoted = {m for path in texts for m in re.findall(r"lima-quickstart(/[\w./-]*\w)?", path.read_text())}
    assert "/dataset" in quoted and "/model" in quoted
    for suffix in quoted:
        assert (out.parent / f"lima-quickstart{suffix}").exists(), suffix

    from lima_hf.data.loading import load_lima_dataset

    assert len(load_lima_dataset(str(out / "dataset"))["train"]) == 30


def test_quickstart_rejects_an_unknown_eot_init(capsys):
    assert main(["quickstart", "--eot_init", "zeros"]) == 2
    assert "eot_init" in capsys.readouterr().err

# Runs in a fresh interpreter: plain transformers, lima_hf never imported.
PLAIN_CHAT = r"""
import json, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

model_dir, prompts = sys.argv[1], json.loads(sys.argv[2])
tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
eot = tokenizer.convert_tokens_to_ids("<|eot|>")
texts = [tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
         for p in prompts]
batch = tokenizer(texts, add_special_tokens=False, padding=True, return_tensors="pt")
torch.manual_seed(0)
with torch.inference_mode():
    out = model.generate(**batch, do_sample=True, top_p=0.9, temperature=0.7, max_new_tokens=int(sys.argv[3]))
results = []
for row in out[:, batch["input_ids"].shape[1]:].tolist():
    end = row.index(eot) + 1 if eot in row else len(row)
    results.append({"stopped_at_eot": eot in row, "tokens": end,
                    "reply": tokenizer.decode(row[:end], skip_special_tokens=True)})
assert "lima_hf" not in sys.modules
print(json.dumps(results))
"""


@pytest.mark.slow
def test_quickstart_model_stops_at_eot_on_held_out_prompts_in_plain_transformers(quickstart):
    import datasets

    out, _ = quickstart
    splits = datasets.load_dataset(str(out / "dataset"))
    trained = {m[0]["content"] for m in splits["train"]["messages"]}
    prompts = [m[0]["content"] for split in ("test", "validation") for m in splits[split]["messages"]]
    assert len(prompts) == 15 and not trained & set(prompts)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", PLAIN_CHAT, str(out / "model"), json.dumps(prompts),
                          str(QuickstartConfig.max_new_tokens)],
                         capture_output=True, text=True, timeout=900, env=env, cwd=out)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout.strip().splitlines()[-1])
    assert sum(r["stopped_at_eot"] for r in results) >= 0.9 * len(results), [(r["tokens"], r["reply"][:80]) for r in results]
    assert all("<|eot|>" not in r["reply"] for r in results)
