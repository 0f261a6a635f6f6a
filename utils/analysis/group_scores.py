"""Alignment with respondent groups: whose opinions within a country a model is closest to. A group's
score is the country score against the group's distribution, so the two compare directly; a group
dropped for size has no row. docs/groups.md, "Scores by group".
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from utils.core.groups import load_group_vars
from utils.core.human.human_data import load_human, read_long_table, table_groups
from utils.analysis.rules import OURS, country_table
from utils.analysis.scoring import Scoring
from utils.core.errors import UserError

if TYPE_CHECKING:
    from utils.analysis.config import AnalysisConfig

BY_HELP = ("; GROUPVAR is a group variable of the --human table (sex, age, education, settlement, income: "
           "dataset/prepare_wvs.py --groups)")
GROUP_SCORE_COLUMNS = ["model", "country", "country_code", "group_var", "group", "score", "n_items",
                       "n_respondents"]


def groups_in_table(path: Path, by: str) -> list[str]:
    """The groups of `by` in the table, in prepare_wvs's order; a UserError saying what exists if none."""
    found = table_groups(read_long_table(path, None)[0])
    if by in found:
        return found[by]
    known = list(load_group_vars())
    if by not in known:
        raise UserError(f"unknown group variable {by}; known: {', '.join(known)} (inputs/groups/groups.json)")
    raise UserError(f"{path} has no {by} groups (it has: {', '.join(found) or 'none'}); prepare it with "
                    f"python dataset/prepare_wvs.py --groups {by} ...")


def group_scorings(config: AnalysisConfig, by: str, item_ids: list[str], orders: list[tuple[str, ...]],
                   human_path: Path | None = None) -> dict[str, Scoring]:
    """{group: Scoring} for every group of `by`, with the config's weights, dropped options and metric."""
    path = human_path or config.human
    return {label: Scoring.build(load_human(path, item_ids, orders, config.weights, group=(by, label)),
                                 config.drop_nonsubstantive, config.metric) for label in groups_in_table(path, by)}


def group_scores(scorings: dict[str, Scoring], answers: dict[str, np.ndarray], by: str) -> pd.DataFrame:
    """GROUP_SCORE_COLUMNS per model, country and group (n_respondents unweighted, <NA> if unknown)."""
    def columns(label: str, h) -> dict:
        resp = pd.array(np.round(h.respondents) if h.respondents is not None
                        else np.full(len(h.country_codes), np.nan), dtype="Int64")  # whole people; <NA>: unknown
        return {"group_var": by, "group": label, "n_respondents": resp}

    frames = [country_table(OURS, sc, {model: sc.scores(ans)}, lambda m, s: columns(label, sc.human))
              for model, ans in answers.items() for label, sc in scorings.items()]
    if not frames:
        return pd.DataFrame(columns=GROUP_SCORE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[GROUP_SCORE_COLUMNS]


@dataclass(frozen=True)
class GapTest:
    """The best- and worst-represented group of one model and group variable, and their gap."""

    best: int
    worst: int
    gap: float
    ci_low: float
    ci_high: float
    p_value: float
    n_countries: int


def _gaps(means: np.ndarray) -> np.ndarray:
    return means.max(-1) - means.min(-1)


def gap_test(scores: np.ndarray, n_boot: int = 1000, n_perm: int = 2000, seed: int = 0,
             level: float = 0.95) -> GapTest:
    """scores [C, G] (countries with every group) -> best and worst group by mean over countries, the
    gap between their means, a bootstrap interval over countries and a permutation p-value (labels
    shuffled within each country). Both pick best and worst again each time, so choosing the extreme
    pair after seeing the data is part of the null and cannot make a gap out of noise.

    >>> t = gap_test(np.array([[.80, .70], [.82, .75]]), n_boot=200, n_perm=200)
    >>> (t.best, t.worst, round(t.gap, 3))
    (0, 1, 0.085)
    """
    s = np.asarray(scores, dtype=float)
    c = len(s)
    if c == 0 or s.shape[1] < 2:
        return GapTest(-1, -1, np.nan, np.nan, np.nan, np.nan, c)
    means = s.mean(0)
    best, worst = int(np.argmax(means)), int(np.argmin(means))
    gap = float(means[best] - means[worst])
    rng = np.random.default_rng(seed)
    boot = _gaps(s[rng.integers(0, c, size=(n_boot, c))].mean(1))
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    perm = np.argsort(rng.random((n_perm, c, s.shape[1])), axis=-1)
    null = _gaps(np.take_along_axis(np.broadcast_to(s, perm.shape), perm, -1).mean(1))
    p = (1 + np.count_nonzero(null >= gap - 1e-12)) / (1 + n_perm)
    return GapTest(best, worst, gap, float(lo), float(hi), float(p), c)


def gap_summary(df: pd.DataFrame, n_boot: int = 1000, n_perm: int = 2000, seed: int = 0
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Group scores -> (`gap_test` per model and group variable, each group's mean and times closest)."""
    summary, per_group = [], []
    for (model, var), d in df.groupby(["model", "group_var"], sort=False):
        labels = list(dict.fromkeys(d["group"]))
        wide = d.pivot_table(index="country_code", columns="group", values="score", aggfunc="first")[labels]
        scored = wide[wide.notna().sum(axis=1) >= 2]
        closest = scored.idxmax(axis=1, skipna=True).value_counts()
        complete = wide.dropna()
        t = gap_test(complete.to_numpy(), n_boot, n_perm, seed)
        for label in labels:
            per_group.append({"model": model, "group_var": var, "group": label,
                              "mean_score": float(complete[label].mean()) if len(complete) else np.nan,
                              "n_closest": int(closest.get(label, 0)), "n_countries": len(scored)})
        summary.append({"model": model, "group_var": var, "n_countries": t.n_countries,
                        "best_group": labels[t.best] if t.best >= 0 else "",
                        "worst_group": labels[t.worst] if t.worst >= 0 else "",
                        "gap": t.gap, "ci_low": t.ci_low, "ci_high": t.ci_high, "p_value": t.p_value,
                        "closest": ", ".join(f"{label} {int(closest.get(label, 0))}" for label in labels)})
    return pd.DataFrame(summary), pd.DataFrame(per_group)
