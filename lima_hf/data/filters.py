r"""Text filters of the LIMA curation rules, as pure functions over the text the model will see.

The paper (Zhou et al., 2023, section 2.1) drops Stack Exchange answers that are shorter than 1,200 or
longer than 4,096 characters, written in the first person ("I", "my"), or that refer to other answers
("as mentioned", "stack exchange", ...), and keeps questions that are self-contained in the title. The
patterns below implement those rules; they are module constants so that they can be read, tested and
reused (dataset selection and the other sources import them).

Code and math are not prose: the first-person and other-answer checks look at the text with fenced code
blocks, inline code and TeX math removed (see :func:`prose_only`), so ``int I = 0`` in a snippet or
``$\mathbb{I}\otimes U$`` in a formula is no reason to drop an answer. Quoted words are not the author's
voice either: the first-person check also skips blockquotes and text in double quotes (see
:func:`own_voice`), so ``"I loved" (amavi)`` or ``> I was looking for ...`` (the question, quoted) pass.

Beyond the paper, :func:`removed_content_reference` finds answers that lean on what the conversion removed
("see the picture above", a last line ending on "Yields:", a link left as "here ()").

``tests/data/filters_labelled.jsonl`` labels every answer these rules reject among the released LIMA
Stack Exchange answers and the real sample dumps as a true or a false hit; ``tests/test_filters_labelled.py``
prints each rule's precision and recall on it (figures in ``docs/stackexchange.md``).
"""

from __future__ import annotations

import re

# Fenced blocks (``` or ~~~, any info string) and inline code spans.
FENCED_CODE_PATTERN = re.compile(r"(?ms)^[ \t]*(```|~~~).*?^[ \t]*\1[ \t]*$|```.*?```")
INLINE_CODE_PATTERN = re.compile(r"`[^`\n]+`")
# TeX math as the math and science sites write it ($...$, $$...$$): "\mathbb{I}" is not a pronoun.
MATH_PATTERN = re.compile(r"(?s)\$\$.+?\$\$|\$[^$\n]+\$")

# "I" as a pronoun (not "I/O", "I-beam", "I2C", "%I", "Ctrl+Shift+I", "I.e.", the letter "I's", the numeral
# of "Type I" or "World War I"), its contractions, and the first-person singular forms. "me"/"my" are matched
# in their capitalised form too, but not all-caps ("ME" is an abbreviation: Maine, mechanical engineering).
ROMAN_NUMERAL_NOUNS = ("Type", "Class", "Phase", "Part", "War", "Stage", "Level", "Grade", "Chapter", "Volume",
                       "Act", "Schedule", "Section", "Article", "Title", "Appendix", "Book", "Tier", "Category")
FIRST_PERSON_PATTERN = re.compile(
    r"(?<![\w/\-.%+])(?<!\+ )" + "".join(f"(?<!{noun} )" for noun in ROMAN_NUMERAL_NOUNS)
    + r"I(?:'m|'ve|'d|'ll|’m|’ve|’d|’ll)?(?![\w/\-])(?!\.[eE]\.)(?!['’]s\b)"
    r"|\b[Mm](?:y|e|ine|yself)\b(?!-)"
)
# Quoted words (speech, glosses, a word under discussion) and blockquoted lines are not the author's voice.
# An opening quote follows a space or punctuation, not a digit (12" is inches), and the closing one ends a word.
QUOTED_PATTERN = re.compile(r'(?<![\w"])"(?=\S)[^"\n]{1,300}(?<=\S)"(?!\w)|“[^”\n]{1,300}”'
                            r'|&quot;(?:(?!&quot;)[^\n]){1,300}&quot;')
BLOCKQUOTE_LINE_PATTERN = re.compile(r"(?m)^[ \t]*>.*$")

