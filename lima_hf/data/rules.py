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
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lima_hf.data.filters import (
    POST_POINTER_PATTERN,
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
        if self.about_answer and getattr(example, "answer_id", None) is not None:
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


class AnswerLength(Rule):
    """One end of the answer's length window (of the converted Markdown): ``end="min"`` fails answers under
    ``min_chars`` (``answer_too_short``), ``end="max"`` answers over ``max_chars`` (``answer_too_long``). The two
    ends are two rule objects so that each keeps its place and its code in the paper's order."""

    def __init__(self, min_chars: int = 1200, max_chars: int = 4096, *, end: str):
        if end not in ("min", "max"):
            raise ValueError(f"end must be 'min' or 'max', not {end!r}")
        self.min_chars, self.max_chars, self.end = min_chars, max_chars, end
        self.reason = "answer_too_short" if end == "min" else "answer_too_long"

    def find(self, example):
        length = len(example.answer)
        outside = length < self.min_chars if self.end == "min" else length > self.max_chars
        return f"{length} characters" if outside else None

    def describe(self, evidence):
        return f"{evidence} (window {self.min_chars}-{self.max_chars})"


class _AnswerPhrase(Rule):
    """A phrase of the answer that fails the rule (``search`` finds it), described as ``label (phrase)``."""

    label: str = ""
    search: Callable[[str], str | None]

    def find(self, example):
        return type(self).search(example.answer)

    def describe(self, evidence):
        return f"{self.label} ({evidence!r})"


class FirstPerson(_AnswerPhrase):
    """The answer's own prose is not in the first person (:func:`~lima_hf.data.filters.first_person_match`)."""

    reason, label, search = "first_person", "first person", staticmethod(first_person_match)


class OtherAnswers(_AnswerPhrase):
    """The answer does not refer to other answers, comments or the site."""

    reason, label, search = "other_answers", "refers to other answers", staticmethod(other_answer_reference)


class RemovedContent(_AnswerPhrase):
    """The answer does not point at an image, figure, link or attachment the conversion removed (beyond the
    paper)."""

    reason, label = "leans_on_removed_content", "points at removed content"
    search = staticmethod(removed_content_reference)


def answer_rules(min_chars: int = 1200, max_chars: int = 4096, *, first_person: bool = True,
                 other_answers: bool = True, removed_content: bool = True) -> list[Rule]:
    """The rules on an answer's text, in the paper's order (length, first person, other answers), then the
    removed-content rule."""
    rules: list[Rule] = [AnswerLength(min_chars, max_chars, end="min"), AnswerLength(min_chars, max_chars, end="max")]
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


# The rules of the other sources. Their examples are the sources' own objects; a rule reads only the attributes
# its docstring names: wikiHow's articles (``answer``, ``methods``, ``steps``), Reddit's submissions (``post``,
# the Pushshift dict; ``prompt``, the prompt taken from its title, ``None`` when the title has no accepted tag;
# ``score``), top-level comments (``comment``, ``text``: the cleaned story, ``score``) and Super-NI's task files
# (their paths, then their parsed tasks: ``categories``, ``languages``, ``definition``, ``instances``).


class AtLeast(Rule):
    """``example.<attribute>`` is at least ``minimum`` (a score, a number of methods or steps)."""

    about_answer = False

    def __init__(self, reason: str, attribute: str, minimum: int):
        self.reason, self.attribute, self.minimum = reason, attribute, minimum

    def find(self, example):
        value = getattr(example, self.attribute)
        return f"{value} < {self.minimum}" if value < self.minimum else None


class LengthWindow(Rule):
    """``example.<attribute>`` (a text) has ``min_chars`` to ``max_chars`` characters (``None``: no maximum)."""

    about_answer = False

    def __init__(self, reason: str, min_chars: int, max_chars: int | None, attribute: str = "answer"):
        self.reason, self.min_chars, self.max_chars, self.attribute = reason, min_chars, max_chars, attribute

    def find(self, example):
        length = len(getattr(example, self.attribute))
        inside = self.min_chars <= length and (self.max_chars is None or length <= self.max_chars)
        return None if inside else f"{length} characters"


class _PostRule(Rule):
    """A rule on a Reddit submission or comment (``example.post`` / ``example.comment``)."""

    about_answer = False


class Nsfw(_PostRule):
    """The submission is not marked NSFW (``over_18``)."""

    reason = "nsfw"

    def find(self, example):
        return "over_18" if example.post.get("over_18") else None


class Stickied(_PostRule):
    """The submission is not stickied or distinguished by a moderator."""

    reason = "stickied"

    def find(self, example):
        post = example.post
        return "stickied" if post.get("stickied") or post.get("distinguished") == "moderator" else None


class Removed(_PostRule):
    """The submission was not removed or deleted."""

    reason = "removed"

    def find(self, example):
        post = example.post
        if post.get("removed_by_category"):
            return f"removed by {post['removed_by_category']}"
        return "title " + post["title"] if post.get("title") in ("[deleted]", "[removed]") else None


class WritingPromptTag(_PostRule):
    """The title has an accepted tag (``[WP]``); ``example.prompt`` is ``None`` when it has not."""

    reason = "not_a_writing_prompt"

    def find(self, example):
        return "no accepted tag" if example.prompt is None else None


class EmptyPrompt(_PostRule):
    """Something is left of the title once its tag is stripped."""

    reason = "empty_prompt"

    def find(self, example):
        return "nothing after the tag" if not example.prompt else None


class BodyRemoved(_PostRule):
    """The question's body was not removed (a removed body held text: the title may not stand alone)."""

    reason = "body_removed"

    def find(self, example):
        body = example.post.get("selftext")
        return body if body in ("[removed]", "[deleted]") else None


class HasBody(_PostRule):
    """The question is the title alone (an empty body)."""

    reason = "has_body"

    def find(self, example):
        return "a body" if (example.post.get("selftext") or "").strip() else None


class Question(_PostRule):
    """The title (``example.prompt``) ends with a question mark."""

    reason = "not_a_question"

    def find(self, example):
        return None if example.prompt.endswith("?") else "no question mark"


class QuestionLength(_PostRule):
    """The question has at least ``min_words`` words and at most ``max_chars`` characters."""

    reason = "length"

    def __init__(self, min_words: int, max_chars: int):
        self.min_words, self.max_chars = min_words, max_chars

    def find(self, example):
        words, chars = len(example.prompt.split()), len(example.prompt)
        return None if words >= self.min_words and chars <= self.max_chars else f"{words} words, {chars} characters"


class SelfContainedQuestion(_PostRule):
    """The question stands alone: no reference to a picture, "this", the body, ...
    (:func:`~lima_hf.data.filters.is_self_contained_title` with the post pointers)."""

    reason = "not_self_contained"

    def find(self, example):
        if is_self_contained_title(example.prompt, min_words=0, pointers=POST_POINTER_PATTERN):
            return None
        return example.prompt


REMOVED_TEXTS = {"[removed]", "[deleted]", ""}
BOTS = {"automoderator", "writingpromptsrobot"}


class CommentDeleted(_PostRule):
    """The comment and its author are still there."""

    reason = "comment_deleted"

    def find(self, example):
        comment = example.comment
        if (comment.get("body") or "").strip() in REMOVED_TEXTS or comment.get("author") in ("[deleted]", None):
            return "deleted"
        return None


class CommentByBotOrModerator(_PostRule):
    """The comment is not by a bot, stickied or distinguished (a moderator's)."""

    reason = "comment_by_bot_or_moderator"

    def find(self, example):
        comment = example.comment
        if str(comment.get("author")).lower() in BOTS or comment.get("stickied") or comment.get("distinguished"):
            return f"u/{comment.get('author')}"
        return None


class EligibleComment(_PostRule):
    """A WritingPrompts candidate has a top-level comment that passes :func:`comment_rules` (``example.best``: the
    best one, ``None`` when none does; ``example.rejected``: its rejected comments counted per reason). Applied
    by the global step, after the join of the comments files."""

    reason = "no_eligible_comment"

    def find(self, example):
        if example.best is not None:
            return None
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(example.rejected.items()))
        return counts or "no top-level comment in the input"


