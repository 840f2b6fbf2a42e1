"""Multi-turn dialogue, rated turn by turn (the paper's Section 4.4): every assistant turn of every dialogue
rated Fail / Pass / Excellent given the conversation so far.

The paper compares the model trained on the 1,000 single-turn examples (zero-shot dialogue) with the one
trained on them plus 30 dialogues (1,030): the share of Excellent responses, how the fails spread over the
turns, and how many of its conversations fail within the first 3 turns. Answer the dialogue prompts with
``lima-hf generate`` (it answers turn by turn and records ``messages``), then
``lima-hf evaluate multi-turn --responses zero-shot=A.jsonl dialogues=B.jsonl``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lima_hf.errors import InputError
from lima_hf.evaluation import plots, stats
from lima_hf.evaluation.parsing import ABSOLUTE_LABELS
from lima_hf.evaluation.protocols.base import (
    FailPassExcellent,
    Protocol,
    response_items,
)
from lima_hf.evaluation.reports import pct

MULTI_TURN_TEMPLATE = """\
Read the conversation between a user and an AI assistant, and rate the assistant's last response.

Conversation so far:
{conversation}

The assistant's last response:
{answer}

Choose one rating:
Fail - the response did not meet the requirements of the user's last message in this conversation.
Pass - the response met the requirements of the user's last message in this conversation.
Excellent - the model provided an excellent response to the user's last message in this conversation.

