"""Absolute rating (the paper's Section 4.3, Figure 3): each answer of a random sample of prompts rated
Fail (did not meet the requirements of the prompt), Pass (met them) or Excellent; the report gives each
rating's share with bootstrap 95% intervals over prompts."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lima_hf.evaluation import plots
from lima_hf.evaluation.parsing import ABSOLUTE_LABELS, parse_absolute
from lima_hf.evaluation.protocols.base import (
    FailPassExcellent,
    SingleAnswerProtocol,
    response_items,
)
from lima_hf.evaluation.reports import pct
from lima_hf.evaluation.stats import absolute_summary

__all__ = ["ABSOLUTE_TEMPLATE", "Absolute", "absolute_summary", "parse_absolute", "run_absolute", "sample_items"]

ABSOLUTE_TEMPLATE = """\
Read the question and the response of an AI assistant, and rate the response.

Question: {question}

Response:
{answer}

Choose one rating:
Fail - the response did not meet the requirements of the prompt.
Pass - the response met the requirements of the prompt.
Excellent - the model provided an excellent response to the prompt.

Briefly explain your rating, then write "Rating: Fail", "Rating: Pass" or "Rating: Excellent" on the last line."""

def sample_items(items: list[dict], sample_size: int | None, seed: int = 0) -> list[dict]:
    """The first sample of ``sample_size`` randomly chosen prompts (all prompts when ``None``), in file order."""
    first_sample: dict[str, int] = {}
    for item in items:
        first_sample[item["id"]] = min(item["sample"], first_sample.get(item["id"], item["sample"]))
    firsts = [i for i in items if i["sample"] == first_sample[i["id"]]]
    if sample_size is None or sample_size >= len(firsts):
        return firsts
    chosen = set(random.Random(seed).sample(range(len(firsts)), sample_size))
    return [item for index, item in enumerate(firsts) if index in chosen]


def absolute_table(summaries: Mapping[str, dict]) -> str:
    """Markdown table: one row per system, Fail / Pass / Excellent shares."""
    lines = ["| system | Fail | Pass | Excellent | rated | unparsed |", "|---|---|---|---|---|---|"]
    for name, s in summaries.items():
        iv = s["intervals_95"]
        cells = " | ".join(pct(s["rates"][label], iv[label]) for label in ABSOLUTE_LABELS)
        lines.append(f"| {name} | {cells} | {s['n']} | {s['unparsed']} |")
    return "\n".join(lines)


@dataclass
class AbsoluteArguments:
    """Options of ``lima-hf evaluate absolute``."""

    sample_size: int | None = field(default=50, metadata={"help": "Rate this many random prompts (the paper: 50)."})


class Absolute(FailPassExcellent, SingleAnswerProtocol):
    """Fail / Pass / Excellent of ``sample_size`` random prompts per system (module docstring)."""

    name = "absolute"
    description = "absolute rating Fail / Pass / Excellent of a random sample of prompts (Figure 3)"
    title = "Absolute rating"
    template = ABSOLUTE_TEMPLATE
    placeholders = frozenset({"question", "answer"})
    label_help = '"Fail", "Pass" or "Excellent"'
    plot_file = "absolute.png"
    field = "label"
    Arguments = AbsoluteArguments

    def items(self, systems):
        return {name: sample_items(response_items(r), self.options["sample_size"], self.seed)
                for name, r in systems.items()}

    def summarize(self, items):
        return absolute_summary(items, n_resamples=self.n_resamples, seed=self.seed)

    def extra_figures(self):
        return {"sample_size": self.options["sample_size"]}

    def table(self, summaries):
        return absolute_table(summaries)

    def plot(self, summaries, path) -> None:
        plots.plot_stacked(summaries, ABSOLUTE_LABELS, ABSOLUTE_LABELS, path, "Absolute rating")

    def notes(self, summaries):
        return ["shares over parsed ratings with bootstrap 95% intervals over prompts"]


def run_absolute(systems, output_dir, judge, *, sample_size: int | None = 50, template_path=None, retries: int = 2,
                 n_resamples: int = 1000, seed: int = 0, agree_with=None, progress: bool = True) -> dict[str, Any]:
    """Fail / Pass / Excellent ratings of ``sample_size`` random prompts per system; the report's figures."""
    protocol = Absolute(judge, output_dir, template_path=template_path, retries=retries, n_resamples=n_resamples,
                        seed=seed, agree_with=agree_with, progress=progress, sample_size=sample_size)
    return protocol.run(systems)
