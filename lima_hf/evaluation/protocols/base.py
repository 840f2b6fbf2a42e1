"""What every protocol shares: read the answers, ask the judge, aggregate, write the report.

A protocol is a :class:`Protocol` subclass in one module holding everything about it (the model of TRL,
which keeps a trainer, its collator and its loss in one file): its judge ``template`` and placeholders, the
allowed answers (``choices`` for a constrained model judge, ``labels`` for people) and :meth:`~Protocol.parse`,
how answers become judge requests (:meth:`~Protocol.items`, :meth:`~Protocol.requests`), how verdicts are
read back (:meth:`~Protocol.apply`) and aggregated (:meth:`~Protocol.summarize`), its report table and plot.
:meth:`Protocol.run` does the rest the same way for every protocol and every judge (people included):
``OUTPUT_DIR/report.json`` (every figure), ``report.md`` (table, notes, agreement), a PNG plot, ``details/``
(every item with its verdict) and ``judgments/`` (the resumable judge cache). Register a new protocol in
:data:`lima_hf.evaluation.protocols.PROTOCOLS` and ``lima-hf evaluate NAME`` runs it.
"""

from __future__ import annotations

import os
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from lima_hf.errors import InputError
from lima_hf.evaluation import reports
from lima_hf.evaluation.agreement import agreement_table
from lima_hf.evaluation.judges.base import Judge, JudgeTask, LabelsPending
from lima_hf.evaluation.parsing import ABSOLUTE_LABELS, parse_absolute
from lima_hf.evaluation.responses import describe_prompts, load_responses
from lima_hf.io import read_jsonl

Path_ = str | os.PathLike

def item_key(item: dict) -> str:
    """``id|sample``: one answer of one prompt."""
    return f"{item['id']}|{item['sample']}"


def response_items(records: list[dict]) -> list[dict[str, Any]]:
    """``{"id", "sample", "prompt", "response"}`` items of response records (ids default to the prompt)."""
    items = []
    for record in records:
        prompt_id = record["id"] if record.get("id") is not None else record["prompt"].strip()
        item = {"id": prompt_id, "sample": record["sample"], "prompt": record["prompt"], "response": record["response"]}
        if record.get("messages"):
            item["messages"] = record["messages"]
        items.append(item)
    return items