Briefly explain your rating, then write "Rating: Fail", "Rating: Pass" or "Rating: Excellent" on the last line."""


def conversation_text(messages: list[dict]) -> str:
    """``User: ...`` / ``Assistant: ...`` paragraphs."""
    return "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages)


def turn_items(item: dict) -> list[dict[str, Any]]:
    """One item per assistant turn of a dialogue: ``turn`` (1-based), ``turns``, ``conversation`` (every
    message before it) and ``response`` (that turn's answer)."""
    messages = item.get("messages") or []
    turns = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
    if not turns:
        raise InputError(f"answer {item['id']!r} (sample {item['sample']}) has no 'messages' to rate turn by turn; "
                         "answer the dialogues with `lima-hf generate`")
    return [
        {"id": item["id"], "sample": item["sample"], "turn": n, "turns": len(turns), "prompt": item["prompt"],
         "conversation": conversation_text(messages[:index]), "response": messages[index]["content"]}
        for n, index in enumerate(turns, start=1)
    ]


def multi_turn_summary(items: list[dict], within: int = 3, n_resamples: int = 1000, seed: int = 0) -> dict:
    """Shares of Fail / Pass / Excellent over rated turns, fails per turn number, and conversations (a prompt
    and sample) failing within the first ``within`` turns."""
    labels = [i["label"] for i in items]
    conversations: dict[tuple, list[dict]] = {}
    for item in items:
        conversations.setdefault((item["id"], item["sample"]), []).append(item)
    by_turn: dict[int, list[str | None]] = {}
    for item in items:
        by_turn.setdefault(item["turn"], []).append(item["label"])
    failed_early = sum(any(t["label"] == "Fail" and t["turn"] <= within for t in turns)
                       for turns in conversations.values())
    groups = [[i["label"] for i in group] for group in stats.grouped(items)]
    return {
        "turns_rated": sum(label in ABSOLUTE_LABELS for label in labels),
        "unparsed": sum(label is None for label in labels),
        "conversations": len(conversations),
        "counts": {name: labels.count(name) for name in ABSOLUTE_LABELS},
        "rates": dict(zip(ABSOLUTE_LABELS, stats.shares(labels, ABSOLUTE_LABELS))),
        "intervals_95": stats.bootstrap_shares(groups, ABSOLUTE_LABELS, n_resamples, seed),
        "excellent_rate": stats.shares(labels, ABSOLUTE_LABELS)[2],
        "fails_by_turn": {str(turn): values.count("Fail") for turn, values in sorted(by_turn.items())},
        "fail_rate_by_turn": {str(turn): stats.shares(values, ABSOLUTE_LABELS)[0]
                              for turn, values in sorted(by_turn.items())},
        "within_turns": within,
        "failed_within": failed_early,
        "failed_within_per_10": 10 * failed_early / len(conversations) if conversations else math.nan,
    }


@dataclass
class MultiTurnArguments:
    """Options of ``lima-hf evaluate multi-turn``."""

    within_turns: int = field(
        default=3, metadata={"help": "Count the conversations with a Fail within this many turns (the paper: 3)."}
    )


class MultiTurn(FailPassExcellent, Protocol):
    """Every assistant turn of each system's dialogues rated Fail / Pass / Excellent (module docstring)."""

    name = "multi-turn"
    description = "multi-turn dialogue rated turn by turn, Fail / Pass / Excellent (Section 4.4)"
    title = "Multi-turn dialogue, rated turn by turn"
    template = MULTI_TURN_TEMPLATE
    placeholders = frozenset({"conversation", "answer"})
    label_help = '"Fail", "Pass" or "Excellent" for the last response, given the conversation before it'
    plot_file = "multi_turn.png"
    Arguments = MultiTurnArguments

    @staticmethod
    def key(item: dict) -> str:
        return f"{item['id']}|{item['sample']}|{item['turn']}"

    def items(self, systems):
        return {name: [t for item in response_items(records) for t in turn_items(item)]
                for name, records in systems.items()}

    def requests(self, items):
        return [
            {"key": self.key(i), "prompt": self.instructions.format(conversation=i["conversation"], answer=i["response"]),
             "fields": {"conversation": i["conversation"], "answer": i["response"]}}
            for i in items
        ]

    def apply(self, items, verdicts):
        judged = []
        for item in items:
            verdict = verdicts.get(self.key(item)) or {}
            item = {**item, "label": verdict.get("label"), "reply": verdict.get("reply")}
            if "annotators" in verdict:
                item["raters"] = dict(verdict["annotators"])
            judged.append(item)
        return judged

    def rating(self, item):
        return self.key(item), item.get("label")

    def summarize(self, items):
        return multi_turn_summary(items, self.options["within_turns"], self.n_resamples, self.seed)

    def table(self, summaries: Mapping[str, dict]) -> str:
        within = self.options["within_turns"]
        lines = [(f"| system | Fail | Pass | Excellent | turns rated | unparsed | conversations | failed within {within} "
                 "turns | fails per turn (turn 1, 2, ...) |"), "|---|---|---|---|---|---|---|---|---|"]
        for name, s in summaries.items():
            iv = s["intervals_95"]
            cells = " | ".join(pct(s["rates"][label], iv[label]) for label in ABSOLUTE_LABELS)
            fails = ", ".join(str(v) for v in s["fails_by_turn"].values())
            lines.append(f"| {name} | {cells} | {s['turns_rated']} | {s['unparsed']} | {s['conversations']} | "
                         f"{s['failed_within']} of {s['conversations']} ({s['failed_within_per_10']:.1f} in 10) | "
                         f"{fails} |")
        return "\n".join(lines)

    def notes(self, summaries):
        return [("every assistant turn rated given the conversation before it; shares over rated turns with "
                "bootstrap 95% intervals over dialogues")]

    def plot(self, summaries, path) -> None:
        """Fail / Pass / Excellent shares per system, and the fail rate at each turn number."""
        plt = plots.pyplot()
        fig, (ax, turns_ax) = plt.subplots(1, 2, figsize=(11, 0.6 * len(summaries) + 2.2), width_ratios=[3, 2])
        plots.stacked_bars(ax, summaries, ABSOLUTE_LABELS, ABSOLUTE_LABELS)
        ax.set_xlabel("% of turns")
        ax.set_title("Turn ratings")
        for name, s in summaries.items():
            turns = [int(t) for t in s["fail_rate_by_turn"]]
            rates = [100 * (v if v is not None and not math.isnan(v) else 0) for v in s["fail_rate_by_turn"].values()]
            turns_ax.plot(turns, rates, marker="o", label=name)
        turns_ax.set_xlabel("turn")
        turns_ax.set_ylabel("% Fail")
        turns_ax.set_ylim(0, 100)
        turns_ax.set_title("Fails per turn")
        turns_ax.grid(alpha=0.3)
        turns_ax.legend(fontsize=8)
        plots.save(fig, path)
        plt.close(fig)
