"""Pairwise preference, the paper's main protocol (Figures 1-2): our answer vs a baseline's.

For each prompt the judge sees the two answers as "Answer A" and "Answer B" and says which is significantly
better, or neither (the question of the paper's Appendix C, put to annotators and to GPT-4). A model judge
sees each pair in both orders, once with our answer first and once with the baseline's first, to cancel its
position bias; when the two verdicts disagree the pair is a tie. People see each pair once, in a random order.

Beside the win / tie / loss rates (bootstrap 95% intervals over prompts) every report gives the judge's
quality figures: position bias (how often the answer shown first won among decisive single-order verdicts;
0.5 = none), order agreement (pairs whose two orders agree), and a length-controlled win rate in the style
of AlpacaEval 2 (:func:`~lima_hf.evaluation.stats.length_controlled_win_rate`), beside the raw preference
``(wins + ties / 2) / pairs``. The reply parser and the figures are plain functions of
:mod:`lima_hf.evaluation.parsing` and :mod:`lima_hf.evaluation.stats`, which the ``evaluate`` metric modules
ship without lima_hf.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lima_hf.errors import ConfigError
from lima_hf.evaluation import plots
from lima_hf.evaluation.parsing import PREFERENCE_LABELS, parse_preference
from lima_hf.evaluation.protocols.base import Protocol
from lima_hf.evaluation.reports import num, pct
from lima_hf.evaluation.responses import align
from lima_hf.evaluation.stats import (
    ORDERS,
    OUTCOMES,
    combine_orders,
    length_controlled_win_rate,
    ours_perspective,
    pair_outcome,
    preference_summary,
)

__all__ = ["Pairwise", "build_pairs", "combine_orders", "length_controlled_win_rate", "pair_outcome",
           "parse_preference", "preference_summary", "run_pairwise"]

PAIRWISE_TEMPLATE = """\
Imagine that you have a super-intelligent AI assistant, and that you require help with the following \
question. Which answer best satisfies your needs?

Question: {question}

Answer A:
{answer_a}

Answer B:
{answer_b}

Comparing these two answers, which answer is better?
1. Answer A is significantly better.
2. Answer B is significantly better.
3. Neither is significantly better.

