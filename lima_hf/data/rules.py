"""LIMA's curation rules, each written once as a named filter, in the spirit of datatrove's ``BaseFilter``.

A rule is one small object: :meth:`Rule.find` returns what fails it in an :class:`Example` (the first-person
word, the phrase that refers to other answers, ``"1,003 characters"``) or ``None``, and :meth:`Rule.check`
turns that into ``(reason, detail)``. The reason is the rule's :attr:`~Rule.reason`, the one code every
consumer reports: Stack Exchange curation (``stackexchange/candidates.py``), the calibration against the
released answers (``stackexchange/calibration.py``) and dataset selection (``selection/pipeline.py``).

:func:`lima_rules` lists the rules in the paper's order (Zhou et al., 2023, section 2.1): the title can stand
alone, the question has an answer scored ``>= min_answer_score``, the answer is 1,200-4,096 characters, not in
the first person, with no reference to other answers, and (beyond the paper) no pointer to content the
conversion removed. :class:`RuleChain` applies a list in order and reports the first failure; with a
rejection log it writes the rejection (:func:`~lima_hf.data.records.make_rejection`) and counts it per
reason, as datatrove's filters do with their exclusion writer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from lima_hf.data.filters import (
    first_person_match,
    is_self_contained_title,
    other_answer_reference,
    removed_content_reference,
)
from lima_hf.data.records import make_rejection


@dataclass(frozen=True)
class Example:
    """What the rules look at: an answer's text as the model sees it (``None``: no eligible answer), the
    question's title where there is one, and the answer's id, which details name when given."""

    answer: str | None
    title: str | None = None
    answer_id: int | str | None = None


class Rule:
    """One rule: ``reason`` (its code), :meth:`find` (the evidence of a failure, or ``None``) and
    :meth:`describe` (that evidence as the rejection's detail)."""

    reason: str = ""
    about_answer: bool = True  # details start with "answer <id>: " when the example names its answer

    def find(self, example: Example) -> str | None:
        raise NotImplementedError

    def describe(self, evidence: str) -> str:
        return evidence

    def check(self, example: Example) -> tuple[str, str] | None:
        """``None`` when ``example`` passes, else ``(reason, detail)``."""
        evidence = self.find(example)
        if evidence is None:
            return None
        detail = self.describe(evidence)
        if self.about_answer and example.answer_id is not None:
            detail = f"answer {example.answer_id}: {detail}"
        return self.reason, detail

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason})"


class SelfContainedTitle(Rule):
    """The title can stand alone as the prompt (:func:`~lima_hf.data.filters.is_self_contained_title`)."""

    reason, about_answer = "title_not_self_contained", False

    def find(self, example):
        if example.title is None or is_self_contained_title(example.title):
            return None
        return example.title

    def describe(self, evidence):
        return f"title {evidence!r}"


class HasAnswer(Rule):
    """The question has an answer (scored at least ``min_score`` when one is given)."""

    about_answer = False

    def __init__(self, min_score: int | None = None):
        self.min_score = min_score
        self.reason = "no_answer" if min_score is None else "no_answer_min_score"

    def find(self, example):
        if example.answer is not None:
            return None
        if self.min_score is None:
            return "the question has no answer"
        return f"no answer with score >= {self.min_score}"


class _LengthRule(Rule):
    def __init__(self, min_chars: int = 1200, max_chars: int = 4096):
        self.min_chars, self.max_chars = min_chars, max_chars

    def describe(self, evidence):
        return f"{evidence} (window {self.min_chars}-{self.max_chars})"


class AnswerTooShort(_LengthRule):
    """The answer has at least ``min_chars`` characters (of the converted Markdown)."""

    reason = "answer_too_short"

    def find(self, example):
        return f"{len(example.answer)} characters" if len(example.answer) < self.min_chars else None


class AnswerTooLong(_LengthRule):
    """The answer has at most ``max_chars`` characters."""

    reason = "answer_too_long"

    def find(self, example):
        return f"{len(example.answer)} characters" if len(example.answer) > self.max_chars else None


class FirstPerson(Rule):
    """The answer's own prose is not in the first person (:func:`~lima_hf.data.filters.first_person_match`)."""

    reason = "first_person"

    def find(self, example):
        return first_person_match(example.answer)

    def describe(self, evidence):
        return f"first person ({evidence!r})"


class OtherAnswers(Rule):
    """The answer does not refer to other answers, comments or the site."""

    reason = "other_answers"

    def find(self, example):
        return other_answer_reference(example.answer)

    def describe(self, evidence):
        return f"refers to other answers ({evidence!r})"


class RemovedContent(Rule):
    """The answer does not point at an image, figure, link or attachment the conversion removed (beyond the
    paper)."""

    reason = "leans_on_removed_content"

    def find(self, example):
        return removed_content_reference(example.answer)

    def describe(self, evidence):
        return f"points at removed content ({evidence!r})"


def answer_rules(min_chars: int = 1200, max_chars: int = 4096, *, first_person: bool = True,
                 other_answers: bool = True, removed_content: bool = True) -> list[Rule]:
    """The rules on an answer's text, in the paper's order (length, first person, other answers), then the
    removed-content rule."""
    rules: list[Rule] = [AnswerTooShort(min_chars, max_chars), AnswerTooLong(min_chars, max_chars)]
    rules += [FirstPerson()] if first_person else []
    rules += [OtherAnswers()] if other_answers else []
    rules += [RemovedContent()] if removed_content else []
    return rules


def lima_rules(config) -> list[Rule]:
    """Every rule ``config`` (a Stack Exchange :class:`~lima_hf.data.sources.stackexchange.config.Config`)
    enables, in the paper's order; with ``config.unfiltered`` only :class:`HasAnswer` (any score)."""
    if config.unfiltered:
        return [HasAnswer()]
    rules: list[Rule] = [SelfContainedTitle()] if config.require_self_contained_title else []
    rules.append(HasAnswer(config.min_answer_score))
    return rules + answer_rules(config.min_chars, config.max_chars, first_person=config.filter_first_person,
                                other_answers=config.filter_other_answers,
                                removed_content=config.filter_removed_content)


REASONS = ("title_not_self_contained", "no_answer_min_score", "answer_too_short", "answer_too_long", "first_person",
           "other_answers", "leans_on_removed_content", "no_answer")
"""Every reason code of the rules above, in the paper's order (``no_answer``: the unfiltered arm's only rule)."""


class RuleChain:
    """Rules applied in order; the first one an example fails is its rejection. :meth:`screen` also writes
    the rejection to a log and counts it per reason (``counts``)."""

    def __init__(self, rules: Iterable[Rule]):
        self.rules = tuple(rules)
        self.counts: Counter[str] = Counter()

    def first_failure(self, example: Example) -> tuple[str, str] | None:
        """``(reason, detail)`` of the first rule ``example`` fails, or ``None``."""
        for rule in self.rules:
            failure = rule.check(example)
            if failure is not None:
                return failure
        return None

    def screen(self, example: Example, *, rejections: list[dict], source: str, id: str) -> bool:
        """Whether ``example`` passes; when it does not, its rejection is appended to ``rejections``."""
        failure = self.first_failure(example)
        if failure is None:
            return True
        reject(rejections, source=source, id=id, reason=failure[0], detail=failure[1])
        self.counts[failure[0]] += 1
        return False


def reject(rejections: list[dict], *, source: str, id: str, reason: str, detail: str = "") -> None:
    """Append one rejection to a source's log: the one way sources write a rejection."""
    rejections.append(make_rejection(source=source, id=id, reason=reason, detail=detail))
