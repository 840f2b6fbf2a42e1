"""``evaluate`` metric modules shipped with lima-hf: ``lima_preference`` and ``lima_likert``. They import no
``lima_hf``: each folder links ``parsing.py`` and ``stats.py`` from ``lima_hf.evaluation`` as its own files.

import evaluate
from lima_hf.evaluation.metrics import metric_path

preference = evaluate.load(metric_path("lima_preference"))
likert = evaluate.load(metric_path("lima_likert"))
"""

from pathlib import Path

METRICS = ("lima_preference", "lima_likert")


def metric_path(name: str) -> str:
    """The folder of the metric module ``name``, for ``evaluate.load``."""
    if name not in METRICS:
        raise ValueError(f"unknown metric '{name}' (choose from {', '.join(METRICS)})")
    return str(Path(__file__).resolve().parent / name)