# References to other answers, comments, users or the site itself: the answer is not self-contained.
OTHER_ANSWER_PATTERNS: tuple[str, ...] = (
    # "as mentioned", "as others said", ... but not "as said before" / "as stated above" (the answer's own text)
    (r"\bas (?:(?:already|previously|others?(?: have)?|some(?:one)?(?: has| have)?) )?"
     r"(?:mentioned|said|stated|noted|pointed out|suggested)\b"
     r"(?!,? (?:above|before|earlier)\b(?! (?:by|in)\b))"),
    r"\bstack ?exchange\b",
    r"\bstack ?overflow\b",
    r"\b(?:other|another|previous|earlier|above|below|accepted|top|existing|first|second) answers?\b",
    r"\banswers? (?:above|below)\b",
    r"\b(?:his|her|their|your) answer\b",
    r"\b(?:in|see|from|per) (?:the |your |my |his |her |their )?comments?\b",
    r"\b(?:up|down)-?vot(?:e|ed|es|ing)\b",
    r"(?<![\w.@])@[A-Za-z][\w.-]*\w",
)
OTHER_ANSWER_PATTERN = re.compile("|".join(f"(?:{p})" for p in OTHER_ANSWER_PATTERNS), re.IGNORECASE)

# Titles that point at something only the body has ("this code", "the following", "shown below").
NOT_SELF_CONTAINED_TITLE_PATTERNS: tuple[str, ...] = (
    r"\b(?:the )?(?:following|attached|above|below)\b",
    (r"\b(?:this|these|that) (?:code|snippet|script|program|function|query|error|exception|output|picture|"
     r"image|photo|graph|plot|diagram|drawing|circuit|equation|expression|integral|formula|proof|problem|"
     r"exercise|puzzle|example|situation|case|one|thing|stuff|part|item|bottle|beer|label|bike|bicycle)s?\b"),
    r"\b(?:what|who|which) (?:is|are|was|were) (?:this|these|that|those|it)\b",
    r"\bidentify (?:this|these|that|the)\b",
    r"\b(?:here|see body|see question|in the body|in the question)\b",
)
NOT_SELF_CONTAINED_TITLE_PATTERN = re.compile(
    "|".join(f"(?:{p})" for p in NOT_SELF_CONTAINED_TITLE_PATTERNS), re.IGNORECASE
)
MIN_TITLE_WORDS = 3
# A Reddit title that points at the rest of its post, the thread or the comments.
POST_POINTER_PATTERN = re.compile(
    r"\b(?:this|these) (?:picture|pic|photo|image|video|gif|post|thread|sub|subreddit)\b|"
    r"\bin the (?:body|comments|text)\b|"
    r"\b(?:above|below|attached|following)\b|\bop\b|\bedit\b|\bupdate\b",
    re.IGNORECASE,
)
# A Markdown link, ``[text](target)``; sources keep the text (:func:`links_to_text`).
MARKDOWN_LINK_PATTERN = re.compile(r"\[([^\]]+)\]\([^)]*\)")

# Pointers to what the conversion removed (images, links, attachments): the answer is not self-contained.
_VISUAL = r"(?:picture|image|figure|fig\.|screenshot|screen ?shot|diagram|photo|photograph|chart|illustration)s?"
# without "image" (disk, docker, the image of a map) and "figure" (numbers): only with above/below
_PICTURE = r"(?:picture|screenshot|screen ?shot|diagram|photo|photograph|chart|illustration)s?"
REMOVED_CONTENT_PATTERNS: tuple[str, ...] = (
    rf"\b{_VISUAL} (?:above|below)\b",
    rf"\b(?:see|in|on|into|shown in|look at) (?:the|this|that|these|my|the attached|the following) {_PICTURE}\b",
    r"\b(?:pictured|illustrated|depicted|linked|attached) (?:above|below|here)\b",
    r"\b(?:this|the following|the above|the below) links?\b|\blinks? (?:above|below)\b|\bclick here\b",
    r"\battached (?:file|image|picture|screenshot|document|pdf|zip|spreadsheet)s?\b",
    r"(?<![\w)\]\\])\([ \t]*\)",  # "a good explanation here ()": a link with its text removed
)
REMOVED_CONTENT_PATTERN = re.compile("|".join(f"(?:{p})" for p in REMOVED_CONTENT_PATTERNS), re.IGNORECASE)
# A last line that announces what follows ("Yields:", "it looks something like this:") with nothing after it.
DANGLING_COLON_PATTERN = re.compile(r":[ \t]*\Z")

