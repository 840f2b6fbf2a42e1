"""Robust parsing of judge replies (LLM or human) into labels; ``None`` when a reply cannot be read.

A reply that cannot be parsed is never guessed: the judging loop retries it and then records it as
unparsed, so it is counted in the report instead of silently becoming a tie.
"""

from __future__ import annotations

import re

A_BETTER, B_BETTER, NEITHER = "A better", "B better", "neither"
PREFERENCE_LABELS = (A_BETTER, B_BETTER, NEITHER)
ABSOLUTE_LABELS = ("Fail", "Pass", "Excellent")
LIKERT_RANGE = range(1, 7)

_DECORATION = re.compile(r"[*_`#>\"'“”‘’\[\]()]")


def _lines(reply: str) -> list[str]:
    return [_DECORATION.sub("", line).strip() for line in str(reply).splitlines() if line.strip()]


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", _DECORATION.sub("", text)).strip().lower()


_CHOICE = re.compile(r"\b(?:choice|answer|option|verdict)\s*[:=]\s*([123])\b", re.IGNORECASE)
_EITHER = re.compile(
    r"\b(?:choice|answer|option|verdict)\s*[:=]\s*([123])\s*(?:,|or|/|and)\s*(?:(?:choice|answer|option|verdict)\s*[:=]\s*)?"
    r"([123])\b",
    re.IGNORECASE,
)
_PREFERENCE_PHRASES = {
    A_BETTER: re.compile(r"\banswer a is (?:significantly |much |clearly )?better\b"),
    B_BETTER: re.compile(r"\banswer b is (?:significantly |much |clearly )?better\b"),
    NEITHER: re.compile(r"\bneither (?:answer )?is (?:significantly |much |clearly )?better\b"),
}
_SHORT_PREFERENCE = {
    "1": A_BETTER,
    "a": A_BETTER,
    "a better": A_BETTER,
    "answer a": A_BETTER,
    "a is better": A_BETTER,
    "2": B_BETTER,
    "b": B_BETTER,
    "b better": B_BETTER,
    "answer b": B_BETTER,
    "b is better": B_BETTER,
    "3": NEITHER,
    "neither": NEITHER,
    "tie": NEITHER,
    "none": NEITHER,
    "equal": NEITHER,
    "same": NEITHER,
}


def parse_preference(reply: str | None) -> str | None:
    """``"A better"``, ``"B better"``, ``"neither"``, or ``None`` when the reply does not say.

    Read, in order: an explicit ``Choice: 1|2|3`` (the last one wins); a single option phrase of the
    paper's ("Answer A is significantly better", ...) when only one of them appears; a last line that is a
    bare option (``1``, ``B``, ``neither``, ``A better``, ...). Replies naming several options are unparsed
    (``Choice: 1 or Choice: 2``, ``Choice: 1 or 2``).
    """
    if not reply or not str(reply).strip():
        return None
    choices = _CHOICE.findall(str(reply))
    if choices:
        if any(a != b for a, b in _EITHER.findall(str(reply))):  # "Choice: 1 or Choice: 2": no verdict
            return None
        return _SHORT_PREFERENCE[choices[-1]]
    text = _normalise(reply)
    found = {label for label, pattern in _PREFERENCE_PHRASES.items() if pattern.search(text)}
    if len(found) == 1:
        return found.pop()
    last = _normalise(_lines(reply)[-1]).rstrip(".!:")
    return _SHORT_PREFERENCE.get(re.sub(r"^(?:choice|answer|option|label)\s*", "", last)) or _SHORT_PREFERENCE.get(
        last
    )


_SCORE_LINE = re.compile(
    r"^(?:(?:score|rating|grade|choice|helpfulness)\s*[:=]?\s*)?([0-9]+)\s*(?:/\s*6|out of 6)?\.?$"
)
_SCORE_INLINE = re.compile(
    r"(?:score|rating|grade|helpfulness)\s*(?:is|of|:|=)?\s*([0-9]+)\b|\b([0-9]+)\s*(?:/\s*6|out of 6)\b",
    re.IGNORECASE,
)


def parse_likert(reply: str | None) -> int | None:
    """The 1-6 helpfulness score in a reply, or ``None``.

    The paper's template asks for the score alone on its own line, repeated on the last line: the last
    line that is a bare number (``5``, ``**5**``, ``Score: 5``, ``5/6``) wins; otherwise the last inline
    ``score: N`` / ``N out of 6``. Numbers outside 1-6 are unparsed, not clipped.
    """
    if not reply or not str(reply).strip():
        return None
    for line in reversed(_lines(reply)):
        match = _SCORE_LINE.match(_normalise(line))
        if match:
            value = int(match.group(1))
            return value if value in LIKERT_RANGE else None
    inline = _SCORE_INLINE.findall(str(reply))
    if inline:
        value = int(next(group for group in inline[-1] if group))
        return value if value in LIKERT_RANGE else None
    return None


_RATING = re.compile(r"\brating\s*[:=]\s*(fail|pass|excellent)\b", re.IGNORECASE)
_RATING_WORD = re.compile(r"\b(fail|pass|excellent)\b", re.IGNORECASE)


def parse_absolute(reply: str | None) -> str | None:
    """``"Fail"``, ``"Pass"`` or ``"Excellent"``, or ``None``.

    An explicit ``Rating: X`` wins (the last one); otherwise the last line naming exactly one rating.
    """
    if not reply or not str(reply).strip():
        return None
    ratings = _RATING.findall(str(reply))
    if ratings:
        return ratings[-1].capitalize()
    for line in reversed(_lines(reply)):
        words = {word.capitalize() for word in _RATING_WORD.findall(line)}
        if len(words) == 1:
            return words.pop()
        if words:
            return None
    return None
