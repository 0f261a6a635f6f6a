"""The arithmetic of the release's notebooks (RQ1, the model level, the human-alignment matrix): an
item counts when both sides have as many options; RQ1's support is the first side's keys sorted as
strings (`'0' < '1' < '10' < '2'`), taken as numbers, the matrix's 1..N in listed order; scores are
rounded to 4 decimals. docs/paper-compat.md.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import wasserstein_distance

from utils.core.errors import UserError

# left out of the model-level notebook's pooled score and per-country figure (Japan's few-shot items)
MODEL_LEVEL_SKIP = ("Q60", "Q70", "Q90", "Q110", "Q130")


def item_score(support, p_model, p_human) -> float:
    """`1 - W1(support; p_model, p_human) / (N - 1)` with one support for both sides.

    >>> round(item_score([1, 2, 3], [1, 0, 0], [0, 0, 1]), 4)
    0.0
    """
    try:
        return float(1.0 - wasserstein_distance(support, support, p_model, p_human) / (len(support) - 1))
    except ValueError as exc:  # all-zero weights: the original code stops here
        raise UserError(f"--paper-compat: an item's weights cannot be scored ({exc}); an answer with all "
                        "options at 0% stops the original code too") from None


def sorted_score(d1: dict, d2: dict, q: str) -> float:
    """The notebooks' score of `d1[q]` against `d2[q]`, NaN where the item does not count. Below:
    support [0, 1, 2], weights [0, .5, .5] vs [0, 0, 1], W1 = 0.5, score 1 - 0.5 / 2.

    >>> sorted_score({"Q": {"2": .5, "1": .5, "0": 0}}, {"Q": {"2": 1.0, "1": 0.0, "0": 0.0}}, "Q")
    0.75
    """
    if q not in d1 or q not in d2 or len(d1[q]) != len(d2[q]):
        return math.nan
    try:
        s1, s2 = sorted(d1[q].items()), sorted(d2[q].items())
    except TypeError:
        raise UserError(f"{q}: an answer mixes integer and text keys; the original code stops on it") from None
    return item_score([int(k) for k, _ in s1], [v for _, v in s1], [v for _, v in s2])


def item_scores(d1: dict, d2: dict, ids) -> list[float]:
    """The per-item scores of `d1` against `d2` over `ids`, items that do not count left out."""
    return [s for q in ids if np.isfinite(s := sorted_score(d1, d2, q))]


def normalized_entropy(dist: dict) -> float:
    """The notebook's `shannon_entropy(p, 2) / log2(len(p))`: zeros dropped, renormalized if off 1."""
    probs = [float(p) for p in dist.values() if p > 0]
    s = sum(probs)
    if not math.isclose(s, 1.0, rel_tol=1e-9, abs_tol=1e-12):
        probs = [p / s for p in probs]
    return -sum(p * math.log2(p) for p in probs) / math.log(len(dist), 2)  # noqa: FURB163 - as the notebook


def last_item(dists: dict[str, dict], questions) -> str:
    """The last item (in `questions`' order) that `dists` has; '' when none."""
    return next((q for q in reversed(list(questions)) if q in dists), "")


def notebook_consistency(dists: dict[str, dict], questions) -> float:
    """The notebook's "consistency": the LAST item's normalized entropy only (its loop appends after it
    ends), rounded. `{'Q1': {'1': 1.0, '2': 0.0}, 'Q2': {'1': .5, '2': .5}}` -> 1.0."""
    last = last_item(dists, questions)
    return float(np.round(normalized_entropy(dists[last]), 4)) if last else math.nan


def model_level(answers: dict[str, dict], country_scores: pd.DataFrame, pooled: dict[str, dict],
                questions) -> pd.DataFrame:
    """The model-level notebook's table, per model its score against all countries pooled (human side
    first) and its spread, "consistency" and mean country score; `answers` come without `MODEL_LEVEL_SKIP`."""
    rows = []
    for model, ans in answers.items():
        s = item_scores(pooled, ans, questions)
        score = float(np.round(np.mean(s), 4)) if s else math.nan
        hi, lo = (float(np.round(np.max(s), 4)), float(np.round(np.min(s), 4))) if s else (math.nan, math.nan)
        countries = country_scores[country_scores["model"] == model]
        rows.append({"model": model, "pooled_score": score, "max_minus_score": float(np.round(hi - score, 4)),
                     "score_minus_min": float(np.round(score - lo, 4)),
                     "consistency": notebook_consistency(ans, questions),
                     "mean_country_score": float(countries["score"].mean()) if len(countries) else math.nan,
                     "n_countries": len(countries), "n_items": len(s)})
    return pd.DataFrame(rows).assign(people_consistency=notebook_consistency(pooled, questions))


def matrix(dists: list[dict[str, list[float]]]) -> np.ndarray:
    """[L, L] the human-alignment notebooks' score of every pair, rounded. On the support 1..N, W1
    is the summed |CDF difference|, scipy's number to ~1e-16, so all pairs go in one array operation."""
    items = sorted({q for d in dists for q in d})
    k = max((len(v) for d in dists for v in d.values()), default=1)
    cdf = np.full((len(dists), len(items), k), np.nan)
    size = np.zeros((len(dists), len(items)), dtype=int)
    for li, d in enumerate(dists):
        for qi, q in enumerate(items):
            if q in d:
                v = np.asarray(d[q], float)
                cdf[li, qi, :len(v)] = np.cumsum(v / v.sum())
                size[li, qi] = len(v)
    out = np.full((len(dists), len(dists)), np.nan)
    for li in range(len(dists)):
        same = (size[li][None] == size) & (size[li][None] > 0)  # [L, I]
        steps = np.arange(k)[None, None] < (size[li] - 1)[None, :, None]  # [1, I, K]: the N - 1 gaps
        w1 = np.nansum(np.where(steps, np.abs(cdf[li][None] - cdf), 0.0), -1)
        score = np.where(same, 1 - w1 / np.maximum(size[li] - 1, 1)[None], 0.0)
        n = same.sum(-1)
        out[li] = np.round(np.where(n > 0, score.sum(-1) / np.maximum(n, 1), np.nan), 4)
    return out


def consistency_table(answers: dict[str, dict], pooled: dict[str, dict], questions) -> pd.DataFrame:
    """The notebook's "consistency" of each model (`answers` without `MODEL_LEVEL_SKIP`), then of the
    people pooled, with the item it rests on."""
    what = "normalized entropy of the last item only (the notebook's 'consistency', as written)"
    rows = [{"kind": kind, "model": label, "item": last_item(dists, questions),
             "consistency": notebook_consistency(dists, questions), "what": what}
            for label, kind, dists in [(m, "model", a) for m, a in answers.items()] +
            [("people (all countries pooled)", "people", pooled)]]
    return pd.DataFrame(rows, columns=["kind", "model", "item", "consistency", "what"])