# Anything that still looks like an HTML tag or entity after conversion to Markdown.
HTML_LEFTOVER_PATTERN = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>|&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);")


def prose_only(text: str, placeholder: str = " ") -> str:
    """``text`` without fenced code blocks, and with ``placeholder`` for each inline code span and TeX math
    formula (the parts that are prose)."""
    return MATH_PATTERN.sub(placeholder, INLINE_CODE_PATTERN.sub(placeholder, FENCED_CODE_PATTERN.sub("\n", text)))


def own_voice(text: str) -> str:
    """The prose of ``text`` (:func:`prose_only`) without blockquoted lines and double-quoted spans."""
    return QUOTED_PATTERN.sub(" ", BLOCKQUOTE_LINE_PATTERN.sub("", prose_only(text)))


def first_person_match(text: str) -> str | None:
    """The first first-person word in the author's own words in ``text`` (``None`` if there is none)."""
    match = FIRST_PERSON_PATTERN.search(own_voice(text))
    return match.group(0) if match else None


def is_first_person(text: str) -> bool:
    """Whether the prose of ``text`` is written in the first person singular ("I", "my", "me", ...)."""
    return first_person_match(text) is not None


def other_answer_reference(text: str) -> str | None:
    """The first phrase in the prose of ``text`` that refers to other answers or the site (or ``None``)."""
    match = OTHER_ANSWER_PATTERN.search(prose_only(text))
    return match.group(0) if match else None


def refers_to_other_answers(text: str) -> bool:
    """Whether the prose of ``text`` refers to other answers, comments, users or Stack Exchange itself."""
    return other_answer_reference(text) is not None


def removed_content_reference(text: str) -> str | None:
    """The first pointer in the prose of ``text`` to a removed image, figure, link or attachment ("see the
    picture above", "here ()"), or the last line when it ends on a colon with nothing after it (``None``)."""
    match = REMOVED_CONTENT_PATTERN.search(prose_only(text, placeholder="code"))
    if match:
        return match.group(0)
    stripped = text.rstrip()
    if stripped and not stripped.endswith("```") and DANGLING_COLON_PATTERN.search(stripped):
        return stripped.rsplit("\n", 1)[-1][-60:]
    return None


def leans_on_removed_content(text: str) -> bool:
    """Whether ``text`` points at content the conversion removed (see :func:`removed_content_reference`)."""
    return removed_content_reference(text) is not None


def length_in_window(text: str, min_chars: int, max_chars: int) -> bool:
    """Whether ``min_chars <= len(text) <= max_chars`` (characters, i.e. Unicode code points)."""
    return min_chars <= len(text) <= max_chars


def is_self_contained_title(
    title: str, min_words: int = MIN_TITLE_WORDS, pointers: re.Pattern = NOT_SELF_CONTAINED_TITLE_PATTERN
) -> bool:
    """Whether a question title can stand alone as the prompt: at least ``min_words`` words and no pointer
    to content only the body has: ``pointers`` is a Stack Exchange question's ("this code", "the following",
    "identify this") unless a source passes its own (:data:`POST_POINTER_PATTERN` for Reddit)."""
    if len(title.split()) < min_words:
        return False
    return pointers.search(title) is None


def links_to_text(text: str) -> str:
    """``text`` with every Markdown link replaced by its text."""
    return MARKDOWN_LINK_PATTERN.sub(r"\1", text)


def has_html_leftovers(text: str) -> bool:
    """Whether the prose of ``text`` still contains an HTML tag or entity (code may legitimately show some)."""
    return HTML_LEFTOVER_PATTERN.search(prose_only(text)) is not None
