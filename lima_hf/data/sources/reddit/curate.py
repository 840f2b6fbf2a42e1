"""Curating Pushshift dumps: submissions screened and ranked per subreddit, then WritingPrompts paired with
their best top-level comment (see :mod:`lima_hf.data.sources.reddit`)."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from tqdm.auto import tqdm

from lima_hf.data.records import SourceResult, make_record
from lima_hf.data.rules import reject
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


def _post_rejection(post: dict) -> str | None:
    if post.get("over_18"):
        return "nsfw"
    if post.get("stickied") or post.get("distinguished") == "moderator":
        return "stickied"
    if post.get("removed_by_category") or post.get("title") in ("[deleted]", "[removed]"):
        return "removed"
    return None


def _scan(path: Path, config: Config, result: SourceResult, found: Counter | None = None) -> Iterator[dict]:
    """The objects of one Pushshift file; malformed lines raised or, when skipping, logged (id ``file:line``).
    ``found`` counts the lines read per subreddit."""
    skipped: list[tuple[int, InputError]] = []
    for _, obj in tqdm(
        iter_zst_lines(path, on_error=config.on_error, skipped=skipped),
        desc=f"reddit {path.name}",
        unit=" lines",
        leave=False,
        disable=not config.progress,
    ):
        if found is not None:
            found[str(obj.get("subreddit") or "(none)")] += 1
        yield obj
    for line, error in skipped:
        raise_or_skip(error, on_error="skip", rejections=result.rejections, source=NAME, id=f"{path.name}:{line}")


def curate(config: Config) -> SourceResult:
    """Ranked WritingPrompts pairs and AskReddit questions (records), plus ``extras["ranked_candidates"]``."""
    if not config.input:
        raise InputError("reddit: --input (a Pushshift .zst file or a folder of them) is required")
    files = input_files(Path(config.input))
    wp_sub = config.writingprompts_subreddit.lower()
    ask_sub = config.askreddit_subreddit.lower()
    result = SourceResult(extras={"ranked_candidates": []})
    wp_heap: list[tuple] = []
    ask_heap: list[tuple] = []
    seen: set[str] = set()
    found: Counter[str] = Counter()  # submissions read per subreddit

    def keep(heap, score, post_id, item):
        entry = (score, tie_break(post_id), item)
        if len(heap) < config.max_candidates:
            heapq.heappush(heap, entry)
        elif entry[:2] > heap[0][:2]:
            heapq.heapreplace(heap, entry)

    for kind, path in files:
        if kind != "submissions":
            continue
        for post in _scan(path, config, result, found):
            sub = str(post.get("subreddit") or "").lower()
            if sub not in (wp_sub, ask_sub) or not post.get("id"):
                continue
            tag = "writingprompts" if sub == wp_sub else "askreddit"
            post_id = str(post["id"])
            if post_id in seen:  # the same post in a per-subreddit file and a monthly dump
                continue
            seen.add(post_id)
            reason = _post_rejection(post)
            score = int(post.get("score") or 0)
            if reason is None and score < config.min_submission_score:
                reason = "low_score"
            if tag == "writingprompts":
                prompt = writingprompt(post.get("title") or "", config.writingprompts_tags)
                if reason is None and prompt is None:
                    reason = "not_a_writing_prompt"
                if reason is None and not prompt:
                    reason = "empty_prompt"
            else:
                prompt, why = askreddit_question(post, config)
                reason = reason or (why or None)
            if reason:
                reject(result.rejections, source=tag, id=f"reddit/{tag}/{post_id}", reason=reason)
                continue
            item = {"post": slim(post), "prompt": prompt}
            keep(wp_heap if tag == "writingprompts" else ask_heap, score, post_id, item)

    if not seen and not result.rejections:
        raise InputError(_nothing_found(config, files, found))
    wp = {item["post"]["id"] for _, _, item in wp_heap}
    comments = (c for kind, path in files if kind == "comments" and wp for c in _scan(path, config, result))
    best, rejected_comments = top_comments(comments, wp, config)
    _ranked_records(result, wp_heap, ask_heap, best, rejected_comments)
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
                if pair is None:
                    reasons = rejected_comments.get(post["id"], {})
                    detail = (
                        ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items()))
                        or "no top-level comment in the input"
                    )
                    reject(result.rejections, source=tag, id=record_id, reason="no_eligible_comment", detail=detail)
                    result.extras["ranked_candidates"].append(
                        {**row, "eligible": False, "reason": "no_eligible_comment"}
                    )
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
