"""The paper's question and answer rules, applied to a site's top-K questions.

The rules are :mod:`lima_hf.data.rules` (:func:`~lima_hf.data.rules.lima_rules`), the ones calibration and
selection use; each question is checked in the paper's order and the first rule it fails is its rejection
reason:

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
as ``no_answer``, when it has no answer at all. A question with neither a title nor a body has no prompt:
it is bad input (raised, or with ``on_error: skip`` logged as ``empty_question`` with its file and line).

Lengths are measured on the converted Markdown, the text the model is trained on. On the real sample dumps
an answer's HTML is a median 11% longer than its Markdown (a quarter of them over 27%: tags, link targets),
and one in five answers whose HTML is within 1,200-4,096 characters is outside that window once converted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lima_hf.data.markdown import html_to_markdown
from lima_hf.data.rules import Example, RuleChain, lima_rules
from lima_hf.data.sources.stackexchange.posts import Post, PostsScan
from lima_hf.data.sources.stackexchange.rows import RowError, report_or_raise


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


def judge_questions(scan: PostsScan, site: str, config, *, name: str = "Posts.xml",
                    on_skip: Callable[[RowError], None] | None = None) -> tuple[list[Candidate], list[Verdict]]:
    """Apply the rules (enabled in ``config``) to the scanned questions, best-scoring first. ``name`` names the
    file in errors; ``on_skip`` receives a question with no title and no body instead of raising."""
    chain = RuleChain(lima_rules(config))
    candidates: list[Candidate] = []
    rejected: list[Verdict] = []
    for rank, question in enumerate(scan.questions):
        answer = scan.answers.get(question.id)
        if not question.title.strip() and not html_to_markdown(question.body).strip():
            report_or_raise(RowError(f"{name}:{question.line}", "empty_question",
                                     f"question {question.id} has neither a title nor a body: no prompt"), on_skip)
            continue
        answer_markdown = None if answer is None else html_to_markdown(answer.body)
        example = Example(answer_markdown, question.title, None if answer is None else answer.id)
        failure = chain.first_failure(example)
        if failure:
            rejected.append(Verdict(site, question.id, *failure))
        else:
            candidates.append(Candidate(site, rank, question, answer, html_to_markdown(question.body), answer_markdown))
    return candidates, rejected
