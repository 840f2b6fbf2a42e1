"""Pushshift Reddit dumps: r/WritingPrompts (train) and r/AskReddit (test prompts).

Input: a Pushshift ``.zst`` file or a folder of them: per-subreddit files (``<Subreddit>_submissions.zst``,
``<Subreddit>_comments.zst``) or monthly dumps of all of Reddit (``RS_YYYY-MM.zst`` submissions,
``RC_YYYY-MM.zst`` comments). Each is zstandard-compressed NDJSON, written with a long window, so it is
decompressed as a stream with ``max_window_size=2**31``; nothing is held but the candidates.

- **WritingPrompts**: submissions tagged ``[WP]`` (tag stripped), not removed, deleted, stickied or NSFW,
  ranked by score (most upvoted first); each paired with its top-scored top-level comment (``parent_id``
  ``t3_<submission id>``; not deleted, removed, stickied or by a bot, length within the configured window).
- **AskReddit**: self-contained, title-only questions (empty body, a question mark, no reference to a
  picture, "this", the body, ...), ranked by score; prompt only (test set).

The paper chose both sets by hand. This source ranks the candidates (``records``, best first, and a compact
``extras["ranked_candidates"]`` list for curators); the final choice is a curation manifest's ``select:``
list (see :mod:`lima_hf.data.manifest`), or the top of the ranking when there is none.
"""

from __future__ import annotations

from lima_hf.data.sources.base import CardEntry
from lima_hf.data.sources.reddit.config import Config
from lima_hf.data.sources.reddit.curate import LICENSE, NAME, curate

__all__ = ["LABELS", "NAME", "Config", "curate"]

_CREDIT = "The Reddit users named in each row's `author`; data from the Pushshift archive."
LABELS = {
    "writingprompts": CardEntry(
        "r/WritingPrompts (Pushshift)",
        "Most upvoted `[WP]` submissions (tag stripped) paired with their top-scored top-level comment; the final "
        "choice from the curation manifest.",
        LICENSE,
        _CREDIT,
    ),
    "askreddit": CardEntry(
        "r/AskReddit (Pushshift)",
        "Self-contained, title-only questions, ranked by score; the final choice from the curation manifest. "
        "Prompts only (test set).",
        LICENSE,
        _CREDIT,
    ),
}