def submission_rules(config, subreddit: str) -> list[Rule]:
    """The rules a submission of ``subreddit`` (``writingprompts`` or ``askreddit``) passes, in order, with the
    options of a Reddit :class:`~lima_hf.data.sources.reddit.config.Config`."""
    rules: list[Rule] = [Nsfw(), Stickied(), Removed(), AtLeast("low_score", "score", config.min_submission_score)]
    if subreddit == "writingprompts":
        return rules + [WritingPromptTag(), EmptyPrompt()]
    return rules + [BodyRemoved(), HasBody(), Question(),
                    QuestionLength(config.min_question_words, config.max_question_chars), SelfContainedQuestion()]


def comment_rules(config) -> list[Rule]:
    """The rules a top-level comment passes to be a WritingPrompts story, in order (then the candidate passes
    :class:`EligibleComment`)."""
    return [CommentDeleted(), CommentByBotOrModerator(),
            AtLeast("comment_low_score", "score", config.min_comment_score),
            LengthWindow("comment_length", config.min_response_chars, config.max_response_chars, attribute="text")]


def wikihow_rules(config) -> list[Rule]:
    """The rules a wikiHow article passes, in order, with the options of a wikiHow ``Config``."""
    return [AtLeast("too_few_methods", "methods", config.min_methods),
            AtLeast("too_few_steps", "steps", config.min_steps),
            LengthWindow("length", config.min_chars, config.max_chars)]


