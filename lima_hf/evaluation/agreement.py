"""Agreement between two raters (annotators, a judge and people) as the LIMA paper measures it.

Tie-discounted accuracy (LIMA, Appendix C): on the items both raters labelled, one point when they agree,
half a point when exactly one of them said tie, zero otherwise; the score is the mean. Without a tie label
(ratings such as Fail/Pass/Excellent) it is plain agreement.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Mapping
from typing import Any


def tie_discounted_accuracy(
    first: Mapping[Hashable, Any], second: Mapping[Hashable, Any], tie: Any = "tie"
) -> dict[str, Any]:
    """``{"items", "score"}`` of two raters' labels (``item -> label``; ``None`` = no label) on shared items."""
    shared = [k for k in first if k in second and first[k] is not None and second[k] is not None]
    points = []
    for key in shared:
        a, b = first[key], second[key]
        points.append(1.0 if a == b else 0.5 if tie is not None and (a == tie) != (b == tie) else 0.0)
    return {"items": len(shared), "score": sum(points) / len(points) if points else math.nan}


def agreement_table(raters: Mapping[str, Mapping[Hashable, Any]], tie: Any = "tie") -> list[dict[str, Any]]:
    """Every pair of raters that labelled at least one item in common: ``{"raters", "items", "score"}``."""
    rows = []
    for (name_a, a), (name_b, b) in itertools.combinations(raters.items(), 2):
        result = tie_discounted_accuracy(a, b, tie)
        if result["items"]:
            rows.append({"raters": [name_a, name_b], **result})
    return rows
