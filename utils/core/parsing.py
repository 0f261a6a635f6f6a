"""Read a verbalized answer distribution out of raw model output.

Models reply in many dialects (JSON, Python dicts, unquoted keys, percents, 0-1
probabilities, code fences, prose, ``<think>`` reasoning); the result is a
probability vector over the item's options, or one machine-readable word why not.
Nothing is evaluated, so any string is safe to pass in.

    >>> text = "<think>Most say 1...</think>Answer: {'1': '60%', '2': '30%'}"
    >>> a = parse_distribution(text, ["1", "2", "3"])
    >>> a.status, a.raw_sum
    ('ok', 90.0)
    >>> {k: round(v, 4) for k, v in a.distribution.items()}
    {'1': 0.6667, '2': 0.3333, '3': 0.0}

Missing option "3" gets 0; the sum of 90 points is within the default
tolerance of 25, so the shares were renormalized.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

__all__ = ["ParsedAnswer", "parse_distribution"]


@dataclass(frozen=True)
class ParsedAnswer:
    """Outcome of parsing one response: a distribution, or None and a reason."""

    distribution: dict[str, float] | None
    status: str
    raw_sum: float | None = None  # sum as read, in percent units

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# A brace group with no braces inside.  Nested JSON such as {"answer": {...}}
# thus yields its inner mapping, and the scan is linear on any input.
_BRACES = re.compile(r"\{[^{}]*\}")
# Tokens inside a brace group; the final \S catches a stray quote, which makes
# the group "not a mapping" rather than something to guess about.
_TOKEN = re.compile(r"""'[^']*'|"[^"]*"|[:,]|[^\s'":,]+|\S""")
_NUMBER = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_VALUE = re.compile(r"([+-]?)(nan|inf|infinity|[0-9.eE+-]+?)\s*(%?)", re.I)
_THINK_OPEN = re.compile(r"<think\s*>", re.I)
_THINK_CLOSE = re.compile(r"</think\s*>", re.I)


def _strip_think(text: str) -> str:
    """The text after the last </think> (R1 may omit the opening tag).  A
    <think> left open means no answer: a mapping inside it is a draft."""
    text = _THINK_CLOSE.split(text)[-1]
    return "" if _THINK_OPEN.search(text) else text


def _read_pairs(body: str) -> list[tuple[str, str]] | None:
    """(key, value) strings, or None if not a flat mapping.  Bare sides may be
    several words (``40 %``); a trailing comma is allowed, empty entries not."""
    tokens = _TOKEN.findall(body[1:-1])
    entries: list[list[str]] = [[]]
    for tok in tokens:
        if tok == ",":
            entries.append([])
        else:
            entries[-1].append(tok)
    if len(entries) > 1 and not entries[-1]:
        entries.pop()  # trailing comma
    pairs = []
    for entry in entries:
        if entry.count(":") != 1:
            return None
        colon = entry.index(":")
        sides = []
        for side in (entry[:colon], entry[colon + 1:]):
            if not side or (len(side) > 1 and any(t[0] in "'\"" for t in side)):
                return None
            if side[0][0] in "'\"":
                if len(side[0]) < 2:  # a lone stray quote
                    return None
                sides.append(side[0][1:-1].strip())
            else:
                sides.append(" ".join(side))
        pairs.append((sides[0], sides[1]))
    return pairs


def _to_number(value: str) -> tuple[float, bool] | str:
    """(number, had_percent_sign), or a rejection reason."""
    m = _VALUE.fullmatch(value)
    if not m:
        return "not_a_number"
    sign, digits, percent = m.groups()
    if digits.lower() in ("nan", "inf", "infinity"):
        return "not_finite"
    if not _NUMBER.fullmatch(digits):
        return "not_a_number"
    number = float(digits)
    if not math.isfinite(number):  # e.g. 1e999
        return "not_finite"
    if sign == "-" and number != 0:
        return "negative_value"
    return number, bool(percent)


def _evaluate(pairs, keys: list[str], tolerance: float) -> ParsedAnswer:
    values: dict[str, float] = {}
    any_percent = False
    for key, raw in pairs:
        if key not in keys and key.endswith(".") and key[:-1] in keys:
            key = key[:-1]  # "1." is how some models write option 1
        if key not in keys:
            return ParsedAnswer(None, f"unknown_option:{key}")
        if key in values:
            return ParsedAnswer(None, f"duplicate_option:{key}")
        number = _to_number(raw)
        if isinstance(number, str):
            return ParsedAnswer(None, number)
        values[key], percent = number
        any_percent |= percent
    # Values all <= 1 and no % sign: 0-1 probabilities.  Read as percents
    # they could sum to at most len(keys) points, nowhere near 100.
    scale = 100.0 if not any_percent and max(values.values()) <= 1 else 1.0
    total = sum(v * scale for v in values.values())
    if total == 0:
        return ParsedAnswer(None, "all_zero", total)
    if not abs(total - 100.0) <= tolerance:
        return ParsedAnswer(None, f"sum_out_of_tolerance:{total:.6g}", total)
    dist = {k: values.get(k, 0.0) * scale / total for k in keys}
    return ParsedAnswer(dist, "ok", total)


def parse_distribution(text: str, option_keys: Sequence[str], *,
                       tolerance: float = 25.0,
                       max_chars: int = 200_000) -> ParsedAnswer:
    """The LAST brace mapping whose values are all numbers decides, as models
    often restate the requested format before answering; a malformed last
    answer is rejected, not replaced by an earlier one.  Never raises."""
    if not isinstance(text, str):
        return ParsedAnswer(None, "not_a_string")
    if len(text) > max_chars:
        return ParsedAnswer(None, "too_long")  # checked before any scan
    if not text.strip():
        return ParsedAnswer(None, "empty")
    keys = [str(k) for k in option_keys]
    fallback = "no_mapping"
    # Code fences and prose need no special case: only brace groups are read.
    for match in reversed(list(_BRACES.finditer(_strip_think(text)))):
        pairs = _read_pairs(match.group())
        if not pairs:
            continue
        if any(_to_number(v) == "not_a_number" for _, v in pairs):
            fallback = "not_a_number"  # e.g. {'1': 'X%'}: a format template
            continue
        return _evaluate(pairs, keys, tolerance)
    return ParsedAnswer(None, fallback)
