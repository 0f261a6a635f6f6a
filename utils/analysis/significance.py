"""RQ2 significance of each steering condition against No Steering, and the AVG rows.

The default is paired (`ttest_rel`): every condition of a country is scored on the same items, so
item i with and without steering form a pair; `ind` is the paper's Student's test. Steered
`[.8, .9, .7]` vs base `[.7, .8, .6]`: paired p = 0 (`***`), independent p = 0.288 (no star).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import ttest_ind, ttest_rel

from utils.analysis.rules import OURS, Rules
from utils.analysis.tables import NO_STEERING

TESTS = ("rel", "ind")
CORRECTIONS = ("none", "holm")


TEST_HELP = ("rel: paired t-test over the items both conditions scored (default); ind: the paper's independent "
             "two-sample Student's t-test (--paper-compat always uses ind, uncorrected)")
CORRECTION_HELP = ("none: p-values as they are, as the paper (default); holm: Holm-adjusted over the conditions of "
                   "one model and country")


def stars(p: float) -> str:
    """`*` p < .05, `**` p < .01, `***` p < .001; '' otherwise or when p is NaN."""
    if p is None or not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def caption(test: str, correction: str) -> str:
    name = {"rel": "paired t-test over items", "ind": "independent Student's t-test"}[test]
    adj = ", Holm-adjusted per model and country" if correction == "holm" else ""
    return (f"RQ2 alignment per steering method; stars: {name} against No Steering{adj}, "
            "* p<.05, ** p<.01, *** p<.001")


def p_value(steered: np.ndarray, base: np.ndarray, test: str = "rel") -> float:
    """Two-sided p of steered vs base item scores (NaN: not scored); scipy's "precision loss" is silenced."""
    steered, base = np.asarray(steered, float), np.asarray(base, float)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        if test == "rel":
            both = np.isfinite(steered) & np.isfinite(base)
            a, b = steered[both], base[both]
            if len(a) < 2:
                return float("nan")
            if np.allclose(a - b, (a - b)[0], rtol=0, atol=1e-15):  # constant difference: t is infinite or 0/0
                return 1.0 if abs((a - b)[0]) <= 1e-15 else 0.0
            return float(ttest_rel(a, b).pvalue)
        a, b = steered[np.isfinite(steered)], base[np.isfinite(base)]  # "ind"
        return float(ttest_ind(a, b).pvalue) if len(a) >= 2 and len(b) >= 2 else float("nan")


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment; NaNs stay NaN and do not count. [.01, .04, .03] -> [.03, .06, .06]."""
    p = np.asarray(p, float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    out[order] = np.maximum.accumulate(np.minimum(1.0, (len(ok) - np.arange(len(ok))) * p[order]))
    return out


def add_significance(df: pd.DataFrame, items: dict, test: str = "rel", correction: str = "none",
                     rules: Rules = OURS) -> pd.DataFrame:
    """`df` (model, country, country_code, method, score, ...) with p_value and stars, plus AVG rows:
    the mean over models (`rules.average`), tested by pooling the item scores of the models with a
    No Steering answer (not `rules.paired`: every model's steered items against those base items).

    items: {(model, country, method): [I] item scores, NaN where not scored}, method NO_STEERING the base.
    """
    df = df.copy()
    df["p_value"] = [np.nan if r.method == NO_STEERING or (r.model, r.country, NO_STEERING) not in items
                     else p_value(items[(r.model, r.country, r.method)], items[(r.model, r.country, NO_STEERING)], test)
                     for r in df.itertuples()]
    avg = []
    for (country, method), d in df.groupby(["country", "method"], sort=False):
        models = [m for m in d["model"] if (m, country, NO_STEERING) in items]

        def pool(ms, method):
            return np.concatenate([np.asarray(items[(m, country, method)], float) for m in ms]) if ms else np.array([])

        row = {"model": "AVG", "country": country, "country_code": d["country_code"].iloc[0], "method": method,
               "score": rules.average(d["score"]), "n_items": int(d["n_items"].sum()), "p_value": np.nan}
        if "gain" in d:
            row["gain"] = float(d["gain"].mean())
        if method != NO_STEERING and (models or not rules.paired):
            row["p_value"] = p_value(pool(models if rules.paired else list(d["model"]), method),
                                     pool(models, NO_STEERING), test)
        avg.append(row)
    df = pd.concat([df, pd.DataFrame(avg)], ignore_index=True)
    if correction == "holm":
        for idx in df[df["method"] != NO_STEERING].groupby(["model", "country"], sort=False).groups.values():
            df.loc[idx, "p_value"] = holm(df.loc[idx, "p_value"].to_numpy())
    df["stars"] = [stars(p) for p in df["p_value"]]
    return df


def for_csv(df: pd.DataFrame) -> pd.DataFrame:
    """p-values as text (`1.23457e-31`), so rounding the other columns does not turn a tiny p into 0."""
    return df.assign(p_value=[f"{p:.6g}" if np.isfinite(p) else "" for p in df["p_value"]])
