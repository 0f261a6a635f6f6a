"""The columns of a `results.csv`, the header generations earlier versions wrote, and whether a
row can be trusted. The store writes these columns and every reader reads them through here.

Columns: the release's `id, question, choices, choice_keys, answer, type, response`, then ours
(`distribution` is JSON `{"1": 0.25, ...}` over the item's codes), then the run's identity
(`spec.RunSpec.columns`) and `prompt_sha256`, the hash of the exact messages of that row.

Each new identity dimension was added at the end of the header, so a file of an earlier
generation is read with those columns at their "not used" value (`migrate`) and rewritten in the
current one when a run resumes into it:

    version 2  ... identity, sample counts          (before groups)
    version 3  + group_var, group                   (before protocols: read as `protocol` ours)
    version 4  + protocol, release_commit           (before perturbations)
    version 5  + perturb_family ... repeat, seed    (before imported surveys: read as the WVS, wave 7)
    version 6  + survey, survey_wave                (before shards: read as no shard)
    version 7  + shard                              (current)

A file of version 1 (no identity columns at all) cannot say what its rows were asked under, so
it is not resumed into (`header_problem`).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

from utils.core.results.spec import IDENTITY_COLUMNS, WVS, WVS_WAVE

RELEASE_COLUMNS = ("id", "question", "choices", "choice_keys", "answer", "type", "response")
STORE_COLUMNS = RELEASE_COLUMNS + ("distribution", "method", "status", "attempts", "raw_text", "error", "latency_s",
                                   "prompt_tokens", "completion_tokens", "finished_at")
SAMPLE_COLUMNS = ("sample_counts", "n_unreadable")  # method `sample` only; else empty
_LATER = ("group_var", "group", "protocol", "release_commit", "perturb_family", "perturb_index", "perturb_seed",
          "repeat", "seed", "survey", "survey_wave", "shard")
_FIRST_IDENTITY = tuple(c for c in IDENTITY_COLUMNS if c not in _LATER and c != "method") + ("prompt_sha256",)
VERSIONS = {
    2: STORE_COLUMNS + _FIRST_IDENTITY + SAMPLE_COLUMNS,
    3: STORE_COLUMNS + _FIRST_IDENTITY + SAMPLE_COLUMNS + _LATER[:2],
    4: STORE_COLUMNS + _FIRST_IDENTITY + SAMPLE_COLUMNS + _LATER[:4],
    5: STORE_COLUMNS + _FIRST_IDENTITY + SAMPLE_COLUMNS + _LATER[:9],
    6: STORE_COLUMNS + _FIRST_IDENTITY + SAMPLE_COLUMNS + _LATER[:11],
    7: STORE_COLUMNS + _FIRST_IDENTITY + SAMPLE_COLUMNS + _LATER,
}
SCHEMA_VERSION = max(VERSIONS)
COLUMNS = VERSIONS[SCHEMA_VERSION]
NEEDED_COLUMNS = ("id", "choice_keys", "response")  # what any results file, ours or the release's, has
STATUSES = ("ok", "unparsed", "error")


def version_of(header: list[str] | tuple[str, ...]) -> int | None:
    """Which generation of our columns `header` is (None: not ours, or too old to resume)."""
    return next((v for v, cols in VERSIONS.items() if tuple(header) == cols), None)


def migrate(row: dict[str, str], version: int) -> dict[str, str]:
    """A row of generation `version` in the current columns: added columns at their "not used"
    value, which is empty except `protocol` (rows before it were asked our way) and the survey
    (rows before it asked the WVS Wave 7 questionnaire)."""
    out = dict.fromkeys(COLUMNS, "") | row
    if version < 4 and not row.get("protocol"):
        out["protocol"] = "ours"
    if version < 6 and not row.get("survey"):
        out |= {"survey": WVS, "survey_wave": WVS_WAVE}
    return out


def header_problem(path, header: list[str]) -> str:
    """One line on a results file whose columns are not a generation of ours: one re-saved by another
    program (an index column added, columns moved) is told how to get its rows back."""
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
    return (f"{path} does not have this toolkit's columns; move it away or pass another --results-root "
            "(parse_report.py reads the paper's files)")


@dataclass(frozen=True)
class RowCheck:
    """A stored row's status, or why it cannot be trusted (`problem`, e.g. a hand edit gone wrong)."""

    status: str
    problem: str = ""


def check_row(row: dict[str, str]) -> RowCheck:
    """The one rule for a stored row of ours: its status, and whether an `ok` row's distribution
    is a probability mapping.

    >>> check_row({"id": "Q1", "status": "ok", "distribution": '{"1": 0.5, "2": 0.4}'}).problem
    "is 'ok' but its distribution sums to 0.9, not 1"
    """
    status = row.get("status") or ""
    if not (row.get("id") or "").strip():
        return RowCheck(status, "has no id")
    if status not in STATUSES:
        return RowCheck(status, f"has status {status!r}, not one of {', '.join(STATUSES)}")
    if status != "ok":
        return RowCheck(status)
    values = distribution_values(row.get("distribution") or "")
    if values is None:
        return RowCheck(status, "is 'ok' but its distribution is not a JSON mapping of option codes to probabilities")
    if abs(sum(values) - 1.0) > 0.01:
        return RowCheck(status, f"is 'ok' but its distribution sums to {sum(values):.4g}, not 1")
    return RowCheck(status)


def distribution_values(text: str) -> list[float] | None:
    """The shares of a `distribution` cell, or None when it is not a JSON mapping of finite shares >= 0."""
    try:
        dist = json.loads(text)
    except (ValueError, TypeError):
        return None
    values = list(dist.values()) if isinstance(dist, dict) else None
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
                             for v in values):
        return None
    return values
