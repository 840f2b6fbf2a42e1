"""Calibration against the released data: our answer rules run over LIMA's own Stack Exchange answers.

:func:`calibrate` applies every answer rule of the curation (:func:`lima_hf.data.rules.answer_rules`: length
window, first person, other answers, removed content; the same objects and reason codes), each on its own, to the released answers of one source, counts how many pass and keeps a
few examples of each failure; given a rebuild (our curated records), it also compares the two sets' length,
first-person, reference and removed-content distributions. ``dataset_scripts/calibrate.py`` prints it.
The title rule is not run: the released prompts are a title or a body, and which one is not recorded.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from lima_hf.data.rules import Example, FirstPerson, OtherAnswers, RemovedContent, answer_rules
from lima_hf.io import InputError

EXAMPLES = 3
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass
class RuleResult:
    """How many answers one rule passes, with examples of its failures (``(id, why, snippet)``)."""

    rule: str
    checked: int = 0
    passed: int = 0
    examples: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class Distribution:
    """Length quantiles and the share of answers each text rule flags, for one set of answers."""

    name: str
    count: int
    length_quantiles: dict[float, float]
    in_window: float
    first_person: float
    other_answers: float
    removed_content: float


@dataclass
class Calibration:
    rules: list[RuleResult]
    passed_all: int
    checked: int
    distributions: list[Distribution]


def read_release_answers(path: str | Path, source: str = "stackexchange") -> list[tuple[str, str]]:
    """``(id, answer)`` for the single-turn rows of ``source`` in a released ``train.jsonl`` (id ``file:line``)."""
    path = Path(path)
    answers = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read the released data ({err})") from err
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            turns, label = row["conversations"], row.get("source")
        except (ValueError, KeyError, TypeError) as err:
            raise InputError(f"{path}:{number}: not a GAIR/lima row ({err})") from err
        if label == source and len(turns) == 2:
            answers.append((f"{path.name}:{number}", turns[1]))
    if not answers:
        raise InputError(f"{path}: no single-turn rows with source {source!r}")
    return answers


def read_rebuild_answers(path: str | Path) -> list[tuple[str, str]]:
    """``(id, answer)`` for each record of a curated records JSONL (the first assistant message)."""
    path = Path(path)
    answers = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read the rebuild ({err})") from err
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            reply = next(m["content"] for m in record["messages"] if m["role"] == "assistant")
        except (ValueError, KeyError, TypeError, StopIteration) as err:
            raise InputError(f"{path}:{number}: not a record with an assistant message ({err})") from err
        answers.append((record.get("id") or f"{path.name}:{number}", reply))
    return answers


def calibrate(
    release: list[tuple[str, str]],
    rebuild: list[tuple[str, str]] | None = None,
    *,
    min_chars: int = 1200,
    max_chars: int = 4096,
    examples: int = EXAMPLES,
) -> Calibration:
    """Run every answer rule over ``release`` and compare distributions with ``rebuild`` when given."""
    rules = answer_rules(min_chars, max_chars)
    results = {rule.reason: RuleResult(rule.reason) for rule in rules}
    passed_all = 0
    for answer_id, text in release:
        failed = False
        for rule in rules:
            result = results[rule.reason]
            result.checked += 1
            why = rule.find(Example(text))
            if why is None:
                result.passed += 1
                continue
            failed = True
            if len(result.examples) < examples:
                result.examples.append((answer_id, why, _snippet(text, why)))
        passed_all += not failed
    distributions = [distribution("release", [t for _, t in release], min_chars, max_chars)]
    if rebuild is not None:
        distributions.append(distribution("rebuild", [t for _, t in rebuild], min_chars, max_chars))
    return Calibration(list(results.values()), passed_all, len(release), distributions)


def distribution(name: str, texts: list[str], min_chars: int = 1200, max_chars: int = 4096) -> Distribution:
    """The length quantiles and rule shares of ``texts``."""
    count = len(texts)
    lengths = sorted(len(t) for t in texts)

    def share(flag) -> float:
        return sum(1 for t in texts if flag(t)) / count if count else 0.0

    def fails(rule):
        return lambda text: rule.find(Example(text)) is not None

    quantiles = {q: _quantile(lengths, q) for q in QUANTILES} if lengths else {}
    return Distribution(name, count, quantiles, share(lambda t: min_chars <= len(t) <= max_chars),
                        share(fails(FirstPerson())), share(fails(OtherAnswers())),
                        share(fails(RemovedContent())))


def _quantile(values: list[int], q: float) -> float:
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def _snippet(text: str, why: str, width: int = 60) -> str:
    position = text.find(why) if why and not why.endswith(" characters") else -1
    if position < 0:
        return text[:width].replace("\n", " ")
    start = max(0, position - width // 2)
    return text[start:position + len(why) + width // 2].replace("\n", " ")


def print_calibration(report: Calibration, console=None) -> None:
    """The report as tables: pass counts per rule with examples, then the distributions side by side."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title=f"Answer rules over {report.checked} released answers")
    for column in ("rule", "pass", "fail", "examples of failures (id: why, context)"):
        table.add_column(column, justify="right" if column in ("pass", "fail") else "left")
    for result in report.rules:
        shown = "\n".join(f"{i}: {why!r} ...{snippet}..." for i, why, snippet in result.examples)
        table.add_row(result.rule, str(result.passed), str(result.checked - result.passed), shown)
    table.add_row("all rules", str(report.passed_all), str(report.checked - report.passed_all), "", style="bold")
    console.print(table)
    table = Table(title="Distributions")
    table.add_column("measure")
    for dist in report.distributions:
        table.add_column(f"{dist.name} ({dist.count})", justify="right")
    rows = [(f"length p{round(q * 100)}", [f"{d.length_quantiles.get(q, 0):,.0f}" for d in report.distributions])
            for q in QUANTILES]
    for label, attribute in (("in length window", "in_window"), ("first person", "first_person"),
                             ("refers to other answers", "other_answers"), ("leans on removed content",
                                                                            "removed_content")):
        rows.append((label, [f"{getattr(d, attribute):.1%}" for d in report.distributions]))
    for label, values in rows:
        table.add_row(label, *values)
    console.print(table)


def calibration_json(report: Calibration) -> dict:
    """The report as plain JSON-serialisable data."""
    return {
        "checked": report.checked,
        "passed_all": report.passed_all,
        "rules": [{"rule": r.rule, "checked": r.checked, "passed": r.passed,
                   "examples": [{"id": i, "why": w, "context": c} for i, w, c in r.examples]} for r in report.rules],
        "distributions": [{**vars(d), "length_quantiles": {str(q): v for q, v in d.length_quantiles.items()}}
                          for d in report.distributions],
    }
