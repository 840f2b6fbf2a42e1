"""Options of the Stack Exchange curation; the defaults are the paper's."""

from __future__ import annotations

from dataclasses import dataclass, field

from lima_hf.data.executors import ExecutorConfig
from lima_hf.data.sources.base import SourceConfig
from lima_hf.data.sources.stackexchange.dump import BACKENDS


@dataclass
class Config(ExecutorConfig, SourceConfig):
    """Stack Exchange curation (LIMA section 2.1). ``input`` is a dump folder: ``<site>.7z`` archives,
    ``<site>-Posts.7z`` split archives or extracted ``<site>/Posts.xml`` folders, with or without Sites.xml."""

    stem_count: int = field(default=200, metadata={"help": "Examples to sample from STEM exchanges."})
    other_count: int = field(default=200, metadata={"help": "Examples to sample from the other exchanges."})
    temperature: float = field(
        default=3.0,
        metadata={"help": "Sampling temperature tau across exchanges: p(exchange) is proportional to its number "
                  "of questions to the power 1/tau."},
    )
    min_answer_score: int = field(
        default=10, metadata={"help": "A question's top answer must have at least this score."}
    )
    min_chars: int = field(
        default=1200, metadata={"help": "Answers shorter than this (characters of the converted Markdown) are dropped."}
    )
    max_chars: int = field(
        default=4096, metadata={"help": "Answers longer than this (characters of the converted Markdown) are dropped."}
    )
    filter_first_person: bool = field(
        default=True, metadata={"help": "Drop answers written in the first person ('I', 'my', 'me')."}
    )
    filter_other_answers: bool = field(
        default=True,
        metadata={"help": "Drop answers referring to other answers, comments or the site ('as mentioned', "
                  "'stack exchange', ...)."},
    )
    filter_removed_content: bool = field(
        default=True,
        metadata={"help": "Drop answers that point at an image, figure, link or attachment the conversion removed "
                  "('see the picture above', ends on 'Yields:'); beyond the paper."},
    )
    require_self_contained_title: bool = field(
        default=True,
        metadata={"help": "Keep only questions whose title can stand alone as a prompt (no 'this code', "
                  "'the following', ...)."},
    )
    title_probability: float = field(
        default=0.5,
        metadata={"help": "Probability that an example's prompt is the question title rather than its body "
                  "(drawn per example from the seed)."},
    )
    unfiltered: bool = field(
        default=False,
        metadata={"help": "The quality ablation's unfiltered arm (LIMA section 5: Stack Exchange 'without any "
                  "quality or stylistic filters'): per site, top_k questions drawn at random (not the "
                  "highest-scoring), each with one of its answers drawn at random (any score), and no length, "
                  "first-person, other-answers, removed-content or title rule. Draws follow the seed."},
    )
    top_k: int = field(
        default=2000,
        metadata={"help": "Highest-scoring questions kept per site while streaming (bounds memory); the rules "
                  "are applied to these."},
    )
    sites: list[str] | None = field(
        default=None, metadata={"help": "Only these site domains of the dump (default: every site found)."}
    )
    sites_table: str | None = field(
        default=None,
        metadata={"help": "CSV labelling sites stem/other/niche/meta (columns domain,name,label,rationale); "
                  "default: the packaged table."},
    )
    multi_turn: bool = field(
        default=True,
        metadata={"help": "Also collect multi-turn candidates from Comments.xml (asker follows up, answerer "
                  "replies) as the extra output 'multi_turn_candidates'."},
    )
    min_exchanges: int = field(
        default=1, metadata={"help": "Follow-up/reply pairs a comment chain needs to be a multi-turn candidate."}
    )
    sevenzip_backend: str = field(
        default="auto",
        metadata={"help": "How 7z archives are streamed: '7z' (a 7z/7zz/7za binary on PATH), 'py7zr' (pure "
                  "Python) or 'auto' (the binary when there is one).", "choices": list(BACKENDS)},
    )
    report: bool = field(default=True, metadata={"help": "Print the per-site and per-rule counts table (stderr)."})

    def __post_init__(self):
        super().__post_init__()
        if self.sevenzip_backend not in BACKENDS:
            raise ValueError(f"sevenzip_backend must be one of {', '.join(BACKENDS)}, not {self.sevenzip_backend!r}")
        if self.min_chars > self.max_chars:
            raise ValueError(f"min_chars ({self.min_chars}) is larger than max_chars ({self.max_chars})")
        if not 0.0 <= self.title_probability <= 1.0:
            raise ValueError(f"title_probability must be within [0, 1], not {self.title_probability}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, not {self.temperature}")
        if self.top_k < 1:
            raise ValueError("top_k must be at least 1")
