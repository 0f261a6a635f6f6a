"""Whether a stored results row can be trusted: a hand edit gone wrong is found when the file is
opened, with the reason, rather than scored or resumed as if it were an answer. The prober
(`utils/probing/results_store.py`) and the analysis (`result_layout.read_result_rows`) apply the
same checks, so a file one refuses the other never scores.

    >>> row_problem({"id": "Q1", "status": "ok", "distribution": '{"1": 0.5, "2": 0.4}'})
    "is 'ok' but its distribution sums to 0.9, not 1"
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path

from utils.core.errors import UserError

STATUSES = ("ok", "unparsed", "error")


def row_problem(row: dict[str, str]) -> str:
    """Why a stored row cannot be trusted (a hand edit gone wrong), or "" if it can."""
    if not (row.get("id") or "").strip():
        return "has no id"
    if row.get("status") not in STATUSES:
        return f"has status {row.get('status')!r}, not one of {', '.join(STATUSES)}"
    if row["status"] != "ok":
        return ""
    try:
        dist = json.loads(row.get("distribution") or "")
        values = list(dist.values()) if isinstance(dist, dict) else None
    except (ValueError, TypeError):
        values = None
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
                             for v in values):
        return "is 'ok' but its distribution is not a JSON mapping of option codes to probabilities"
    if abs(sum(values) - 1.0) > 0.01:
        return f"is 'ok' but its distribution sums to {sum(values):.4g}, not 1"
    return ""


def check_rows(path: Path, rows: Iterable[tuple[int, dict[str, str]]]) -> None:
    """Refuse a file of ours (rows with `status` and `distribution`) holding a row `row_problem`
    finds, in one line naming the file, the line and the item; the original release's files
    (no `status`) have nothing to check. `rows`: (line the row starts on, row)."""
    for line, row in rows:
        if "status" not in row or "distribution" not in row:
            return
        problem = row_problem(row)
        if problem:
            raise UserError(f"{path}, line {line} ({(row.get('id') or '').strip() or 'no id'}) {problem}: the file "
                            "was edited by hand or damaged; fix that row, or delete it and rerun the probing "
                            "command to ask its item again")