class InTrainSplit(Rule):
    """The task is in the training split (``train_tasks``: the split file's task names; ``None``: no split file,
    every task counts). The example is the task file's path (its stem is the task's name), so the source applies
    this rule before reading the file."""

    reason, about_answer = "not_in_train_split", False

    def __init__(self, train_tasks: set[str] | None):
        self.train_tasks = train_tasks

    def find(self, example):
        return None if self.train_tasks is None or example.stem in self.train_tasks else ""


class GenerationTask(Rule):
    """One of the task's categories (``example.categories``, every level) is a generation category."""

    reason, about_answer = "not_generation", False

    def __init__(self, categories: Iterable[str]):
        self.categories = {c.lower() for c in categories}

    def find(self, example):
        if self.categories.intersection(c.lower() for c in example.categories):
            return None
        return " / ".join(example.categories) or "no category"


class EnglishTask(Rule):
    """The task's input and output languages (``example.languages``; none given: assumed English) are English."""

    reason, about_answer = "not_english", False

    def find(self, example):
        languages = example.languages
        return ", ".join(sorted(languages)) if languages and languages != {"English"} else None


class UsableInstance(Rule):
    """The task has an instance with an input and an output whose prompt (the definition, a blank line, the input:
    ``example.definition``, ``example.instances``) has at most ``max_prompt_chars`` characters (``None``: any)."""

    reason, about_answer = "no_usable_instance", False

    def __init__(self, max_prompt_chars: int | None):
        self.max_prompt_chars = max_prompt_chars

    def usable(self, task) -> list[dict]:
        """The instances of ``task`` that pass, in file order."""
        instances = [i for i in task.instances if i["outputs"] and i["input"].strip()]
        if self.max_prompt_chars is None:
            return instances
        return [i for i in instances if len(task.definition) + 2 + len(i["input"]) <= self.max_prompt_chars]

    def find(self, example):
        return None if self.usable(example) else ""


def natural_instructions_rules(config, train_tasks: set[str] | None) -> list[Rule]:
    """The rules a Super-NaturalInstructions task passes, in order, with the options of its ``Config``: in the
    training split (:class:`InTrainSplit`, on the task file's path), a generation category, English (with
    ``english_only``), a usable instance (:class:`UsableInstance`, last: the source reports it when its sampling
    reaches the task)."""
    rules: list[Rule] = [InTrainSplit(train_tasks), GenerationTask(config.categories)]
    rules += [EnglishTask()] if config.english_only else []
    return rules + [UsableInstance(config.max_prompt_chars)]


class MinScore(Rule):
    """The record's vote score (``example.score``; ``None``: it has none and passes) is at least ``min_score``."""

    reason, about_answer = "min_score", False

    def __init__(self, min_score: float):
        self.min_score = min_score

    def find(self, example):
        score = example.score
        return f"score {score} < {self.min_score}" if score is not None and score < self.min_score else None


class MinQuality(Rule):
    """The record's combined quality (``example.quality``, 0-1) is at least ``min_quality``."""

    reason, about_answer = "low_quality", False

    def __init__(self, min_quality: float):
        self.min_quality = min_quality

    def find(self, example):
        quality = example.quality
        return f"quality {quality:.3f} < {self.min_quality}" if quality < self.min_quality else None


def selection_rules(config) -> list[Rule]:
    """The rules a candidate of dataset selection passes, in order, with the options of a
    :class:`~lima_hf.data.selection.config.SelectionConfig`: LIMA's answer rules on its response (with
    ``lima_rules``; :func:`answer_rules`, the curation's objects), the score floor (with ``min_score``), the quality
    floor. The example: the response (``answer``), the record's ``score`` and its combined ``quality``."""
    rules = answer_rules(config.min_chars, config.max_chars) if config.lima_rules else []
    rules += [MinScore(config.min_score)] if config.min_score is not None else []
    return rules + [MinQuality(config.min_quality)]


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