class Protocol:
    """One evaluation protocol; see the module docstring. Subclasses set the class attributes."""

    name: ClassVar[str]
    description: ClassVar[str]
    title: ClassVar[str]
    template: ClassVar[str]
    placeholders: ClassVar[frozenset[str]]
    choices: ClassVar[tuple[str, ...]]
    labels: ClassVar[tuple[str, ...]]
    label_help: ClassVar[str]
    plot_file: ClassVar[str]
    summaries_key: ClassVar[str] = "systems"
    tie: ClassVar[Any] = None
    needs_judge: ClassVar[bool] = True  # False: answers are checked by code (``lima-hf evaluate`` takes no --judge)
    Arguments: ClassVar[type | None] = None

    def __init__(
        self,
        judge: Judge,
        output_dir: Path_,
        *,
        template_path: Path_ | None = None,
        retries: int = 2,
        n_resamples: int = 1000,
        seed: int = 0,
        agree_with: Path_ | None = None,
        progress: bool = True,
        **options: Any,
    ):
        if judge is None:
            raise TypeError("a protocol needs a judge: a model judge, or PeopleJudge() for people")
        self.judge, self.output_dir = judge, Path(output_dir)
        self.instructions = self.load_template(template_path)
        self.retries, self.n_resamples, self.seed, self.progress = retries, n_resamples, seed, progress
        self.agree_with = Path(agree_with) if agree_with else None
        defaults = self.Arguments() if self.Arguments else None
        self.options = {**(vars(defaults) if defaults else {}), **options}
        unknown = set(options) - set(vars(defaults) if defaults else {})
        if unknown:
            raise TypeError(f"{self.name}: unknown options {', '.join(sorted(unknown))}")

    # --- what a protocol defines -------------------------------------------------------------------------
    @staticmethod
    def parse(reply: str | None) -> Any:
        """The label in a judge's (or a person's) reply, or ``None`` when it cannot be read."""
        raise NotImplementedError

    def items(self, systems: Mapping[str, list[dict]]) -> dict[str, list[dict]]:
        """``task name -> items`` to judge, from each system's response records."""
        return {name: response_items(records) for name, records in systems.items()}

    def requests(self, items: list[dict]) -> list[dict[str, Any]]:
        """Judge requests ``{"key", "prompt", "fields"[, "group"]}`` of ``items``."""
        raise NotImplementedError

    def apply(self, items: list[dict], verdicts: Mapping[str, dict]) -> list[dict]:
        """``items`` with their verdicts (and ``raters``: each annotator's rating, when people labelled)."""
        raise NotImplementedError

    def rating(self, item: dict) -> tuple[str, Any]:
        """``(item id, rating)`` of a judged item, for agreement between raters."""
        raise NotImplementedError

    def summarize(self, items: list[dict]) -> dict[str, Any]:
        raise NotImplementedError

    def table(self, summaries: Mapping[str, dict]) -> str:
        raise NotImplementedError

    def plot(self, summaries: Mapping[str, dict], path: Path) -> None:
        raise NotImplementedError

    def notes(self, summaries: Mapping[str, dict]) -> list[str]:
        return []

    def extra_figures(self) -> dict[str, Any]:
        return {}

    @classmethod
    def systems_from_arguments(cls, args, options, named) -> dict[str, str]:
        """``name -> response file`` from ``lima-hf evaluate`` options; ``named(values, option, default_name)``
        reads ``NAME=FILE`` values (``--responses NAME=FILE ...``)."""
        return named(args.responses, "--responses", args.name)

    # --- shared --------------------------------------------------------------------------------------------
    @classmethod
    def load_template(cls, path: Path_ | None = None) -> str:
        """The paper's template, or the one in ``path`` (same placeholders; literal braces as ``{{ }}``)."""
        if path is None:
            return cls.template
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"{path}: cannot read the {cls.name} judge template ({err})") from err
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError as err:
            raise InputError(f"{path}: malformed template ({err}); write literal braces as '{{{{' and '}}}}'") from err
        if fields != set(cls.placeholders):
            raise InputError(
                f"{path}: a {cls.name} template needs the placeholders {sorted(cls.placeholders)}, found {sorted(fields)}"
            )
        return text

    def task(self, name: str, items: list[dict], cache_file: Path_ | None = None) -> JudgeTask:
        """The :class:`JudgeTask` of ``items`` (the task ``name``: a system, or a baseline for pairwise)."""
        placeholder = {p: f"<{p.replace('_', ' ')}>" for p in self.placeholders}
        return JudgeTask(
            protocol=self.name, name=name, requests=self.requests(items), parse=self.parse, choices=self.choices,
            labels=self.labels, instructions=self.instructions.format(**placeholder), folder=self.output_dir,
            retries=self.retries, label_help=self.label_help, cache_file=Path(cache_file) if cache_file else None,
        )

    def judge_all(self, systems: Mapping[str, Path_]) -> dict[str, list[dict]]:
        """``task name -> judged items``; :class:`LabelsPending` once every task is exported, if people have
        not labelled yet."""
        records = {name: load_responses(path) for name, path in systems.items()}
        self.prompts = {name: describe_prompts(r) for name, r in records.items()}
        judged, pending = {}, []
        for name, items in self.items(records).items():
            try:
                verdicts = self.judge.verdicts(self.task(name, items), progress=self.progress)
            except LabelsPending as waiting:
                pending.append(str(waiting))
                continue
            judged[name] = self.apply(items, verdicts)
        if pending:
            raise LabelsPending("\n".join(pending))
        return judged

    def agreement(self, judged: Mapping[str, list[dict]]) -> list[dict[str, Any]]:
        """Tie-discounted accuracy between every two raters with shared items: each annotator (when people
        labelled), else this report's judge, and likewise the raters of another report (``agree_with``)."""
        raters: dict[str, dict] = {}
        self._add_raters(raters, judged, f"judge: {self.judge.name}")
        if self.agree_with is not None:
            other = reports.read_figures(self.agree_with)
            details = {}
            for name in judged:
                path = self.agree_with / "details" / f"{name}.jsonl"
                if path.is_file():
                    details[name] = [item for _, item in read_jsonl(path)]
            self._add_raters(raters, details, f"judge: {other.get('judge')} ({self.agree_with.name})")
        return agreement_table(raters, self.tie)

    def _add_raters(self, raters: dict, judged: Mapping[str, list[dict]], judge_label: str) -> None:
        for name, items in judged.items():
            for item in items:
                item_id, rating = self.rating(item)
                if item.get("raters"):
                    for annotator, value in item["raters"].items():
                        raters.setdefault(f"annotator: {annotator}", {})[(name, item_id)] = value
                elif "raters" not in item:
                    raters.setdefault(judge_label, {})[(name, item_id)] = rating

    def run(self, systems: Mapping[str, Path_]) -> dict[str, Any]:
        """Judge ``systems`` (``name -> response JSONL``), write the report; return its figures."""
        judged = self.judge_all(systems)
        summaries = {name: self.summarize(items) for name, items in judged.items()}
        plot = self.output_dir / self.plot_file
        self.plot(summaries, plot)
        agreement = self.agreement(judged)
        figures = {
            "kind": self.name,
            "judge": self.judge.name,
            "prompts": self.prompts,
            **self.extra_figures(),
            self.summaries_key: summaries,
            "agreement": agreement,
        }
        notes = [f"judge: {self.judge.name}", *self.notes(summaries)]
        notes += [f"{name} answered {described}" for name, described in self.prompts.items()]
        table = self.table(summaries)
        if agreement:
            table += "\n\n" + reports.agreement_table(agreement)
        reports.write_report(self.output_dir, self.title, figures, table, judged, notes, [str(plot)])
        return figures


