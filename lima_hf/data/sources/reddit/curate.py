"""Curating Pushshift dumps: submissions screened and ranked per subreddit, then WritingPrompts paired with
their best top-level comment (see :mod:`lima_hf.data.sources.reddit`)."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tqdm.auto import tqdm

from lima_hf.data.executors import per_file
from lima_hf.data.records import SourceResult, make_record
from lima_hf.data.rules import EligibleComment, RuleChain, reject, submission_rules
from lima_hf.data.sources.bad_input import raise_or_skip
from lima_hf.data.sources.reddit.askreddit import askreddit_question
from lima_hf.data.sources.reddit.config import Config
from lima_hf.data.sources.reddit.pushshift import (
    input_files,
    iter_zst_lines,
    slim,
    tie_break,
)
from lima_hf.data.sources.reddit.writingprompts import top_comments, writingprompt
from lima_hf.io import InputError

NAME = "reddit"
LICENSE = "Reddit user content via the Pushshift archive (no license granted; research use)"


@dataclass
class Submission:
    """A submission as :func:`lima_hf.data.rules.submission_rules` see it: the Pushshift dict and its prompt
    (``None``: a WritingPrompts title without an accepted tag)."""

    post: dict
    prompt: str | None

    @property
    def score(self) -> int:
        return int(self.post.get("score") or 0)


@dataclass
class Story:
    """A WritingPrompts candidate after the join, as :class:`~lima_hf.data.rules.EligibleComment` sees it: its best
    eligible comment (``None``: none) and its rejected comments counted per reason."""

    best: dict | None
    rejected: dict[str, int]


def submission_events(path: Path, config: Config, *, stream: bool = False) -> dict:
    """Stage 1 on one submissions file: a verdict per submission of the two subreddits, in file order
    (``[tag, id, reason, score, item]``: a rejection reason, or the kept item), the malformed lines skipped
    (``[line, error]``) and the lines read per subreddit. With ``stream``, ``events`` is a generator (memory
    stays bounded in one process) that fills ``skipped`` and ``found`` as it is read."""
    found: Counter[str] = Counter()
    skipped: list = []
    events = _verdicts(path, config, found, skipped)
    return {"events": events if stream else list(events), "skipped": skipped, "found": found}


def _verdicts(path: Path, config: Config, found: Counter, skipped: list) -> Iterator[list]:
    wp_sub, ask_sub = config.writingprompts_subreddit.lower(), config.askreddit_subreddit.lower()
    chains = {tag: RuleChain(submission_rules(config, tag)) for tag in ("writingprompts", "askreddit")}
    errors: list[tuple[int, InputError]] = []
    lines = iter_zst_lines(path, on_error=config.on_error, skipped=errors)
    for _, post in tqdm(lines, desc=f"reddit {path.name}", unit=" lines", leave=False, disable=not config.progress):
        sub = str(post.get("subreddit") or "").lower()
        found[str(post.get("subreddit") or "(none)")] += 1
        if sub not in (wp_sub, ask_sub) or not post.get("id"):
            continue
        tag = "writingprompts" if sub == wp_sub else "askreddit"
        if tag == "writingprompts":
            submission = Submission(post, writingprompt(post.get("title") or "", config.writingprompts_tags))
        else:
            submission = Submission(post, askreddit_question(post))
        failure = chains[tag].first_failure(submission)  # Pushshift rejections carry the reason alone
        reason, score, prompt = failure and failure[0], submission.score, submission.prompt
        yield [tag, str(post["id"]), reason, score, None if reason else {"post": slim(post), "prompt": prompt}]
    skipped.extend([line, str(error)] for line, error in errors)


def comment_choices(path: Path, config: Config, post_ids: list[str]) -> dict:
    """Stage 1 on one comments file: the best eligible top-level comment of each post in ``post_ids`` (with its
    key), the rejected comments counted per post and reason, and the malformed lines skipped."""
    skipped: list[tuple[int, InputError]] = []
    lines = iter_zst_lines(path, on_error=config.on_error, skipped=skipped)
    comments = (c for _, c in tqdm(lines, desc=f"reddit {path.name}", unit=" lines", leave=False,
                                   disable=not config.progress))
    best, rejected = top_comments(comments, set(post_ids), config)
    return {"best": best, "rejected": rejected, "skipped": [[line, str(error)] for line, error in skipped]}


def _file_results(kind: str, paths: list[Path], config: Config, post_ids: list[str] | None = None) -> Iterator[dict]:
    """Stage 1 on each file of ``paths`` in order (:func:`~lima_hf.data.executors.per_file`)."""
    if kind == "submissions":  # in one process the verdicts stream; a task writes them all
        work = partial(submission_events, stream=config.executor == "pool")
    else:
        work = partial(comment_choices, post_ids=post_ids or [])
    return per_file(f"Pushshift {kind}", work, paths, config, counts=_counts,
                    key={"kind": kind, "post_ids": sorted(post_ids or [])})


def _counts(result: dict) -> dict[str, int]:
    """A task's numbers for datatrove's stats: verdicts per reason (``kept``), malformed lines skipped."""
    counts = Counter(event[2] or "kept" for event in result.get("events", []))
    counts["skipped_lines"] = len(result["skipped"])
    return dict(counts)


def _log_skipped(result: SourceResult, path: Path, skipped: list) -> None:
    for line, error in skipped:
        raise_or_skip(InputError(error), on_error="skip", rejections=result.rejections, source=NAME,
                      id=f"{path.name}:{line}")


def curate(config: Config) -> SourceResult:
    """Ranked WritingPrompts pairs and AskReddit questions (records), plus ``extras["ranked_candidates"]``.

    Stage 1 reads each file on its own (:func:`submission_events`, :func:`comment_choices`: on the executor
    of ``--executor``); the global step keeps the first verdict of each submission (the same post can be in a
    per-subreddit file and a monthly dump), the top ``max_candidates`` per subreddit, and the best comment of
    each WritingPrompts candidate across the comments files (the join is by submission id: each comments
    file is read once for the candidates' ids).
    """
    if not config.input:
        raise InputError("reddit: --input (a Pushshift .zst file or a folder of them) is required")
    files = input_files(Path(config.input))
    submissions = [path for kind, path in files if kind == "submissions"]
    result = SourceResult(extras={"ranked_candidates": []})
    heaps: dict[str, list[tuple]] = {"writingprompts": [], "askreddit": []}
    seen: set[str] = set()
    found: Counter[str] = Counter()  # lines read per subreddit

    for path, screened in zip(submissions, _file_results("submissions", submissions, config)):
        for tag, post_id, reason, score, item in screened["events"]:
            if post_id in seen:  # the same post in a per-subreddit file and a monthly dump
                continue
            seen.add(post_id)
            if reason:
                reject(result.rejections, source=tag, id=f"reddit/{tag}/{post_id}", reason=reason)
                continue
            entry, heap = (score, tie_break(post_id), item), heaps[tag]
            if len(heap) < config.max_candidates:
                heapq.heappush(heap, entry)
            elif entry[:2] > heap[0][:2]:
                heapq.heapreplace(heap, entry)
        found.update(screened["found"])
        _log_skipped(result, path, screened["skipped"])

    if not seen and not result.rejections:
        raise InputError(_nothing_found(config, files, found))
    wp = sorted(item["post"]["id"] for _, _, item in heaps["writingprompts"])
    best: dict[str, dict] = {}
    rejected_comments: dict[str, dict[str, int]] = {}
    comments = [path for kind, path in files if kind == "comments"] if wp else []
    for path, chosen in zip(comments, _file_results("comments", comments, config, wp)):
        for post_id, pair in chosen["best"].items():  # files in order: the first of equal keys wins, as in one pass
            if post_id not in best or tuple(pair["key"]) > tuple(best[post_id]["key"]):
                best[post_id] = pair
        for post_id, reasons in chosen["rejected"].items():
            counts = rejected_comments.setdefault(post_id, {})
            for reason, count in reasons.items():
                counts[reason] = counts.get(reason, 0) + count
        _log_skipped(result, path, chosen["skipped"])
    _ranked_records(result, heaps["writingprompts"], heaps["askreddit"], best, rejected_comments)
    return result


def _ranked_records(result: SourceResult, wp_heap: list, ask_heap: list, best: dict, rejected_comments: dict) -> None:
    """The kept candidates of both subreddits, best first, as records and ``ranked_candidates`` rows."""
    for heap, tag in ((wp_heap, "writingprompts"), (ask_heap, "askreddit")):
        ranked = [item for _, _, item in sorted(heap, key=lambda e: e[:2], reverse=True)]
        for rank, item in enumerate(ranked, start=1):
            post = item["post"]
            record_id = f"reddit/{tag}/{post['id']}"
            messages = [{"role": "user", "content": item["prompt"]}]
            pair = best.get(post["id"]) if tag == "writingprompts" else None
            row = {
                "rank": rank,
                "id": record_id,
                "source": tag,
                "score": post["score"],
                "num_comments": post.get("num_comments"),
                "title": post.get("title"),
                "eligible": True,
            }
            if tag == "writingprompts":
                failure = EligibleComment().check(Story(pair, rejected_comments.get(post["id"], {})))
                if failure is not None:
                    reject(result.rejections, source=tag, id=record_id, reason=failure[0], detail=failure[1])
                    result.extras["ranked_candidates"].append({**row, "eligible": False, "reason": failure[0]})
                    continue
                messages.append({"role": "assistant", "content": pair["text"]})
                row["response_score"] = pair["comment"]["score"]
            result.extras["ranked_candidates"].append(row)
            authors = [f"u/{post.get('author')}"] + ([f"u/{pair['comment'].get('author')}"] if pair else [])
            result.records.append(
                make_record(
                    id=record_id,
                    source=tag,
                    messages=messages,
                    url=f"https://www.reddit.com{post['permalink']}"
                    if post.get("permalink")
                    else f"https://www.reddit.com/comments/{post['id']}/",
                    author=", ".join(authors),
                    license=LICENSE,
                    source_id=post["id"] + (f"/{pair['comment']['id']}" if pair else ""),
                    score=post["score"],
                    metadata={
                        "rank": rank,
                        "subreddit": post.get("subreddit"),
                        "created_utc": post.get("created_utc"),
                        **(
                            {"comment_id": pair["comment"]["id"], "comment_score": pair["comment"]["score"]}
                            if pair
                            else {}
                        ),
                    },
                )
            )


def _nothing_found(config: Config, files: list[tuple[str, Path]], found: Counter) -> str:
    """Why no submission was curated: the subreddits asked for, and those the submissions files hold."""
    wanted = " or ".join(f"r/{name}" for name in (config.writingprompts_subreddit, config.askreddit_subreddit) if name)
    submissions = [path.name for kind, path in files if kind == "submissions"]
    if not submissions:
        return (f"{config.input}: no submissions file (RS_*.zst, *_submissions.zst) among {len(files)} Pushshift "
                f"file(s): prompts come from submissions; comments alone give nothing to curate")
    total = sum(found.values())
    held = ", ".join(f"r/{name} ({count:,} lines)" for name, count in found.most_common(5))
    more = f" and {len(found) - 5} other subreddit(s)" if len(found) > 5 else ""
    return (f"{config.input}: no submission of {wanted or 'any subreddit (both subreddit options are empty)'} in "
            f"{', '.join(submissions)}: {total:,} lines read, from {held or 'no subreddit'}{more}; set "
            "--writingprompts_subreddit / --askreddit_subreddit to curate another subreddit")
