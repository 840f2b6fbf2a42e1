"""Options of the Reddit source."""

from __future__ import annotations

from dataclasses import dataclass, field

from lima_hf.data.executors import ExecutorConfig
from lima_hf.data.sources.base import SourceConfig


@dataclass
class Config(ExecutorConfig, SourceConfig):
    """Options of the Reddit source. ``input``: a Pushshift ``.zst`` file or a folder of them."""

    writingprompts_subreddit: str = field(
        default="WritingPrompts", metadata={"help": "Subreddit of the story prompts (empty: skip)."}
    )
    askreddit_subreddit: str = field(
        default="AskReddit", metadata={"help": "Subreddit of the test questions (empty: skip)."}
    )
    writingprompts_tags: list[str] = field(
        default_factory=lambda: ["WP"],
        metadata={"help": "Title tags accepted as prompts ([WP]; not [EU], [IP], [OT], ...)."},
    )
    max_candidates: int = field(
        default=1000,
        metadata={"help": "Candidates kept per subreddit (highest scores); manifest choices must be among them."},
    )
    min_submission_score: int = field(default=1, metadata={"help": "Minimum score of a submission."})
    min_comment_score: int = field(default=1, metadata={"help": "Minimum score of the paired top-level comment."})
    min_response_chars: int = field(
        default=500, metadata={"help": "Minimum length of a story (characters, after cleaning)."}
    )
    max_response_chars: int = field(
        default=8000, metadata={"help": "Maximum length of a story (characters, after cleaning)."}
    )
    min_question_words: int = field(default=4, metadata={"help": "Minimum number of words of an AskReddit question."})
    max_question_chars: int = field(
        default=300, metadata={"help": "Maximum length of an AskReddit question (Reddit allows 300)."}
    )