class SingleAnswerProtocol(Protocol):
    """A protocol that grades each answer alone (Likert, absolute rating); subclasses set ``field``, the
    item key the parsed verdict goes in, and the rest of :class:`Protocol`."""

    field: ClassVar[str]

    def requests(self, items: list[dict]) -> list[dict[str, Any]]:
        return [
            {
                "key": item_key(item),
                "prompt": self.instructions.format(question=item["prompt"], answer=item["response"]),
                "fields": {"question": item["prompt"], "answer": item["response"]},
            }
            for item in items
        ]

    def apply(self, items: list[dict], verdicts: Mapping[str, dict]) -> list[dict]:
        judged = []
        for item in items:
            verdict = verdicts.get(item_key(item)) or {}
            item = {**item, self.field: verdict.get("label"), "reply": verdict.get("reply")}
            if "annotators" in verdict:
                item["raters"] = dict(verdict["annotators"])
            judged.append(item)
        return judged

    def rating(self, item: dict) -> tuple[str, Any]:
        return item_key(item), item.get(self.field)

    @classmethod
    def grade(cls, items: list[dict], judge: Judge, cache_path: Path_, *, template: str | None = None,
              retries: int = 2, progress: bool = True) -> list[dict]:
        """Grade ``items`` (``id``, ``sample``, ``prompt``, ``response``) without a report: the items with
        their verdict in ``field`` and the judge's ``reply``; judgments kept in ``cache_path``."""
        protocol = cls(judge, Path(cache_path).parent, retries=retries, progress=progress)
        if template is not None:
            protocol.instructions = template
        task = protocol.task("grades", items, cache_file=cache_path)
        return protocol.apply(items, judge.verdicts(task, progress=progress))


class FailPassExcellent:
    """The answers of a Fail / Pass / Excellent rating (Figure 3, Section 4.4), mixed into a :class:`Protocol`:
    the judge's constrained choices, the labels people pick from, and the parser of a reply."""

    choices = tuple(f"Rating: {label}" for label in ABSOLUTE_LABELS)
    labels = ABSOLUTE_LABELS
    parse = staticmethod(parse_absolute)
