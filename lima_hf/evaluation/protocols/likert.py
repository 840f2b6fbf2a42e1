"""Likert helpfulness (1-6), the ablations' metric (Figures 5-6): each answer graded alone with the paper's
rubric (Appendix D, in the style of LangChain's criteria evaluator: reason step by step, then the grade
alone on its own line, repeated on the last line).

The figure is the mean over prompts x samples with the paper's "p = 0.95 two-sided confidence interval":
mean +- 1.96 x sd / sqrt(n), with the sample standard deviation (n - 1). The parser and the mean are plain
functions of :mod:`lima_hf.evaluation.parsing` and :mod:`lima_hf.evaluation.stats` (the ``lima_likert``
metric module ships them without lima_hf).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lima_hf.evaluation import plots, stats
from lima_hf.evaluation.parsing import LIKERT_RANGE, parse_likert
from lima_hf.evaluation.protocols.base import SingleAnswerProtocol
from lima_hf.evaluation.reports import num
from lima_hf.evaluation.stats import likert_summary

__all__ = ["LIKERT_TEMPLATE", "Likert", "likert_summary", "parse_likert", "run_likert"]
LIKERT_LEVELS = {
    1: "Not helpful - The generated text is completely irrelevant, unclear, or incomplete. It does not provide "
    "any useful information to the user.",
    2: "Somewhat helpful - The generated text has some relevance to the user's question, but it may be unclear "
    "or incomplete. It provides only partial information, or the information provided may not be useful for "
    "the user's needs.",
    3: "Moderately helpful - The generated text is relevant to the user's question, and it provides a clear "
    "and complete answer. However, it may lack detail or explanation that would be helpful for the user.",
    4: "Helpful - The generated text is quite relevant to the user's question, and it provides a clear, "
    "complete, and detailed answer. It offers additional information or explanations that are useful for the "
    "user. However, some of the points of the response are somewhat repetitive or could be combined for "
    "greater clarity and concision.",
    5: "Very helpful - The generated text is highly relevant to the user's question, and it provides a clear, "
    "complete, and detailed answer. It offers additional information, explanations, or analogies that are not "
    "only useful but also insightful and valuable to the user. However, the structure of the response is not "
    "well-organized and there is no clear progression or logical sequence of different points in the response.",
    6: "Highly helpful - The generated text provides a clear, complete, and detailed answer. It offers "
    "additional information or explanations that are not only useful but also insightful and valuable to the "
    "user. The response is also in a logical and easy-to-follow manner by explicitly using headings, bullet "
    "points, or numbered lists to break up the information and make it easier to read.",
}

LIKERT_TEMPLATE = (
    """\
You are evaluating a response that has been submitted for a particular task, using a specific set of \
standards. Below is the data:
[BEGIN DATA]
***
[Task]: {question}
***
[Submission]: {answer}
***
[Criterion]: helpfulness:
"""
    + "\n".join(f'"{level}": "{text}"' for level, text in LIKERT_LEVELS.items()).replace("{", "{{").replace("}", "}}")
    + """
***
[END DATA]
Does the submission meet the criterion? First, write out in a step by step manner your reasoning about the \
criterion to be sure that your conclusion is correct. Avoid simply stating the correct answers at the outset. \
Then print the choice only from "1, 2, 3, 4, 5, 6" (without quotes or punctuation) on its own line \
corresponding to the correct answer. At the end, repeat just the selected choice again by itself on a new line."""
)

def likert_table(summaries: Mapping[str, dict]) -> str:
    """Markdown table: one row per system, mean helpfulness and its 95% interval."""
    lines = ["| system | mean helpfulness (1-6) | 95% interval | scored | unparsed |", "|---|---|---|---|---|"]
    for name, s in summaries.items():
        low, high = s["interval_95"]
        lines.append(f"| {name} | {num(s['mean'])} | [{num(low)}, {num(high)}] | {s['n']} | {s['unparsed']} |")
    return "\n".join(lines)


def plot_likert(summaries: Mapping[str, dict], path, title: str = "Helpfulness (1-6)") -> None:
    """Mean score per system with its 95% interval."""
    plt = plots.pyplot()
    names = list(summaries)
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(names) + 2), 4))
    plots.errorbars(range(len(names)), [summaries[n] for n in names], ax)
    ax.set_xticks(
        range(len(names)), names, rotation=20 if len(names) > 4 else 0, ha="right" if len(names) > 4 else "center"
    )
    ax.set_ylim(1, 6)
    ax.set_ylabel("Generation quality (mean, 95% CI)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    plots.save(fig, path)
    plt.close(fig)


class Likert(SingleAnswerProtocol):
    """Helpfulness 1-6 of every answer of each system (module docstring)."""

    name = "likert"
    description = "Likert helpfulness 1-6 of every answer of each system (the ablations, Figures 5-6)"
    title = "Likert helpfulness"
    template = LIKERT_TEMPLATE
    placeholders = frozenset({"question", "answer"})
    choices = tuple(str(level) for level in LIKERT_RANGE)
    labels = choices
    label_help = "a whole number from 1 (not helpful) to 6 (highly helpful)"
    plot_file = "likert.png"
    field = "score"
    parse = staticmethod(parse_likert)

    def summarize(self, items: list[dict]) -> dict[str, Any]:
        summary = likert_summary([i["score"] for i in items])
        summary["lengths"] = stats.length_summary([i["response"] for i in items])
        return summary

    def table(self, summaries):
        return likert_table(summaries)

    def plot(self, summaries, path) -> None:
        plot_likert(summaries, path)

    def notes(self, summaries) -> list[str]:
        return [("mean over prompts x samples; 95% interval = mean +- 1.96 sd / sqrt(n); unparsed replies excluded "
                "and counted")]


def run_likert(systems, output_dir, judge, *, template_path=None, retries: int = 2, agree_with=None,
               progress: bool = True) -> dict[str, Any]:
    """Helpfulness 1-6 of every answer of each system (``name -> response JSONL``); the report's figures."""
    protocol = Likert(judge, output_dir, template_path=template_path, retries=retries, agree_with=agree_with,
                      progress=progress)
    return protocol.run(systems)
