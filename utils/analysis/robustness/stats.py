"""How far a score moves with the prompt: spreads, variance shares, position bias, rank agreement.

Inputs: one row per (model, condition, perturbation) with its `score`, on the items every prompt
answered; `condition` is "none" (RQ1) or "<method>/<country>". Reading: docs/robustness.md.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from utils.analysis import metrics
from utils.analysis.tables import NO_STEERING

ORIGINAL = "original"  # the unperturbed prompt, one member of every comparison
KEYS = ["model", "condition"]


def spread(scores: pd.DataFrame) -> pd.DataFrame:
    """Per model and condition, per family and over all prompts (`family` "all", the original
    included): mean, sample std (ddof 1), min, max, range and how many prompts.

    >>> df = pd.DataFrame({"model": "m", "condition": "none", "family": ["original", "order", "order"],
    ...                    "score": [.70, .60, .80]})
    >>> spread(df).query("family == 'all'")[["mean", "std", "range", "n"]].round(3).values.tolist()
    [[0.7, 0.1, 0.2, 3.0]]
    """
    parts = [scores.assign(family="all"), scores[scores["family"] != ORIGINAL]]
    by = pd.concat(parts).groupby(KEYS + ["family"], sort=False)["score"]
    out = by.agg(["mean", "std", "min", "max"]).reset_index()
    return out.assign(range=out["max"] - out["min"], n=by.size().to_numpy())


def variance_shares(matrix: np.ndarray) -> dict[str, float]:
    """Shares of the total sum of squares of S[model, prompt] = mu + a_m + b_p + e_mp: models
    (P*sum(a^2)), prompts (M*sum(b^2)) and their interaction (sum(e^2), which one answer per cell
    cannot tell from noise). Needs at least two models and two prompts, no NaN.

        [[.8, .6], [.6, .4]]: mu .6, a = b = (+.1, -.1), e = 0 -> SS .04, .04, 0 -> shares .5, .5, 0
    """
    s = np.asarray(matrix, float)
    mu = s.mean()
    a = s.mean(1) - mu
    b = s.mean(0) - mu
    e = s - mu - a[:, None] - b[None, :]
    m, p = s.shape
    ss = {"model": p * float((a ** 2).sum()), "prompt": m * float((b ** 2).sum()), "interaction": float((e ** 2).sum())}
    total = float(((s - mu) ** 2).sum())
    out = {f"ss_{k}": v for k, v in ss.items()} | {"ss_total": total}
    out |= {f"share_{k}": (v / total if total > 0 else np.nan) for k, v in ss.items()}
    return out


def decomposition(scores: pd.DataFrame, condition: str = NO_STEERING) -> pd.DataFrame:
    """`variance_shares` over all prompts and per family (with the original) that every model has;
    empty with fewer than two models."""
    d = scores[scores["condition"] == condition]
    rows = []
    for fam in ["all"] + [f for f in dict.fromkeys(d["family"]) if f != ORIGINAL]:
        part = d if fam == "all" else d[d["family"].isin([fam, ORIGINAL])]
        wide = part.pivot_table(index="model", columns="perturbation", values="score").dropna(axis=1)
        if wide.shape[0] < 2 or wide.shape[1] < 2:
            continue
        rows.append({"condition": condition, "family": fam, "n_models": wide.shape[0], "n_prompts": wide.shape[1]}
                    | variance_shares(wide.to_numpy()))
    return pd.DataFrame(rows)


def answer_distances(original: np.ndarray, others: list[np.ndarray], n_options: np.ndarray,
                     metric: str = "w1") -> dict[str, float]:
    """How far a model's answers [I, K] move with the prompt, with no human data: the mean distance
    (1 - metric) from the original's to each other prompt's, next to the uniform answer's; on the
    items both answered.

    >>> answer_distances(np.array([[1., 0.]]), [np.array([[.5, .5]])], np.array([2]))
    {'dist_to_uniform': 0.5, 'dist_between_prompts': 0.5, 'dist_between_prompts_max': 0.5, 'n_prompts': 1}
    """
    n_options = np.asarray(n_options)

    def mean_distance(a, b):
        both = np.isfinite(a).all(-1) & np.isfinite(b).all(-1)
        if not both.any():
            return np.nan
        return float(np.mean(1 - metrics.similarity(a[both], b[both], n_options[both], metric)))

    moved = [mean_distance(original, o) for o in others]
    return {"dist_to_uniform": mean_distance(original, metrics.uniform(n_options, original.shape[-1])),
            "dist_between_prompts": float(np.mean(moved)) if moved else np.nan,
            "dist_between_prompts_max": float(np.max(moved)) if moved else np.nan, "n_prompts": len(moved)}


def edge_positions(listings: list[tuple[str, ...]], orders: list[tuple[str, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """Per item, the semantic positions of its first and last listed option; -1 where unknown.

    >>> [x.tolist() for x in edge_positions([("3", "1", "2"), ()], [("1", "2", "3"), ("1", "2")])]
    [[2, -1], [1, -1]]
    """
    first, last = np.full(len(orders), -1), np.full(len(orders), -1)
    for i, (listed, order) in enumerate(zip(listings, orders)):
        if listed and listed[0] in order and listed[-1] in order:
            first[i], last[i] = order.index(listed[0]), order.index(listed[-1])
    return first, last


def edge_mass(answers: np.ndarray, human: np.ndarray, first: np.ndarray, last: np.ndarray) -> dict[str, float]:
    """Mean mass on the first and last listed option, the model's and people's (mean over countries),
    on the items the model answered whose edges are known. Under permuted orders the edges change item
    by item, so a model that follows content stays close to people and one that follows position does not.

    >>> edge_mass(np.array([[.5, .5, 0]]), np.array([[[.2, .3, .5]]]), np.array([0]), np.array([2]))
    {'model_first': 0.5, 'human_first': 0.2, 'model_last': 0.0, 'human_last': 0.5, 'n_items': 1}
    """
    ok = np.isfinite(answers).all(-1) & (first >= 0)
    idx = np.flatnonzero(ok)
    with metrics.quiet_nan_warnings():  # items no country answered stay NaN and are left out below
        h = np.nanmean(human, axis=0)  # [I, K] mean over countries
    out = {}
    for name, pos in (("first", first), ("last", last)):
        out[f"model_{name}"] = float(answers[idx, pos[idx]].mean()) if idx.size else np.nan
        out[f"human_{name}"] = float(np.nanmean(h[idx, pos[idx]])) if idx.size else np.nan
    return out | {"n_items": int(idx.size)}


def rank_agreement(wide: pd.DataFrame) -> dict[str, float]:
    """Kendall's tau between every two prompts (columns) ranking the rows: mean, lowest, mean vs original.

    >>> rank_agreement(pd.DataFrame({"original": [1, 2, 3], "order-1": [1, 2, 3], "order-2": [3, 2, 1]}))
    {'tau_mean': -0.333333, 'tau_min': -1.0, 'tau_vs_original': 0.0, 'n_ranked': 3, 'n_pairs': 3}
    """
    wide = wide.dropna()
    cols = list(wide.columns)
    taus = {(a, b): float(kendalltau(wide[a], wide[b])[0]) for a, b in itertools.combinations(cols, 2)}
    vs = [t for (a, b), t in taus.items() if ORIGINAL in (a, b)]
    vals = [t for t in taus.values() if np.isfinite(t)]
    return {"tau_mean": round(float(np.mean(vals)), 6) if vals else np.nan,
            "tau_min": float(np.min(vals)) if vals else np.nan,
            "tau_vs_original": round(float(np.nanmean(vs)), 6) if vs else np.nan,
            "n_ranked": len(wide), "n_pairs": len(taus)}


def _steering_pairs(scores: pd.DataFrame):
    """(model, cell, its scores by prompt, its base's (`none/<country>`) by prompt) per RQ2 cell."""
    base = scores[scores["condition"].str.startswith(f"{NO_STEERING}/")]
    for (model, cond), d in scores[~scores["condition"].str.startswith(f"{NO_STEERING}/")].groupby(KEYS, sort=False):
        if "/" not in cond:
            continue
        country = cond.split("/", 1)[1]
        b = base[(base["model"] == model) & (base["condition"] == f"{NO_STEERING}/{country}")]
        b = b.set_index("perturbation")["score"]
        yield model, cond, d.set_index("perturbation")["score"], b


def steering_against_spread(scores: pd.DataFrame) -> pd.DataFrame:
    """Each steering cell's gain against its base's spread over prompts (columns: docs/robustness.md);
    a cell and base with one prompt each say nothing about prompts and are left out."""
    rows = []
    for model, cond, s, b in _steering_pairs(scores):
        if ORIGINAL not in s.index or ORIGINAL not in b.index or (len(b) < 2 and len(s) < 2):
            continue
        common = s.index.intersection(b.index)
        gain = s[common] - b[common]
        g0 = float(gain[ORIGINAL])
        base_std = float(b.std(ddof=1))  # pandas: NaN for one prompt, as every std below
        several = len(common) > 1
        rows.append({"model": model, "condition": cond, "gain_original": g0,
                     "gain_mean": float(gain.mean()) if several else np.nan,
                     "gain_std": float(gain.std(ddof=1)), "base_std": base_std,
                     "gain_over_spread": abs(g0) / base_std if base_std > 0 else np.nan,
                     "sign_kept": float((np.sign(gain) == np.sign(g0)).mean()) if several else np.nan,
                     "n_prompts_base": len(b), "n_prompts_both": len(common),
                     "steered_original": float(s[ORIGINAL]), "steered_mean": float(s.mean()),
                     "steered_std": float(s.std(ddof=1)), "n_prompts_steered": len(s),
                     "gain_min": float(gain.min()) if several else np.nan,
                     "gain_max": float(gain.max()) if several else np.nan})
    return pd.DataFrame(rows)


def steering_gains(scores: pd.DataFrame) -> pd.DataFrame:
    """Per steering cell and prompt both it and its base have: steered, base, gain, and whether the gain
    has the original prompt's sign (None without the original).

    >>> df = pd.DataFrame({"model": "m", "condition": ["none/Japan"] * 2 + ["persona/Japan"] * 2,
    ...                    "perturbation": ["original", "order-1"] * 2, "family": ["original", "order"] * 2,
    ...                    "score": [.70, .66, .72, .65]})
    >>> steering_gains(df)[["perturbation", "gain", "same_sign"]].round(2).values.tolist()
    [['original', 0.02, True], ['order-1', -0.01, False]]
    """
    family = dict(zip(scores["perturbation"], scores["family"])) if "family" in scores else {}
    rows = []
    for model, cond, s, b in _steering_pairs(scores):
        common = s.index.intersection(b.index)
        g0 = float(s[ORIGINAL] - b[ORIGINAL]) if ORIGINAL in common else np.nan
        for prompt in common:
            gain = float(s[prompt] - b[prompt])
            rows.append({"model": model, "condition": cond, "perturbation": prompt, "family": family.get(prompt, ""),
                         "steered": float(s[prompt]), "base": float(b[prompt]), "gain": gain,
                         "same_sign": bool(np.sign(gain) == np.sign(g0)) if np.isfinite(g0) else None})
    return pd.DataFrame(rows)
