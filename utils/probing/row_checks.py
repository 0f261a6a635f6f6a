"""Whether a stored results row can be trusted: a hand edit gone wrong is found when the file is
opened, with the reason, rather than scored or resumed as if it were an answer.

    >>> row_problem({"id": "Q1", "status": "ok", "distribution": '{"1": 0.5, "2": 0.4}'})
    "is 'ok' but its distribution sums to 0.9, not 1"
"""
from __future__ import annotations

import json
import math

STATUSES = ("ok", "unparsed", "error")


def row_problem(row: dict[str, str]) -> str:
    """Why a stored row cannot be trusted (a hand edit gone wrong), or "" if it can."""
    if not row["id"].strip():
        return "has no id"
    if row["status"] not in STATUSES:
        return f"has status {row['status']!r}, not one of {', '.join(STATUSES)}"
    if row["status"] != "ok":
        return ""
    try:
        dist = json.loads(row["distribution"])
        values = list(dist.values()) if isinstance(dist, dict) else None
    except (ValueError, TypeError):
        values = None
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
                             for v in values):
        return "is 'ok' but its distribution is not a JSON mapping of option codes to probabilities"
    if abs(sum(values) - 1.0) > 0.01:
        return f"is 'ok' but its distribution sums to {sum(values):.4g}, not 1"
    return ""