Briefly explain your choice, then write "Choice: 1", "Choice: 2" or "Choice: 3" on the last line."""

def build_pairs(
    ours: list[dict], baseline: list[dict], ours_name: str = "ours", baseline_name: str = "baseline"
) -> list[dict[str, Any]]:
    """Pairs ``{"id", "sample", "prompt", "ours_response", "baseline_response"}``; sample ``s`` of ours
    is paired with sample ``s`` of the baseline, for as many samples as both have."""
    ours_by_id, base_by_id = align(ours, baseline, ours_name, baseline_name)
    pairs = []
    for prompt_id, ours_group in ours_by_id.items():
        for ours_record, base_record in zip(ours_group, base_by_id[prompt_id]):
            pairs.append(
                {
                    "id": prompt_id,
                    "sample": ours_record["sample"],
                    "prompt": ours_record["prompt"] or base_record["prompt"],
                    "ours_response": ours_record["response"],
                    "baseline_response": base_record["response"],
                }
            )
    return pairs


def pair_key(pair: dict, order: str) -> str:
    return f"{pair['id']}|{pair['sample']}|{order}"


def shown(pair: dict, order: str) -> tuple[str, str]:
    """``(answer A, answer B)`` of a pair shown in ``order`` (``ours_first`` or ``baseline_first``)."""
    if order == "ours_first":
        return pair["ours_response"], pair["baseline_response"]
    return pair["baseline_response"], pair["ours_response"]


def random_order(pair: dict, seed: int) -> str:
    """The one order a pair is shown in when not both: a stable coin flip per pair."""
    import zlib

    return ORDERS[zlib.crc32(f"{seed}|{pair['id']}|{pair['sample']}".encode()) % 2]


@dataclass
class PairwiseArguments:
    """Options of ``lima-hf evaluate pairwise``."""

    baselines: list[str] = field(default_factory=list, metadata={"help": "NAME=FILE of each baseline's answers."})
    both_orders: bool = field(
        default=True, metadata={"help": "Judge each pair in both orders (ties on disagreement); else one random order."}
    )


class Pairwise(Protocol):
    """Our answers against each baseline's (module docstring)."""

    name = "pairwise"
    description = "pairwise preference: our answer vs each baseline's, in both orders (Figures 1-2)"
    title = "Pairwise preference"
    template = PAIRWISE_TEMPLATE
    placeholders = frozenset({"question", "answer_a", "answer_b"})
    choices = ("Choice: 1", "Choice: 2", "Choice: 3")
    labels = PREFERENCE_LABELS
    label_help = '"A better", "B better" or "neither"'
    plot_file = "preference.png"
    summaries_key = "baselines"
    tie = "tie"
    Arguments = PairwiseArguments
    parse = staticmethod(parse_preference)

    def __init__(self, judge, output_dir, *, ours_name: str = "ours", **kwargs):
        kwargs.pop("baselines", None)  # a command-line option, given to run() as systems
        super().__init__(judge, output_dir, **kwargs)
        self.ours_name = ours_name

    @classmethod
    def systems_from_arguments(cls, args, options, named) -> dict[str, str]:
        if len(args.responses) != 1:
            raise ConfigError("pairwise: give our answers as one --responses FILE")
        if not options.baselines:
            raise ConfigError("pairwise: --baselines NAME=FILE [NAME=FILE ...] is required")
        ours = named(args.responses, "--responses", args.name)
        baselines = named(options.baselines, "--baselines")
        if args.name in baselines:
            raise ConfigError(f"pairwise: a baseline is named {args.name!r} like our system")
        return {args.name: next(iter(ours.values())), **baselines}

    def run(self, systems):  # the first system is ours
        self.ours_name = next(iter(systems))
        return super().run(systems)

    def items(self, systems: Mapping[str, list[dict]]) -> dict[str, list[dict]]:
        (ours_name, ours), *baselines = systems.items()
        return {name: build_pairs(ours, records, ours_name, name) for name, records in baselines}

    def requests(self, pairs: list[dict]) -> list[dict[str, Any]]:
        requests = []
        for pair in pairs:
            orders = ORDERS if self.options["both_orders"] else (random_order(pair, self.seed),)
            for order in orders:
                answer_a, answer_b = shown(pair, order)
                requests.append({
                    "key": pair_key(pair, order),
                    "prompt": self.instructions.format(question=pair["prompt"], answer_a=answer_a, answer_b=answer_b),
                    "fields": {"question": pair["prompt"], "answer_a": answer_a, "answer_b": answer_b},
                    "group": f"{pair['id']}|{pair['sample']}",
                })
        return requests

    def apply(self, pairs: list[dict], verdicts: Mapping[str, dict]) -> list[dict]:
        result = []
        for pair in pairs:
            pair = dict(pair)
            for order in ORDERS:
                verdict = verdicts.get(pair_key(pair, order))
                if verdict is not None:
                    pair[order] = verdict["label"]
                    pair[f"{order}_reply"] = verdict.get("reply")
                    if "annotators" in verdict:
                        pair["raters"] = {
                            who: ours_perspective(label, order == "ours_first")
                            for who, label in verdict["annotators"].items()
                        }
            pair["outcome"] = pair_outcome(pair)
            result.append(pair)
        return result

    def rating(self, pair: dict) -> tuple[str, Any]:
        return f"{pair['id']}|{pair['sample']}", pair["outcome"] if pair["outcome"] in OUTCOMES else None

    def summarize(self, pairs: list[dict]) -> dict[str, Any]:
        return preference_summary(pairs, n_resamples=self.n_resamples, seed=self.seed)

    def extra_figures(self) -> dict[str, Any]:
        return {"system": self.ours_name, "both_orders": self.options["both_orders"]}

    def table(self, summaries: Mapping[str, dict]) -> str:
        system = self.ours_name
        header = [f"{system} vs", "wins", "ties", "loses", "wins or ties", "pairs", "unparsed"]
        header += ["preference (raw)", "preference (length-controlled)", "first position preferred",
                   "order agreement", f"mean words ({system} / baseline)"]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for name, s in summaries.items():
            iv, lengths, lc = s["intervals_95"], s["lengths"], s["length_control"]
            cells = [name, *(pct(s["rates"][k], iv[k]) for k in OUTCOMES), pct(s["win_or_tie"])]
            cells += [str(s["pairs"]), str(s["counts"]["unparsed"]), pct(lc["raw"]), pct(lc["length_controlled"])]
            cells += [pct(s["position"]["first_preferred_rate"]), pct(s["agreement"]["rate"])]
            cells += [f"{num(lengths['ours'].get('mean_words'), 0)} / {num(lengths['baseline'].get('mean_words'), 0)}"]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def notes(self, summaries) -> list[str]:
        return [
            "each pair judged in both orders, disagreement counted as a tie" if self.options["both_orders"]
            else "one random order per pair",
            ("rates are over parsed pairs, with bootstrap 95% intervals over prompts; "
            "'unparsed' pairs had an unreadable verdict (or no label yet)"),
            ("preference = (wins + ties / 2) / pairs; length-controlled: logistic regression on tanh(word-count "
            "difference / sd), read at zero difference (AlpacaEval 2 style); first position preferred: 50% = no "
            "position bias"),
        ]

    def plot(self, summaries: Mapping[str, dict], path) -> None:
        """One stacked bar per baseline (ours wins, tie, ours loses), and the raw vs length-controlled preference."""
        plt = plots.pyplot()
        rows = list(summaries)
        fig, (ax, lc_ax) = plt.subplots(1, 2, figsize=(11, 0.6 * len(rows) + 1.6), width_ratios=[3, 1.3])
        plots.stacked_bars(ax, summaries, OUTCOMES,
                           (f"{self.ours_name} wins", "Tie", f"{self.ours_name} loses"))
        ax.set_title(f"Pairwise preference: {self.ours_name} vs baselines")
        for y, row in enumerate(rows):
            lc = summaries[row]["length_control"]
            for value, marker, label in ((lc["raw"], "o", "raw"), (lc["length_controlled"], "D", "length-controlled")):
                if value is not None and not math.isnan(value):
                    lc_ax.plot(value * 100, y, marker, color="#2c3e50" if marker == "o" else plots.COLORS["win"],
                               label=label if y == 0 else None)
        lc_ax.axvline(50, color="#b0b0b0", linestyle="--", linewidth=1)
        lc_ax.set_yticks(range(len(rows)), [""] * len(rows))
        lc_ax.set_ylim(len(rows) - 0.5, -0.5)
        lc_ax.set_xlim(0, 100)
        lc_ax.set_xlabel("preference %")
        lc_ax.set_title("length control")
        lc_ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25 if len(rows) < 3 else -0.12), frameon=False,
                     fontsize=8)
        plots.save(fig, path)
        plt.close(fig)


def run_pairwise(ours, baselines: Mapping[str, Any], output_dir, judge, *, ours_name: str = "ours",
                 template_path=None, both_orders: bool = True, retries: int = 2, n_resamples: int = 1000,
                 seed: int = 0, agree_with=None, progress: bool = True) -> dict[str, Any]:
    """Our answers (``ours``, a response JSONL) against each baseline's; returns the report's figures."""
    protocol = Pairwise(judge, output_dir, ours_name=ours_name, template_path=template_path, retries=retries,
                        n_resamples=n_resamples, seed=seed, agree_with=agree_with, progress=progress,
                        both_orders=both_orders)
    return protocol.run({ours_name: ours, **baselines})
