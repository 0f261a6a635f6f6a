"""Small WVS-shaped microdata for the survey, metrics and figure tests, and a way to run scripts.

`microdata(wave)` draws a few hundred respondents in three countries with known answer codes
(semantic-order aware), negative missing codes and weights; `hand_counts` counts them again
with plain Python loops, an independent computation to check the vectorized code against.
"""
from __future__ import annotations

import importlib.util
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from utils.core.human.wave_map import WAVE_COLUMNS, load_wave_map, wave_items
from utils.core.questionnaire import load_questionnaire, questionnaire_path

ROOT = Path(__file__).resolve().parents[1]
COUNTRIES = {156: 120, 276: 100, 840: 80}  # code -> respondents
MISSING = [-1, -2, -4, -5]


def specs(wave: int = 7):
    return wave_items(wave, load_questionnaire(questionnaire_path("English")), load_wave_map())


def microdata(wave: int = 7, seed: int = 0, countries: dict[int, int] = COUNTRIES) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    country_col, weight_col = WAVE_COLUMNS[wave]
    codes = np.repeat(list(countries), list(countries.values()))
    data = {country_col: codes, weight_col: np.round(rng.uniform(0.5, 2.0, len(codes)), 3)}
    for s in specs(wave):
        opts = np.array([int(o) for o in s.order])
        # country-specific skew so distributions differ between countries
        col = np.empty(len(codes), dtype=int)
        for c in countries:
            m = codes == c
            p = rng.dirichlet(np.ones(len(opts)) * (0.5 + (c % 7)))
            col[m] = rng.choice(opts, size=m.sum(), p=p)
        miss = rng.random(len(codes)) < 0.08
        col[miss] = rng.choice(MISSING, size=miss.sum())
        data[s.variable] = col
    return pd.DataFrame(data)


def hand_counts(df: pd.DataFrame, wave: int = 7) -> dict[tuple[int, str, str], tuple[int, float]]:
    """(country, item id, code) -> (count, weighted count), by walking every row."""
    country_col, weight_col = WAVE_COLUMNS[wave]
    out: dict = defaultdict(lambda: [0, 0.0])
    for s in specs(wave):
        for c, w, v in zip(df[country_col], df[weight_col], df[s.variable]):
            cell = out[(int(c), s.id, str(int(v)))]
            cell[0] += 1
            cell[1] += float(w)
    return {k: (n, w) for k, (n, w) in out.items()}


def load_script(relpath: str):
    """Import a script (dataset/… or show_results/…) as a module, to call its main() in-process."""
    path = ROOT / relpath
    spec = importlib.util.spec_from_file_location(path.stem + "_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------- respondent groups

def hand_group(var: str, v: float) -> str | None:
    """The group of a respondent's value, written out by hand from the issue's table (not read
    from inputs/groups/groups.json), as the independent check of the group assignment."""
    if v != v or v < 0:  # NaN or a WVS missing code
        return None
    if var == "age":
        return "18-29" if 18 <= v <= 29 else "30-49" if 30 <= v <= 49 else "50+" if v >= 50 else None
    labels = {"sex": {1: "male", 2: "female"}, "education": {1: "lower", 2: "middle", 3: "higher"},
              "settlement": {1: "urban", 2: "rural"}, "income": {1: "low", 2: "middle", 3: "high"}}[var]
    return labels.get(int(v))


GROUP_COLUMNS_7 = {"sex": "Q260", "age": "Q262", "education": "Q275R", "settlement": "H_URBRURAL", "income": "Q288R"}


def group_microdata(seed: int = 0, countries: dict[int, int] = COUNTRIES) -> pd.DataFrame:
    """`microdata(7)` plus the five Wave 7 group columns, made to differ on purpose: men mostly
    answer Q1..Q20 with the item's first option, women with its last; the young answer Q21..Q40
    with the first option. Missing (-1, -2, empty) group codes, under-18s and a tiny rural group
    in the United States (5 respondents) check what belongs to no group and what is dropped."""
    df = microdata(7, seed=seed, countries=countries)
    rng = np.random.default_rng(seed + 100)
    n = len(df)
    sex = rng.choice([1, 2], size=n)
    age = rng.integers(16, 90, size=n)
    by_id = {s.id: s for s in specs(7)}
    for j in range(1, 41):
        s = by_id.get(f"Q{j}")
        if s is None:
            continue
        first, last = int(s.order[0]), int(s.order[-1])
        flip = rng.random(n) < 0.7
        if j <= 20:
            df.loc[flip, s.variable] = np.where(sex[flip] == 1, first, last)
        else:
            young = flip & (age >= 18) & (age <= 29)
            df.loc[young, s.variable] = first
    df["Q260"] = sex.astype(float)
    df["Q262"] = age.astype(float)
    df["Q275R"] = rng.choice([1, 2, 3], size=n).astype(float)
    settlement = rng.choice([1, 2], size=n)
    us = np.flatnonzero(df["B_COUNTRY"].to_numpy() == 840)
    settlement[us] = 1
    settlement[us[:5]] = 2
    df["H_URBRURAL"] = settlement.astype(float)
    df["Q288R"] = rng.choice([1, 2, 3, -1], size=n, p=[0.3, 0.3, 0.3, 0.1]).astype(float)
    for col in GROUP_COLUMNS_7.values():
        miss = rng.random(n) < 0.05
        df.loc[miss, col] = rng.choice([-1.0, -2.0, np.nan], size=int(miss.sum()))
    return df


def hand_group_counts(df: pd.DataFrame, var: str) -> dict[tuple[int, str, str, str], tuple[int, float]]:
    """(country, group, item id, code) -> (count, weighted count) of one group variable, by
    walking every row; respondents in no group are skipped."""
    out: dict = defaultdict(lambda: [0, 0.0])
    column = GROUP_COLUMNS_7[var]
    for s in specs(7):
        for c, w, g, v in zip(df["B_COUNTRY"], df["W_WEIGHT"], df[column], df[s.variable]):
            group = hand_group(var, float(g))
            if group is None:
                continue
            cell = out[(int(c), group, s.id, str(int(v)))]
            cell[0] += 1
            cell[1] += float(w)
    return {k: (n, w) for k, (n, w) in out.items()}
