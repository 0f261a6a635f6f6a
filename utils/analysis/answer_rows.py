"""One results row -> the model's distribution over the questionnaire's option codes, or why not.

Two sources, by file:
- our files have a `distribution` column (JSON, full precision) and a `status`; a row is read
  from it when its status is `ok`, and its status is the reason otherwise;
- the original release's files have only `response`, which is parsed with the row's own
  `choice_keys`.

Renumbered options. The release's Korean questionnaire numbers Q119 and Q122-Q129, and its
Chinese one Q119, as 1..N instead of the WVS codes, in the same order as English. A row whose
`choice_keys` are not the questionnaire's codes but as many is mapped by position, in the
questionnaire's listing order:

    >>> read_row({"id": "Q122", "choice_keys": "['1', '2', '3']",
    ...           "response": "{'1': '20%', '2': '30%', '3': '50%'}"}, ("2", "1", "0"))
    RowAnswer(distribution={'2': 0.2, '1': 0.3, '0': 0.5}, reason='ok', detail='', remapped=True)

Read by code instead, `'3'` would fall outside Q122's options and `'1'` (the Korean "2nd
option") would land on WVS code 1. Our own translated questionnaires keep the WVS codes.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from utils.core.errors import UserError
from utils.core.parsing import parse_distribution
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.results.table import option_keys, status_of


@dataclass(frozen=True)
class RowAnswer:
    """`distribution` over the questionnaire's codes when `reason` is "ok"; else None and
    `reason` "unparsed" or "error", with `detail` (the parser's word or the row's error)."""

    distribution: dict[str, float] | None
    reason: str
    detail: str = ""
    remapped: bool = False

    @property
    def ok(self) -> bool:
        return self.reason == "ok"


def position_map(row_keys: Sequence[str], codes: Sequence[str] | None) -> dict[str, str] | None:
    """{row key: questionnaire code} when the row numbers the options differently but has as
    many, else None (same codes, any order, or a different count: read by code).

    ["1", "2", "3"], ("2", "1", "0") -> {"1": "2", "2": "1", "3": "0"}"""
    if not codes or set(row_keys) == set(codes) or len(row_keys) != len(codes) or len(set(row_keys)) != len(codes):
        return None
    return dict(zip(row_keys, codes))


def read_row(row: dict[str, str], codes: Sequence[str] | None = None, tolerance: float = 25.0) -> RowAnswer:
    """A row's answer, mapped by position onto `codes` (the questionnaire's `choice_keys`, in
    listing order) when its own keys are renumbered; `codes` None keeps the row's keys."""
    keys = option_keys(row)
    mapping = position_map(keys, codes)
    if "distribution" in row and "status" in row:  # our files
        status = status_of(row)
        if status == "error":
            return RowAnswer(None, "error", ((row.get("error") or "").strip().splitlines() or ["error"])[0][:80])
        if status != "ok":
            parsed = parse_distribution(row.get("response") or "", keys, tolerance=tolerance) if keys else None
            return RowAnswer(None, "unparsed", parsed.status if parsed else "no_choice_keys")
        dist = _json_distribution(row.get("distribution") or "")
        if dist is None:
            return RowAnswer(None, "unparsed", "bad_distribution")
    else:  # the original release's files
        if not keys:
            return RowAnswer(None, "unparsed", "no_choice_keys")
        parsed = parse_distribution(row.get("response") or "", keys, tolerance=tolerance)
        if not parsed.ok:
            return RowAnswer(None, "unparsed", parsed.status)
        dist = parsed.distribution
    if mapping is not None:
        dist = {mapping.get(k, k): v for k, v in dist.items()}
    return RowAnswer(dist, "ok", "", mapping is not None)


def _json_distribution(text: str) -> dict[str, float] | None:
    try:
        obj = json.loads(text)
    except (ValueError, TypeError):
        return None
    if not isinstance(obj, dict) or not obj:
        return None
    try:
        dist = {str(k): float(v) for k, v in obj.items()}
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(v) and v >= 0 for v in dist.values()) or sum(dist.values()) <= 0:
        return None
    return dist


@lru_cache(maxsize=8)
def questionnaire_codes(questions_dir: Path | None = None) -> dict[str, tuple[str, ...]]:
    """item id -> the English questionnaire's `choice_keys` (listing order), the codes that
    renumbered rows are mapped onto."""
    return {it.id: it.choice_keys for it in load_questionnaire(questionnaire_path("English", questions_dir))}


def listing(item_id: str, order: Sequence[str], questions_dir: Path | None = None) -> tuple[str, ...]:
    """The codes of `item_id` in listing order: the questionnaire's `choice_keys` when they are
    the same codes as `order` (the semantic order the analysis uses), else `order` itself."""
    try:
        codes = questionnaire_codes(questions_dir).get(item_id)
    except UserError:  # no questionnaire there: fall back to the analysis' own order
        codes = None
    return codes if codes and set(codes) == set(order) else tuple(order)
