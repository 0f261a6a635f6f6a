"""The columns of a `results.csv` (docs/results-format.md), their past generations, and whether a
row can be trusted.

Each generation (`VERSIONS`) appended columns, so an older file reads with them at their "not used"
value (`migrate`) and is rewritten in the current one when a run resumes into it. Version 1 (no
identity columns) cannot say what its rows were asked under: never resumed into.
"""
from __future__ import annotations

import json
import math

from utils.core.results.spec import IDENTITY_COLUMNS, WVS, WVS_WAVE

RELEASE_COLUMNS = ("id", "question", "choices", "choice_keys", "answer", "type", "response")
STORE_COLUMNS = RELEASE_COLUMNS + ("distribution", "method", "status", "attempts", "raw_text", "error", "latency_s",
                                   "prompt_tokens", "completion_tokens", "finished_at")
SAMPLE_COLUMNS = ("sample_counts", "n_unreadable")  # method `sample` only; else empty
_LATER = ("group_var", "group", "protocol", "release_commit", "perturb_family", "perturb_index", "perturb_seed",
          "repeat", "seed", "survey", "survey_wave", "shard")
_FIRST_IDENTITY = tuple(c for c in IDENTITY_COLUMNS if c not in _LATER and c != "method") + ("prompt_sha256",)
# generation -> how many of the `_LATER` columns it has
VERSIONS = {v: STORE_COLUMNS + _FIRST_IDENTITY + SAMPLE_COLUMNS + _LATER[:n]
            for v, n in {2: 0, 3: 2, 4: 4, 5: 9, 6: 11, 7: len(_LATER)}.items()}
COLUMNS = VERSIONS[max(VERSIONS)]
NEEDED_COLUMNS = ("id", "choice_keys", "response")  # what any results file, ours or the release's, has
STATUSES = ("ok", "unparsed", "error")


def version_of(header: list[str] | tuple[str, ...]) -> int | None:
    """None: not ours, or too old to resume."""
    return next((v for v, cols in VERSIONS.items() if tuple(header) == cols), None)


def migrate(row: dict[str, str], version: int) -> dict[str, str]:
    """Added columns are empty except `protocol` ("ours") and the survey (WVS, wave 7)."""
    out = dict.fromkeys(COLUMNS, "") | row
    if version < 4 and not row.get("protocol"):
        out["protocol"] = "ours"
    if version < 6 and not row.get("survey"):
        out |= {"survey": WVS, "survey_wave": WVS_WAVE}
    return out


def header_problem(path, header: list[str]) -> str:
    """One line on a header that is no generation of ours; a file re-saved by another program (an
    index column added, columns moved) is told how to get its rows back."""
    ours = next((cols for _, cols in sorted(VERSIONS.items(), reverse=True) if set(cols) <= set(header)), None)
    if ours is not None:
        extra = [c for c in header if c not in ours]
        if extra and all(c == "" or c.startswith("Unnamed:") for c in extra) and \
                tuple(c for c in header if c in ours) == ours:
            fix = (f"python -c \"import pandas as pd; p = '{path}'; pd.read_csv(p, dtype=str, keep_default_na=False, "
                   "index_col=0).to_csv(p, index=False)\"")
            name = f"{extra[0]!r}" if extra[0] else "without a name"
            return (f"{path} was re-saved by another program (pandas, a spreadsheet), which added an index column "
                    f"({name}); to recover its rows, write it back without that column, every value as text: {fix}")
        what = f"extra column(s) {', '.join(map(repr, extra))}" if extra else "its columns in another order"
        return (f"{path} was re-saved by another program (pandas, a spreadsheet), with {what}; to recover its rows, "
                "write it back with exactly this toolkit's columns in their order (COLUMNS in "
                "utils/core/results/schema.py), no index column, every value as text (pandas: "
                "read_csv(dtype=str, keep_default_na=False), to_csv(index=False)); or move it away")
    if set(STORE_COLUMNS) <= set(header) and not set(_FIRST_IDENTITY) <= set(header):
        return (f"{path} was written by an earlier version of this toolkit, without the columns that say "
                "what each row was asked under (method, prompt, model...), so a rerun cannot tell whether it "
                "would mix conditions; move the file away, or pass another --results-root or --run-name")
    missing = [c for c in NEEDED_COLUMNS if c not in header]
    why = f" (no {', '.join(missing)} column)" if missing else ""
    return (f"{path} does not have this toolkit's columns{why}; move it away or pass another --results-root "
            "(parse_report.py reads the paper's files)")


def row_problem(row: dict[str, str]) -> str:
    """The one rule for a row of ours: why it cannot be trusted ("" if it can). A known status, and an
    `ok` row's distribution sums to 1 (+-0.01).

    >>> row_problem({"id": "Q1", "status": "ok", "distribution": '{"1": 0.5, "2": 0.4}'})
    "is 'ok' but its distribution sums to 0.9, not 1"
    """
    status = row.get("status") or ""
    if not (row.get("id") or "").strip():
        return "has no id"
    if status not in STATUSES:
        return f"has status {status!r}, not one of {', '.join(STATUSES)}"
    if status != "ok":
        return ""
    try:
        dist = json.loads(row.get("distribution") or "")
    except (ValueError, TypeError):
        dist = None
    values = list(dist.values()) if isinstance(dist, dict) else []
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
                             for v in values):
        return "is 'ok' but its distribution is not a JSON mapping of option codes to probabilities"
    if abs(sum(values) - 1.0) > 0.01:
        return f"is 'ok' but its distribution sums to {sum(values):.4g}, not 1"
    return ""
