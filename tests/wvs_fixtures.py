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

from utils.analysis.wave_map import WAVE_COLUMNS, load_wave_map, wave_items
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
