"""One pass over a site's Posts.xml: its size and its top-K questions, each with its top answer.

Memory is bounded by ``top_k``, not by the size of the file: questions live in a min-heap keyed by score
(ties: the older question wins), and only answers that could matter are kept, namely the best answer with
``Score >= min_answer_score`` of a question in the heap (dropped when its question is evicted), plus, for
the rare answer that comes before its question in the file (dumps are ordered by ``Id``; merged questions
can break that), the best such answer until its question shows up.

:func:`scan_posts` reads the few attributes it needs from the raw bytes (see ``rows.py``) and stops with
``LayoutDeparture`` where a file leaves the dumps' layout; :func:`scan_posts_parsed` gives the same scan of
any valid XML by parsing every row (and, as ids may then come in any order, remembers every question id seen).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from lima_hf.data.sources.stackexchange.rows import (
    LayoutDeparture,
    RowError,
    check_layout,
    iter_parsed_rows,
    iter_rows,
    parse_row,
    report_or_raise,
)

# Every dump era starts a row with Id then PostTypeId: one match reads both (anything else is a departure).
_ROW_HEAD = re.compile(rb'<row Id="(\d+)" PostTypeId="(\d+)"')
_SCORE = re.compile(rb' Score="(-?\d+)"')
_PARENT = re.compile(rb' ParentId="(\d+)"')
_PROGRESS_EVERY_MASK = (1 << 16) - 1

QUESTION, ANSWER = 1, 2
# Stack Exchange's content license by date of the post's last edit, for dumps whose rows have no
# ContentLicense (before 2019): CC BY-SA 2.5 until 2011-04-08, 3.0 until 2018-05-02, then 4.0.
LICENSE_ERAS = (("2011-04-08", "CC BY-SA 2.5"), ("2018-05-02", "CC BY-SA 3.0"), ("9999-12-31", "CC BY-SA 4.0"))
UNDATED_LICENSE = "CC BY-SA"  # a row with neither ContentLicense nor a date


def row_license(row: dict[str, str]) -> str:
    """The row's ``ContentLicense``, or the license Stack Exchange applied at its last edit or creation."""
    if row.get("ContentLicense"):
        return row["ContentLicense"]
    date = row.get("LastEditDate") or row.get("CreationDate") or ""
    if not date:  # no date to tell the version by: say what is known, never a guessed version
        return UNDATED_LICENSE
    for until, name in LICENSE_ERAS:
        if date < until:
            return name
    return LICENSE_ERAS[-1][1]


@dataclass
class Post:
    """The attributes of a question or answer that curation keeps."""

    id: int
    score: int
    body: str
    owner_user_id: str | None
    owner_display_name: str | None
    creation_date: str
    license: str
    line: int
    title: str = ""
    tags: str = ""
    parent_id: int | None = None

    @classmethod
    def from_row(cls, row: dict[str, str], line: int) -> Post:
        return cls(
            id=int(row["Id"]),
            score=int(row.get("Score", 0)),
            body=row.get("Body", ""),
            owner_user_id=row.get("OwnerUserId"),
            owner_display_name=row.get("OwnerDisplayName"),
            creation_date=row.get("CreationDate", ""),
            license=row_license(row),
            line=line,
            title=row.get("Title", ""),
            tags=row.get("Tags", ""),
            parent_id=int(row["ParentId"]) if row.get("ParentId") else None,
        )


@dataclass
class PostsScan:
    """What one pass over Posts.xml found."""

    rows: int = 0
    post_types: dict[int, int] = field(default_factory=dict)
    questions: list[Post] = field(default_factory=list)  # the top-K, best first
    answers: dict[int, Post] = field(default_factory=dict)  # question id -> its top answer (score >= min)

    @property
    def question_count(self) -> int:
        return self.post_types.get(QUESTION, 0)


