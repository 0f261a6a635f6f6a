"""RQ1, each model against the average human (supplementary figures 8-14), and the RQ3 country
selection built on it (supplementary Table 8). Docs: docs/analysis.md, "Each model against the
average human".

The *average human* is every country's answers pooled into one distribution per item. Per country,
`diff = model_score - human_score` (both on the same items) against a margin tau (the paper's 0.02):

    over         diff >= +tau          model 0.80, human 0.77 -> +0.03
    appropriate  -tau <= diff < +tau   0.76 vs 0.77 -> -0.01
    under        diff < -tau           0.70 vs 0.77 -> -0.07

The bounds get 1e-9 of slack, so 0.72 - 0.70 (0.01999... in floats) is still "at least 0.02".
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from utils.analysis.answers import answer_policy
from utils.analysis.config import AnalysisConfig
from utils.analysis.coverage import Said
from utils.analysis.figures import rq1 as figures
from utils.analysis.options import option
from utils.analysis.rules import Rules, country_table
from utils.analysis.tables import write_csv
from utils.core.errors import UserError

STATUSES = ("over", "appropriate", "under")
TAU = 0.02
MIN_COUNTRIES = 5
EPS = 1e-9  # float slack at the tau boundaries
COLUMNS = ["model", "country_code", "country", "model_score", "human_score", "diff", "status", "n_items"]


def classify(diff, tau: float = TAU) -> np.ndarray:
    """`classify([0.03, -0.01, -0.07, 0.02, -0.02])` -> over, appropriate, under, over, appropriate."""
    d = np.asarray(diff, dtype=float)
    return np.where(d >= tau - EPS, "over", np.where(d < -tau - EPS, "under", "appropriate"))


def aligned(diff, tau: float = TAU) -> np.ndarray:
    """Whether the model *aligns* (over or appropriate): `model_score >= human_score - tau`."""
    return np.asarray(diff, dtype=float) >= -tau - EPS


def against_average(rules: Rules, side, answers: dict) -> pd.DataFrame:
    """Both scores per model and country on the items the model scored, differing only in who answers."""
    human_items = rules.average_human(side)  # [C, I]
    scores = {m: np.where(np.isfinite(human_items), rules.country_scores(side, a), np.nan) for m, a in answers.items()}

    def human_score(model, s):
        return {"human_score": rules.summarize(np.where(np.isfinite(s), human_items, np.nan))[0]}

    return country_table(rules, side, scores, human_score).rename(columns={"score": "model_score"})


def compare(scores: pd.DataFrame, tau: float = TAU) -> pd.DataFrame:
    """Add `diff` and `status` to a table of model_score and human_score."""
    out = scores.copy()
    out["diff"] = out["model_score"] - out["human_score"]
    out["status"] = classify(out["diff"], tau)
    return out[[c for c in COLUMNS if c in out.columns]]


def pearson(compared: pd.DataFrame) -> pd.DataFrame:
    """Per model: Pearson's r of model_score and human_score over countries, its p and the countries per status."""
    rows = []
    for model, d in compared.groupby("model", sort=False):
        r, p = (stats.pearsonr(d["human_score"], d["model_score"]) if len(d) > 2
                and d["human_score"].nunique() > 1 and d["model_score"].nunique() > 1 else (np.nan, np.nan))
        counts = d["status"].value_counts()
        rows.append({"model": model, "pearson_r": float(r), "p_value": float(p), "n_countries": len(d),
                     **{f"n_{s}": int(counts.get(s, 0)) for s in STATUSES}})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Selection:
    """The RQ3 countries per model. `table`: model, included, n_countries, countries (names joined
    by '; '), country_codes; `notes`: one line per model left out."""

    table: pd.DataFrame
    chosen: dict[str, list[int]]  # included models only: model -> country codes
    notes: list[str]


def select_aligned(compared: pd.DataFrame, eligible: Iterable[int] | None = None, tau: float = TAU,
                   min_countries: int = MIN_COUNTRIES) -> Selection:
    """Per model, the countries it aligns with among `eligible` codes (None: all); a model with fewer
    than `min_countries` is left out with a note.

    >>> df = pd.DataFrame({"model": ["m"] * 2, "country_code": [1, 2], "country": ["A", "B"],
    ...                    "model_score": [0.80, 0.70], "human_score": [0.79, 0.77]})
    >>> select_aligned(compare(df), min_countries=1).chosen
    {'m': [1]}
    """
    keep = {int(c) for c in eligible} if eligible is not None else None
    rows, chosen, notes = [], {}, []
    for model, d in compared.groupby("model", sort=False):
        d = d[aligned(d["model_score"] - d["human_score"], tau)]
        if keep is not None:
            d = d[d["country_code"].astype(int).isin(keep)]
        d = d.sort_values("country")
        ok = len(d) >= min_countries
        if ok:
            chosen[model] = d["country_code"].astype(int).tolist()
        else:
            notes.append(f"{model}: aligns with {len(d)} of the eligible countries (fewer than {min_countries}); "
                         "left out of the RQ3 selection")
        rows.append({"model": model, "included": ok, "n_countries": len(d), "countries": "; ".join(d["country"]),
                     "country_codes": "; ".join(str(int(c)) for c in d["country_code"])})
    return Selection(pd.DataFrame(rows, columns=["model", "included", "n_countries", "countries", "country_codes"]),
                     chosen, notes)


@dataclass(frozen=True)
class AverageHumanOptions:
    tau: float = option(TAU, f"margin around the average human's score (default {TAU}, the paper's)")


def rq1_average_human(config: AnalysisConfig, opts: AverageHumanOptions, said: Said) -> list[Path]:
    if opts.tau < 0:
        raise UserError("--tau is a margin of alignment score, at least 0")
    rules, policy, out = config.rules, answer_policy(config, said), config.output
    side = rules.human(config, policy)
    answers = rules.rq1_answers(config, side, policy)
    df = compare(against_average(rules, side, answers), opts.tau)
    summary = pearson(df)
    written = [write_csv(df, out, "rq1_average_human.csv"), write_csv(summary, out, "rq1_average_human_summary.csv")]
    written += figures.average_human(df, summary, opts.tau, out)
    policy.said.line(summary.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return written
