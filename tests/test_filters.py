"""The shared text filters: first person, references to other answers, length window, titles, HTML leftovers."""

import pytest

from lima_hf.data import filters
from lima_hf.data.filters import (
    first_person_match,
    has_html_leftovers,
    is_first_person,
    is_self_contained_title,
    length_in_window,
    other_answer_reference,
    prose_only,
    refers_to_other_answers,
)


@pytest.mark.parametrize("text", [
    "I think the answer is yes.", "In my experience it works.", "Let me explain.", "I'm sure.", "I've seen it.",
    "It was mine.", "My advice: don't.", "I’d rather not.",
])
def test_first_person_is_detected(text):
    assert is_first_person(text)


@pytest.mark.parametrize("text", [
    "The I/O scheduler decides.", "An I-beam carries the load.", "We measured it.", "ME is an abbreviation.",
    "Use `int I = 0;` here.", "```\nmy_var = I\n```\nThe variable is set.", "Mine-sweeping is a game? No: minesweeper.",
    "The memory is full.", "Type Ia supernovae.", r"Share $(\mathbb{I}\otimes U)|\Psi\rangle$ first.",
    "$$\nI = \\int f\n$$\nHence the result.",
])
def test_first_person_false_positives_are_avoided(text):
    assert not is_first_person(text), first_person_match(text)


@pytest.mark.parametrize("text", [
    "As mentioned above by Bob, it fails.", "As others have said, no.", "This is a Stack Exchange site.",
    "See the other answer for details.", "The accepted answer is wrong.", "The answers below explain it.",
    "Your answer misses a case.", "Upvoted, but consider this.", "@alice that is right.", "As noted in the comments, ...",
    "Read it on StackOverflow.",
])
def test_references_to_other_answers_are_detected(text):
    assert refers_to_other_answers(text)


@pytest.mark.parametrize("text", [
    "The answer is 42.", "Clone git@github.com:org/repo.git first.", "Use `@decorator` syntax.",
    "This comment syntax starts with #.", "Exchange the two values.", "The question is well posed.",
    "As mentioned above, the loop ends.",  # the answer's own text
])
def test_ordinary_text_does_not_refer_to_other_answers(text):
    assert not refers_to_other_answers(text), other_answer_reference(text)


def test_length_window_is_inclusive():
    assert length_in_window("x" * 1200, 1200, 4096)
    assert length_in_window("x" * 4096, 1200, 4096)
    assert not length_in_window("x" * 1199, 1200, 4096)
    assert not length_in_window("x" * 4097, 1200, 4096)
    assert length_in_window("é" * 1200, 1200, 4096)  # characters, not bytes


@pytest.mark.parametrize("title,expected", [
    ("How do hops change the bitterness of beer?", True),
    ("What programming languages are available for quantum computers?", True),
    ("What is wrong with this code?", False),
    ("Identify this beer", False),
    ("Is the following proof correct?", False),
    ("Help", False),
    ("Why does this function return None?", False),
])
def test_self_contained_titles(title, expected):
    assert is_self_contained_title(title) is expected


def test_prose_only_removes_fenced_and_inline_code():
    text = "Run `ls -l` now.\n\n```\nI = my_var\n```\n\nDone."
    assert "my_var" not in prose_only(text)
    assert "ls -l" not in prose_only(text)
    assert "Done." in prose_only(text)


def test_html_leftovers():
    assert has_html_leftovers("Some <b>bold</b> text")
    assert has_html_leftovers("Fish &amp; chips")
    assert not has_html_leftovers("a < b and c > d")
    assert not has_html_leftovers("Code: `<div>` and\n```\n<p>x</p>\n```")


def test_patterns_are_documented_module_constants():
    assert filters.FIRST_PERSON_PATTERN.search("I am")
    assert any("stack" in pattern for pattern in filters.OTHER_ANSWER_PATTERNS)
    assert filters.NOT_SELF_CONTAINED_TITLE_PATTERNS