def scan_posts(
    stream: BinaryIO,
    name: str,
    *,
    top_k: int,
    min_answer_score: int | None,
    rank: Callable[[int], int] | None = None,
    on_skip: Callable[[RowError], None] | None = None,
    on_progress: Callable[[int], object] | None = None,
) -> PostsScan:
    """Scan a Posts.xml stream (see the module docstring); ``name`` names the file in errors.

    ``on_skip`` receives bad rows instead of raising; ``on_progress(n)`` is called every ``n`` rows.
    With ``rank`` (post id -> int), posts are ranked by ``rank(id)`` instead of their score: the top-K
    questions and each one's answer are then a random draw (``min_answer_score`` None: answers of any score).
    Raises :class:`~lima_hf.data.sources.stackexchange.rows.LayoutDeparture` where the file leaves the dump
    layout the raw reads rely on (ids not increasing, rows not one per line, other quoting or spacing):
    read it again with :func:`scan_posts_parsed`.
    """
    heap = _TopQuestions(top_k, ordered=True, rank=rank)
    floor, top, early = min_answer_score, heap.heap, heap.early
    post_types = heap.scan.post_types
    last_id = 0

    def parse(row: bytes, line: int) -> Post | None:
        try:
            return Post.from_row(parse_row(row, f"{name}:{line}"), line)
        except RowError as err:
            report_or_raise(err, on_skip)
        except (KeyError, ValueError) as err:
            report_or_raise(RowError(f"{name}:{line}", "malformed_row", f"row without a valid Id/Score/ParentId ({err})"),
                            on_skip)
        return None

    for line, row in iter_rows(stream, name, on_skip):
        heap.scan.rows += 1
        if on_progress is not None and not heap.scan.rows & _PROGRESS_EVERY_MASK:
            on_progress(_PROGRESS_EVERY_MASK + 1)
        head = _ROW_HEAD.match(row)
        if head is None:
            raise LayoutDeparture(f"{name}:{line}", 'a row that does not start with Id="..." PostTypeId="..."')
        post_id, post_type = int(head.group(1)), int(head.group(2))
        if post_id <= last_id:
            raise LayoutDeparture(f"{name}:{line}", f"ids not increasing (Id {post_id} after {last_id})")
        last_id = post_id
        post_types[post_type] = post_types.get(post_type, 0) + 1
        if post_type not in (QUESTION, ANSWER):
            continue
        found = _SCORE.search(row)
        if found is None:
            check_layout(row, "Score", f"{name}:{line}")
            # really absent: never taken for 0 (a question without Score is not a question scored 0)
            report_or_raise(RowError(f"{name}:{line}", "malformed_row", "row without a valid Score"), on_skip)
            continue
        score = int(found.group(1))
        if post_type == QUESTION:
            # most questions do not enter the heap: that test inline, the rest in _TopQuestions
            key = score if rank is None else rank(post_id)
            if len(top) >= top_k and (key, -post_id, post_id) <= top[0]:
                if early:
                    early.pop(post_id, None)
                continue
            heap.add_question(parse(row, line), score, post_id)
        elif post_type == ANSWER and (floor is None or score >= floor):
            found = _PARENT.search(row)
            if found is None:
                check_layout(row, "ParentId", f"{name}:{line}")
                report_or_raise(RowError(f"{name}:{line}", "malformed_row", "answer row without a valid ParentId"),
                                on_skip)
                continue
            parent = int(found.group(1))
            heap.last_id = last_id
            if heap.wants_answer(parent, score, post_id):
                heap.add_answer(parent, parse(row, line))
    return heap.result()


def scan_posts_parsed(
    stream: BinaryIO,
    name: str,
    *,
    top_k: int,
    min_answer_score: int | None,
    rank: Callable[[int], int] | None = None,
    on_skip: Callable[[RowError], None] | None = None,
    on_progress: Callable[[int], object] | None = None,
) -> PostsScan:
    """The same scan as :func:`scan_posts` over any valid XML: every row fully parsed (slower).

    A row without a valid Id/Score/ParentId goes to ``on_skip`` (or raises); an XML error ends the scan with
    a :class:`RowError` naming the line, as a full parse cannot go on after one.
    """
    heap = _TopQuestions(top_k, ordered=False, rank=rank)
    post_types = heap.scan.post_types
    for line, values in iter_parsed_rows(stream, name):
        heap.scan.rows += 1
        if on_progress is not None and not heap.scan.rows & _PROGRESS_EVERY_MASK:
            on_progress(_PROGRESS_EVERY_MASK + 1)
        required = ("Id", "PostTypeId") + (("Score",) if values.get("PostTypeId") in ("1", "2") else ())
        missing = [key for key in required if not values.get(key)]
        if values.get("PostTypeId") == "2" and not values.get("ParentId"):
            missing.append("ParentId")
        if missing:  # logged, never read as 0 (a question without Score is not a question scored 0)
            detail = "answer row without a valid ParentId" if missing == ["ParentId"] else f"row without a valid {missing[0]}"
            report_or_raise(RowError(f"{name}:{line}", "malformed_row", detail), on_skip)
            continue
        try:
            post_id, post_type = int(values["Id"]), int(values["PostTypeId"])
            post = Post.from_row(values, line)
        except (KeyError, ValueError) as err:
            report_or_raise(RowError(f"{name}:{line}", "malformed_row", f"row without a valid Id/Score/ParentId ({err})"),
                            on_skip)
            continue
        post_types[post_type] = post_types.get(post_type, 0) + 1
        if post_type == QUESTION:
            if heap.admits(post.score, post_id):
                heap.add_question(post, post.score, post_id)
            else:
                heap.seen_question(post_id)
        elif post_type == ANSWER and (min_answer_score is None or post.score >= min_answer_score):
            parent = post.parent_id or 0
            if heap.wants_answer(parent, post.score, post_id):
                heap.add_answer(parent, post)
    return heap.result()


