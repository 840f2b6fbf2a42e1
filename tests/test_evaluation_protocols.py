"""The protocol and judge registries: a protocol registered here runs through the CLI untouched; agreement
and the length-controlled win rate against hand-computed values; multi-turn statistics."""

import json
import math
import re
from dataclasses import dataclass, field

import pytest

from lima_hf.cli import main
from lima_hf.evaluation import judges, protocols
from lima_hf.evaluation.agreement import agreement_table, tie_discounted_accuracy
from lima_hf.evaluation.judges import JUDGES
from lima_hf.evaluation.judges.base import ModelJudge
from lima_hf.evaluation.protocols import PROTOCOLS, register_protocol
from lima_hf.evaluation.protocols.base import SingleAnswerProtocol
from lima_hf.evaluation.protocols.multi_turn import MultiTurn
from lima_hf.evaluation.protocols.pairwise import run_pairwise
from lima_hf.evaluation.stats import length_controlled_win_rate


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@dataclass
class _ConcisenessArguments:
    max_words: int = field(default=3, metadata={"help": "Longest answer called concise."})


class Conciseness(SingleAnswerProtocol):
    """A protocol defined only in this test file: is the answer concise? (yes/no)."""

    name = "conciseness"
    description = "is each answer concise (a test protocol)"
    title = "Conciseness"
    template = "Is this answer to {question} concise? {answer}\nReply yes or no."
    placeholders = frozenset({"question", "answer"})
    choices = ("yes", "no")
    labels = ("yes", "no")
    label_help = '"yes" or "no"'
    plot_file = "conciseness.png"
    field = "concise"
    Arguments = _ConcisenessArguments

    @staticmethod
    def parse(reply):
        reply = (reply or "").strip().lower()
        return reply if reply in ("yes", "no") else None

    def summarize(self, items):
        return {"concise": sum(i["concise"] == "yes" for i in items), "n": len(items)}

    def table(self, summaries):
        return "\n".join(f"| {name} | {s['concise']} of {s['n']} |" for name, s in summaries.items())

    def plot(self, summaries, path):
        path.write_bytes(b"\x89PNG test")


class WordCountJudge(ModelJudge):
    """A judge defined only in this test file: says yes to answers of at most 3 words."""

    name = "word-count"

    @dataclass
    class Arguments:
        word_limit: int = field(default=3, metadata={"help": "word-count judge: the limit"})

    needs_model = False

    def __init__(self, limit=3):
        self.limit = limit

    @classmethod
    def from_arguments(cls, args):
        return cls(args.word_limit)

    def complete(self, prompts, attempt=0, choices=None):
        for index, prompt in enumerate(prompts):
            answer = prompt.split("concise? ")[1].split("\n")[0]
            yield index, "yes" if len(answer.split()) <= self.limit else "no"


@pytest.fixture
def registered(monkeypatch):
    """The protocol and the judge above registered, in copies of the registries that the test leaves behind."""
    monkeypatch.setattr(protocols, "PROTOCOLS", PROTOCOLS.copy())
    monkeypatch.setattr(judges, "JUDGES", JUDGES.copy())
    register_protocol(Conciseness)
    judges.register_judge("word-count", WordCountJudge)


def test_a_protocol_and_a_judge_registered_in_a_test_run_through_the_cli(registered, tmp_path, capsys):
    answers = _write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "prompt": "Q", "response": "Yes."},
                                                  {"id": "2", "prompt": "Q2", "response": "Well, it depends a lot."}])
    assert main(["evaluate", "--help"]) == 0
    assert re.search(r"conciseness +is each answer concise \(a test protocol\)", capsys.readouterr().out)
    assert main(["evaluate", "conciseness", "--responses", f"mine={answers}", "--judge", "word-count",
                 "--word_limit", "2", "--output_dir", str(tmp_path / "r")]) == 0
    assert "| mine | 1 of 2 |" in capsys.readouterr().out
    figures = json.loads((tmp_path / "r" / "report.json").read_text())
    assert figures["kind"] == "conciseness" and figures["systems"]["mine"] == {"concise": 1, "n": 2}
    assert (tmp_path / "r" / "judgments" / "conciseness-mine.jsonl").is_file()
    # people are a judge like the others: the same protocol exports a sheet for them
    assert main(["evaluate", "conciseness", "--responses", f"mine={answers}", "--judge", "people",
                 "--output_dir", str(tmp_path / "p")]) == 0
    assert "exported for annotation" in capsys.readouterr().out
    assert (tmp_path / "p" / "annotation" / "mine" / "annotation.csv").read_text().startswith("item,question,answer,label")


def test_tie_discounted_accuracy_by_hand():
    # LIMA Appendix C: 1 point if both agree, 0.5 if exactly one said tie, 0 otherwise
    a = {1: "win", 2: "win", 3: "tie", 4: "loss", 5: "tie", 6: "win", 7: None}
    b = {1: "win", 2: "tie", 3: "loss", 4: "win", 5: "tie", 6: "loss", 7: "win", 8: "win"}
    result = tie_discounted_accuracy(a, b)
    assert result == {"items": 6, "score": (1 + 0.5 + 0.5 + 0 + 1 + 0) / 6}
    assert tie_discounted_accuracy({1: "Fail", 2: "Pass"}, {1: "Fail", 2: "Excellent"}, tie=None)["score"] == 0.5
    rows = agreement_table({"x": a, "y": b, "z": {9: "win"}})
    assert rows == [{"raters": ["x", "y"], "items": 6, "score": pytest.approx(0.5)}]  # z shares nothing


