"""Automatic quality and diversity selection: choose a small, diverse, high-quality training set from a
large candidate pool (``lima-hf select``).

Pipeline (:func:`select_records`): quality signals and rule filters (:mod:`.quality`), sentence
embeddings (:mod:`.embeddings`), near-duplicate removal (:mod:`.dedup`), per-group quotas (:mod:`.quotas`),
the strategies as a list of steps (:mod:`.strategies`: diversity (:mod:`.diversity`), longest, judge
threshold, Deita (:mod:`.scorers`)), reports (:mod:`.report`). Neighbour search is exact or approximate
(:mod:`.index`, faiss). Names are imported on first use, the encoder and faiss only when used.
"""

from lima_hf._lazy import lazy_exports

_NAMES = {  # module -> the public names it defines
    "embeddings": ("DEFAULT_MODEL", "Embedder", "prompt_text", "response_text"),
    "diversity": ("facility_location", "k_center_greedy", "random_selection"),
    "dedup": ("DedupResult", "remove_near_duplicates"),
    "index": ("NeighbourIndex",),
    "quality": ("QualityWeights", "combine", "load_judge_scores", "quality_ranking", "quality_signals"),
    "config": ("SelectionConfig",),
    "pipeline": ("SelectionResult", "select_records"),
    "report": ("build_report", "coverage", "report_files", "report_markdown"),
    "pool": ("load_pool",),
    "quotas": ("parse_quotas", "resolve_quotas"),
    "card": ("selection_card",),
    "strategies": ("STRATEGIES", "MissingScoresError", "SelectionContext", "Strategy", "parse_steps"),
    "scorers": ("judge_scores", "load_scores", "model_scores"),
}
_LAZY = {name: f"lima_hf.data.selection.{module}" for module, names in _NAMES.items() for name in names}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