class _TopQuestions:
    """The top-K heap of questions and the best answer of each (see the module docstring), in any file order.

    An answer whose question has not been seen yet is kept (the best one per question) until its question
    shows up; once a question has been seen and is not in the heap, its answers are dropped. With
    ``ordered`` (ids increasing, the caller keeps ``last_id``) a question has been seen when its id is at
    most ``last_id``, so memory stays bounded by ``top_k``; otherwise the seen ids are kept in a set.
    """

    def __init__(self, top_k: int, ordered: bool, rank: Callable[[int], int] | None = None):
        self.scan = PostsScan()
        self.top_k = top_k
        self.rank = rank
        self.keys: dict[int, int] = {}  # question id -> its rank key, for the questions in the heap
        self.heap: list[tuple[int, int, int]] = []  # (score, -id, id): the smallest is evicted first
        self.kept: dict[int, Post] = {}  # question id -> question, for the questions in the heap
        self.answers: dict[int, Post] = {}
        self.early: dict[int, Post] = {}  # answers whose question has not been seen yet
        self.last_id = 0
        self.seen: set[int] | None = None if ordered else set()  # questions seen and not in the heap

    def _key(self, score: int, post_id: int) -> int:
        return score if self.rank is None else self.rank(post_id)

    def admits(self, score: int, post_id: int) -> bool:
        return len(self.heap) < self.top_k or (self._key(score, post_id), -post_id, post_id) > self.heap[0]

    def seen_question(self, post_id: int) -> None:
        if self.seen is not None:
            self.seen.add(post_id)
        self.early.pop(post_id, None)

    def add_question(self, question: Post | None, score: int, post_id: int) -> None:
        if question is None:
            self.seen_question(post_id)
            return
        key = (self._key(score, post_id), -post_id, post_id)
        self.keys[post_id] = key[0]
        if len(self.heap) >= self.top_k:
            _, _, evicted = heapq.heappushpop(self.heap, key)
            self.kept.pop(evicted, None)
            self.keys.pop(evicted, None)
            self.answers.pop(evicted, None)
            if self.seen is not None:
                self.seen.add(evicted)
        else:
            heapq.heappush(self.heap, key)
        self.kept[post_id] = question
        if post_id in self.early:
            self.answers[post_id] = self.early.pop(post_id)

    def wants_answer(self, parent: int, score: int, post_id: int) -> bool:
        target = self._target(parent)
        if target is None:
            return False
        current = target.get(parent)
        key = self._key(score, post_id)
        return current is None or (key, -post_id) > (self._key(current.score, current.id), -current.id)

    def add_answer(self, parent: int, answer: Post | None) -> None:
        target = self._target(parent)
        if answer is not None and target is not None:
            target[parent] = answer

    def _target(self, parent: int) -> dict[int, Post] | None:
        if parent in self.kept:
            return self.answers
        seen = parent <= self.last_id if self.seen is None else parent in self.seen
        return None if seen else self.early

    def result(self) -> PostsScan:
        ranked = sorted(self.kept.values(), key=lambda q: (-self.keys[q.id], q.id))
        self.scan.questions = ranked
        self.scan.answers = {q.id: self.answers[q.id] for q in ranked if q.id in self.answers}
        return self.scan

