"""The paper's question and answer rules, applied to a site's top-K questions.

Each question is checked in this order, and the first rule it fails is its rejection reason:

1. ``title_not_self_contained``: the title cannot stand alone as a prompt (:func:`is_self_contained_title`);
2. ``no_answer_min_score``: it has no answer with ``Score >= min_answer_score``, i.e. its top answer is
   below the threshold;
3. ``answer_too_short`` / ``answer_too_long``: the top answer, converted to Markdown, is outside
   ``[min_chars, max_chars]``;
4. ``first_person``: the top answer's prose is written in the first person;
5. ``other_answers``: the top answer refers to other answers, comments or the site;
6. ``leans_on_removed_content`` (beyond the paper): the top answer points at an image, figure, link or
   attachment the conversion removed ("see the picture above", ends on "Yields:", "here ()").

With ``unfiltered`` (the quality ablation's low-quality arm) no rule applies: a question is only rejected,
as ``no_answer``, when it has no answer at all.

Lengths are measured on the converted Markdown, the text the model is trained on. On the real sample dumps
an answer's HTML is a median 11% longer than its Markdown (a quarter of them over 27%: tags, link targets),
and one in five answers whose HTML is within 1,200-4,096 characters is outside that window once converted.
"""

from __future__ import annotations

from dataclasses import dataclass

from lima_hf.data.filters import (
    first_person_match,
    is_self_contained_title,
    length_in_window,
    other_answer_reference,
    removed_content_reference,
)
from lima_hf.data.markdown import html_to_markdown
from lima_hf.data.sources.stackexchange.posts import Post, PostsScan

RULES = (
    "title_not_self_contained",
    "no_answer_min_score",
    "answer_too_short",
    "answer_too_long",
    "first_person",
    "other_answers",
    "leans_on_removed_content",
    "no_answer",
)


@dataclass
class Candidate:
    """A question that passed every rule, with its top answer converted to Markdown."""

    site: str
    rank: int  # 0 = the site's highest-scoring question
    question: Post
    answer: Post
    question_markdown: str
    answer_markdown: str


@dataclass
class Verdict:
    """A rejected question: the rule it failed and why (no post bodies: it travels between processes)."""

    site: str
    question_id: int
    reason: str
    detail: str


def judge_questions(scan: PostsScan, site: str, config) -> tuple[list[Candidate], list[Verdict]]:
    """Apply the rules (enabled in ``config``) to the scanned questions, best-scoring first."""
    candidates: list[Candidate] = []
    rejected: list[Verdict] = []
    for rank, question in enumerate(scan.questions):
        answer = scan.answers.get(question.id)
        reason, detail, answer_markdown = _first_failure(question, answer, config)
        if reason:
            rejected.append(Verdict(site, question.id, reason, detail))
        else:
            candidates.append(Candidate(site, rank, question, answer, html_to_markdown(question.body), answer_markdown))
    return candidates, rejected


def _first_failure(question: Post, answer: Post | None, config) -> tuple[str, str, str]:
    if config.unfiltered:
        if answer is None:
            return "no_answer", "the question has no answer", ""
        return "", "", html_to_markdown(answer.body)
    if config.require_self_contained_title and not is_self_contained_title(question.title):
        return "title_not_self_contained", f"title {question.title!r}", ""
    if answer is None:
        return "no_answer_min_score", f"no answer with score >= {config.min_answer_score}", ""
    text = html_to_markdown(answer.body)
    if not length_in_window(text, config.min_chars, config.max_chars):
        reason = "answer_too_short" if len(text) < config.min_chars else "answer_too_long"
        return reason, f"answer {answer.id}: {len(text)} characters (window {config.min_chars}-{config.max_chars})", ""
    if config.filter_first_person:
        word = first_person_match(text)
        if word:
            return "first_person", f"answer {answer.id}: first person ({word!r})", ""
    if config.filter_other_answers:
        phrase = other_answer_reference(text)
        if phrase:
            return "other_answers", f"answer {answer.id}: refers to other answers ({phrase!r})", ""
    if config.filter_removed_content:
        pointer = removed_content_reference(text)
        if pointer:
            return "leans_on_removed_content", f"answer {answer.id}: points at removed content ({pointer!r})", ""
    return "", "", text
