"""One item's similarity between two answer distributions under an imported survey's metric and
policy (docs/surveys.md): `drop` leaves non-substantive options out of both sides, as OpinionQA does
with refusals, so an answer all "Refused" has nothing to score (NaN). `w1` on a nominal item is
1 - TVD: the Wasserstein distance when every two distinct options are 1 apart.

    >>> from utils.core.survey.data import Item, Option
    >>> item = Item("W", "q", (Option("1", "safer", 1.0), Option("2", "more dangerous", 2.0),
    ...             Option("3", "neither", 1.5), Option("99", "Refused")), non_substantive=("99",))
    >>> round(float(similarity(item, {"1": 0.5, "99": 0.5}, {"3": 1.0}, "w1", "drop")), 3)  # 1 vs 1.5
    0.5
"""
from __future__ import annotations

import numpy as np

from utils.analysis.metrics import jsd_similarity, normalize, positional_alignment, tvd_similarity
from utils.core.survey.data import Item


def scored_codes(item: Item, policy: str) -> tuple[tuple[str, ...], tuple[float, ...] | None]:
    """The codes `policy` scores, by position if ordinal, and their positions (None if nominal)."""
    codes = item.scored(policy)
    if item.scale != "ordinal":
        return codes, None
    place = {o.code: o.position for o in item.options}
    placed = sorted((c for c in codes if place[c] is not None), key=lambda c: place[c])
    if len(placed) != len(codes):  # a kept non-substantive option has no place on the scale
        return codes, None
    return tuple(placed), tuple(float(place[c]) for c in placed)


def vector(shares: dict[str, float] | None, codes: tuple[str, ...]) -> np.ndarray:
    """The shares on `codes`, renormalized; NaN when there is no mass on them."""
    return normalize(np.array([float((shares or {}).get(c, 0.0)) for c in codes]))


def compare(p: np.ndarray, q: np.ndarray, positions: tuple[float, ...] | None, metric: str) -> np.ndarray:
    """Similarity of distributions on the same codes (last axis), by `metric`."""
    if metric == "jsd":
        return jsd_similarity(p, q)
    if metric == "tvd" or positions is None or positions[-1] == positions[0]:
        return tvd_similarity(p, q)
    return positional_alignment(p, q, positions)


def similarity(item: Item, p: dict[str, float] | None, q: dict[str, float] | None, metric: str, policy: str) -> float:
    codes, positions = scored_codes(item, policy)
    return float(compare(vector(p, codes), vector(q, codes), positions, metric))


def split_half(item: Item, counts: dict[str, float], metric: str, policy: str, rng: np.random.Generator,
               repeats: int = 10) -> float:
    """How well one random half of a cell's respondents predicts the other; NaN under two respondents."""
    codes, positions = scored_codes(item, policy)
    n = np.rint([max(float(counts.get(c, 0.0)), 0.0) for c in codes]).astype(np.int64)
    if n.sum() < 2:
        return float("nan")
    halves = np.array([rng.multivariate_hypergeometric(n, int(n.sum()) // 2) for _ in range(repeats)])
    with np.errstate(invalid="ignore", divide="ignore"):
        a = halves / halves.sum(-1, keepdims=True)
        b = (n - halves) / (n - halves).sum(-1, keepdims=True)
    return float(np.nanmean(compare(a, b, positions, metric)))
