"""Automatic quality and diversity selection: choose a small, diverse, high-quality training set from a
large candidate pool (``lima-hf select``).

Pipeline (:func:`select_records`): quality signals and rule filters (:mod:`.quality`), sentence
embeddings (:mod:`.embeddings`), near-duplicate removal (:mod:`.dedup`), per-group quotas (:mod:`.quotas`),
diversity selection (:mod:`.diversity`), reports (:mod:`.report`). Neighbour search is exact or
approximate (:mod:`.index`, faiss). Names are imported on first use, the encoder and faiss only when used.
"""

from lima_hf._lazy import lazy_exports

_LAZY = {
    "DEFAULT_MODEL": "lima_hf.data.selection.embeddings",
    "STRATEGIES": "lima_hf.data.selection.diversity",
    "DedupResult": "lima_hf.data.selection.dedup",
    "Embedder": "lima_hf.data.selection.embeddings",
    "NeighbourIndex": "lima_hf.data.selection.index",
    "QualityWeights": "lima_hf.data.selection.quality",
    "SelectionConfig": "lima_hf.data.selection.config",
    "SelectionResult": "lima_hf.data.selection.pipeline",
    "build_report": "lima_hf.data.selection.report",
    "combine": "lima_hf.data.selection.quality",
    "coverage": "lima_hf.data.selection.report",
    "facility_location": "lima_hf.data.selection.diversity",
    "k_center_greedy": "lima_hf.data.selection.diversity",
    "load_judge_scores": "lima_hf.data.selection.quality",
    "load_pool": "lima_hf.data.selection.pool",
    "parse_quotas": "lima_hf.data.selection.quotas",
    "prompt_text": "lima_hf.data.selection.embeddings",
    "quality_ranking": "lima_hf.data.selection.quality",
    "quality_signals": "lima_hf.data.selection.quality",
    "random_selection": "lima_hf.data.selection.diversity",
    "remove_near_duplicates": "lima_hf.data.selection.dedup",
    "report_files": "lima_hf.data.selection.report",
    "report_markdown": "lima_hf.data.selection.report",
    "resolve_quotas": "lima_hf.data.selection.quotas",
    "response_text": "lima_hf.data.selection.embeddings",
    "select_records": "lima_hf.data.selection.pipeline",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