def test_length_controlled_win_rate_by_hand():
    def pair(outcome, ours_words, base_words):
        return {"outcome": outcome, "ours_response": "w " * ours_words, "baseline_response": "w " * base_words}

    # no length difference at all: the fit is the raw preference
    same = [pair("win", 5, 5)] * 3 + [pair("loss", 5, 5)] + [pair("tie", 5, 5)] * 2
    result = length_controlled_win_rate(same)
    assert result["raw"] == pytest.approx(4 / 6) and result["length_controlled"] == pytest.approx(4 / 6, abs=1e-3)
    # a judge that only rewards length: wins when longer, loses when shorter, symmetric around zero
    lengthy = [pair("win", 10 + d, 10) for d in (2, 4, 6)] * 2 + [pair("loss", 10, 10 + d) for d in (2, 4, 6)]
    result = length_controlled_win_rate(lengthy)
    assert result["raw"] == pytest.approx(6 / 9) and result["slope"] > 2
    assert result["length_controlled"] < result["raw"] and abs(result["length_controlled"] - 0.5) < 0.2
    assert math.isnan(length_controlled_win_rate([pair("unparsed", 1, 1)])["raw"])


class _Scripted(ModelJudge):
    name = "scripted"

    def __init__(self, reply):
        self.reply = reply

    def complete(self, prompts, attempt=0, choices=None):
        for index, prompt in enumerate(prompts):
            yield index, self.reply(prompt)


def test_pairwise_report_has_judge_quality_and_agreement_with_another_report(tmp_path):
    ours = _write_jsonl(tmp_path / "o.jsonl", [{"id": f"q{i}", "prompt": f"Q{i}", "response": "GOOD " * (i + 1)}
                                               for i in range(6)])
    base = _write_jsonl(tmp_path / "b.jsonl", [{"id": f"q{i}", "prompt": f"Q{i}", "response": "meh"} for i in range(6)])
    first_always = _Scripted(lambda prompt: "Choice: 1")  # pure position bias: every pair a tie

    def fair(prompt):
        return "Choice: 1" if "GOOD" in prompt.split("Answer A:")[1].split("Answer B:")[0] else "Choice: 2"

    biased = run_pairwise(ours, {"base": base}, tmp_path / "biased", first_always, n_resamples=10, progress=False)
    s = biased["baselines"]["base"]
    assert s["position"]["first_preferred_rate"] == 1.0 and s["agreement"]["rate"] == 0.0 and s["rates"]["tie"] == 1
    fair_figures = run_pairwise(ours, {"base": base}, tmp_path / "fair", _Scripted(fair), n_resamples=10,
                                agree_with=tmp_path / "biased", progress=False)
    lc = fair_figures["baselines"]["base"]["length_control"]
    assert lc["raw"] == 1.0 and lc["n"] == 6
    # all wins vs all ties: half a point each (one rater said tie)
    assert fair_figures["agreement"] == [{"raters": ["judge: scripted", "judge: scripted (biased)"], "items": 6,
                                          "score": 0.5}]
    report = (tmp_path / "fair" / "report.md").read_text()
    assert "length-controlled" in report and "tie-discounted accuracy" in report


def test_multi_turn_statistics_by_hand(tmp_path):
    def dialogue(i, answers):
        messages = []
        for n, answer in enumerate(answers):
            messages += [{"role": "user", "content": f"turn {n} of {i}"}, {"role": "assistant", "content": answer}]
        return {"id": f"d{i}", "prompt": messages[0]["content"], "response": answers[-1], "messages": messages}

    rows = [dialogue(0, ["good", "bad", "good", "good"]), dialogue(1, ["great", "great"]),
            dialogue(2, ["good", "good", "good", "bad"])]
    answers = _write_jsonl(tmp_path / "m.jsonl", rows)

    def rate(prompt):
        last = prompt.split("last response:\n")[1].split("\n")[0]
        return {"good": "Rating: Pass", "bad": "Rating: Fail", "great": "Rating: Excellent"}[last]

    protocol = MultiTurn(_Scripted(rate), tmp_path / "r", n_resamples=10, progress=False)
    figures = protocol.run({"dialogues": answers})
    s = figures["systems"]["dialogues"]
    assert s["turns_rated"] == 10 and s["conversations"] == 3
    assert s["counts"] == {"Fail": 2, "Pass": 6, "Excellent": 2} and s["excellent_rate"] == 0.2
    assert s["fails_by_turn"] == {"1": 0, "2": 1, "3": 0, "4": 1}
    assert s["failed_within"] == 1 and s["failed_within_per_10"] == pytest.approx(10 / 3)
    assert "1 of 3" in (tmp_path / "r" / "report.md").read_text()
    assert (tmp_path / "r" / "multi_turn.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_every_protocol_lists_its_options(name, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", name, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert PROTOCOLS[name].description in " ".join(out.split())
    assert ("--judge {http,local,people" in out) == PROTOCOLS[name].needs_judge  # code-checked ones take no judge
