"""Curating one site: stream its Posts.xml, apply the rules, then read the comments of its eligible answers.

:func:`process_site` is what each worker process runs; it returns a picklable :class:`SiteOutcome`.

The raw-byte prefilter is exact for the dumps' own layout only; a file that departs from it (see ``rows.py``)
is read again with a full parse, and the site's ``full_parse`` entry says which file and why.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from lima_hf.data.sources.stackexchange.candidates import (
    Candidate,
    Verdict,
    judge_questions,
)
from lima_hf.data.sources.stackexchange.comments import (
    Comment,
    Thread,
    dialogue_turns,
    read_comments,
    read_comments_parsed,
)
from lima_hf.data.sources.stackexchange.dump import (
    COMMENTS,
    POSTS,
    DumpFile,
    archive_members,
    locate,
    open_member,
)
from lima_hf.data.sources.stackexchange.posts import ANSWER, scan_posts, scan_posts_parsed
from lima_hf.data.sources.stackexchange.rows import LayoutDeparture, RowError
from lima_hf.io import InputError

logger = logging.getLogger(__name__)


@dataclass
class SiteOutcome:
    """What curating one site produced."""

    site: str
    label: str
    rows: int = 0
    questions: int = 0
    answers: int = 0
    kept: int = 0  # questions in the top-K the rules were applied to
    candidates: list[Candidate] = field(default_factory=list)
    rejected: list[Verdict] = field(default_factory=list)
    dialogues: dict[int, list[tuple[str, list[Comment]]]] = field(default_factory=dict)  # answer id -> turns
    skipped_rows: list[tuple[str, str, str]] = field(default_factory=list)  # (location, reason, detail)
    error: str | None = None  # set when the site was skipped as unreadable (on_error=skip)
    full_parse: list[str] = field(default_factory=list)  # files read with the full parse, and why


def process_site(site: str, label: str, folder: str, config) -> SiteOutcome:
    """Curate ``site`` of the dump in ``folder`` (see the module docstring)."""
    outcome = SiteOutcome(site, label)
    skip = config.on_error == "skip"

    def on_skip(error: RowError) -> None:
        outcome.skipped_rows.append((error.location, error.reason, error.detail))

    try:
        posts = _require(folder, site, POSTS)
        # Rows of a big site as a progress bar, when sites are not running in parallel.
        rows = tqdm(desc=site, unit=" rows", unit_scale=True, leave=False,
                    disable=not config.progress or (config.num_proc or 1) > 1)
        options = dict(top_k=config.top_k, min_answer_score=None if config.unfiltered else config.min_answer_score,
                       rank=random_rank(f"{config.seed}/{site}") if config.unfiltered else None,
                       on_skip=on_skip if skip else None, on_progress=rows.update)
        with rows:
            scan = _read(posts, config, outcome, scan_posts, scan_posts_parsed, **options)
        outcome.rows, outcome.questions = scan.rows, scan.question_count
        outcome.answers, outcome.kept = scan.post_types.get(ANSWER, 0), len(scan.questions)
        outcome.candidates, outcome.rejected = judge_questions(
            scan, site, config, name=posts.describe(), on_skip=on_skip if skip else None)
        if config.multi_turn and outcome.candidates:
            outcome.dialogues = _dialogues(folder, site, outcome.candidates, config, on_skip if skip else None, outcome)
    except InputError as err:
        if not skip:
            raise
        return SiteOutcome(site, label, error=str(err), skipped_rows=outcome.skipped_rows)
    return outcome


def random_rank(salt: str):
    """A seeded pseudo-random rank of post ids (the same for a given seed and site, on any machine)."""

    def rank(post_id: int) -> int:
        return int.from_bytes(hashlib.blake2b(f"{salt}/{post_id}".encode(), digest_size=8).digest(), "big")

    return rank


def _require(folder: str, site: str, member: str) -> DumpFile:
    found = locate(folder, site, member)
    if found is None:
        raise InputError(f"{folder}: site {site} has no {member} (looked for {site}/{member}, "
                         f"{site}.7z and {site}-{member.rsplit('.', 1)[0]}.7z)")
    return found


def _read(file: DumpFile, config, outcome: SiteOutcome, fast, parsed, **options):
    """``fast(stream, name, **options)``; if the file departs from the dump layout, ``parsed`` on it again."""
    name = file.describe()
    skipped = len(outcome.skipped_rows)
    try:
        with open_member(file, config.sevenzip_backend) as stream:
            return fast(stream, name, **options)
    except LayoutDeparture as departure:
        del outcome.skipped_rows[skipped:]  # the full parse reports the bad rows again
        note = f"{departure}; read with a full XML parse instead of the prefilter"
        logger.warning("%s", note)
        outcome.full_parse.append(note)
    with open_member(file, config.sevenzip_backend) as stream:
        return parsed(stream, name, **options)


def _dialogues(folder: str, site: str, candidates: list[Candidate], config, on_skip, outcome: SiteOutcome):
    source = locate(folder, site, COMMENTS)
    if source is None or (source.archived and COMMENTS not in archive_members(source.path)):
        return {}  # a dump without comments has no multi-turn candidates
    threads = {}
    for candidate in candidates:
        asker, answerer = candidate.question.owner_user_id, candidate.answer.owner_user_id
        if asker and answerer and asker != answerer:
            threads[candidate.answer.id] = Thread(candidate.answer.id, asker, answerer)
    if not threads:
        return {}
    comments = _read(source, config, outcome, read_comments, read_comments_parsed,
                     answer_ids=set(threads), on_skip=on_skip)
    dialogues = {}
    for answer_id, thread in sorted(threads.items()):
        turns = dialogue_turns(comments.get(answer_id, []), thread, config.min_exchanges)
        if turns:
            dialogues[answer_id] = turns
    return dialogues
