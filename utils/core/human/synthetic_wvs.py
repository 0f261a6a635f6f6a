"""WVS-shaped synthetic microdata, to try the pipeline and to test it without the licensed files.

Each country sits at a point z_c of a 2-d "culture map", each item has a loading b_i, so nearby
countries answer alike (the heatmap shows blocks, as real data does). Answers are drawn from a
discretized bell over the options centred at (N - 1) * sigmoid(a_i + b_i . z_c); a few per cent
get a missing code, and some countries are "not asked" an item (-4). Nothing here resembles real
WVS answers; figures drawn from it are marked "synthetic data".
"""
from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from utils.core.groups import GroupVar, load_group_vars
from utils.core.human.wave_map import SYNTHETIC_MARKER, WAVE_COLUMNS, ItemSpec

MISSING_CODES = np.array([-1, -2, -5])


def _seed(*parts) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def wave_countries(codes: list[int], wave: int) -> list[int]:
    """Wave 7: all; waves 5 and 6 (whose z_c drift a little): a fixed ~70% subset."""
    return list(codes) if wave == 7 else [c for c in codes if _seed(c, wave) % 10 < 7]


def country_distributions(specs: list[ItemSpec], codes: list[int], wave: int = 7) -> np.ndarray:
    """[C, I, K] answer shares in semantic order, zero-padded."""
    n_k = max(len(s.order) for s in specs)
    out = np.zeros((len(codes), len(specs), n_k))
    z = np.array([np.random.default_rng(_seed("z", c)).normal(size=2) for c in codes])
    z = z + np.array([np.random.default_rng(_seed("drift", c)).normal(scale=0.25, size=2) for c in codes]) * (7 - wave)
    for i, s in enumerate(specs):
        g = np.random.default_rng(_seed("item", s.id))
        a, b = g.normal(scale=0.8), g.normal(scale=1.2, size=2)
        n = len(s.order)
        centre = (n - 1) / (1 + np.exp(-(a + z @ b)))  # [C]
        k = np.arange(n)
        logits = -((k[None, :] - centre[:, None]) ** 2) / (2 * (0.35 + 0.18 * n) ** 2)
        p = np.exp(logits)
        out[:, i, :n] = p / p.sum(1, keepdims=True)
    return out


def synthetic_microdata(wave: int, specs: list[ItemSpec], codes: list[int], n_per_country: int = 300,
                        seed: int = 0, missing_rate: float = 0.03, not_asked_rate: float = 0.02) -> pd.DataFrame:
    """One row per respondent, with the wave's columns and a SYNTHETIC_DATA marker that
    `prepare_wvs.py` records in the table's metadata."""
    rng = np.random.default_rng(seed)
    codes = wave_countries(codes, wave)
    shares = country_distributions(specs, codes, wave)
    cdf = np.cumsum(shares, axis=-1)
    n = n_per_country * len(codes)
    country_idx = np.repeat(np.arange(len(codes)), n_per_country)
    u = rng.random((n, len(specs)))
    pos = (u[:, :, None] > cdf[country_idx]).sum(-1)  # inverse-CDF draw, [n, I]
    pos = np.minimum(pos, np.array([len(s.order) - 1 for s in specs]))
    code_table = np.full((len(specs), shares.shape[-1]), -99)
    for i, s in enumerate(specs):
        code_table[i, :len(s.order)] = [int(o) for o in s.order]
    values = code_table[np.arange(len(specs))[None, :], pos]
    miss = rng.random(values.shape) < missing_rate
    values[miss] = rng.choice(MISSING_CODES, size=int(miss.sum()))
    not_asked = rng.random((len(codes), len(specs))) < not_asked_rate
    values[not_asked[country_idx]] = -4
    weights = rng.lognormal(sigma=0.4, size=n)
    weights /= np.bincount(country_idx, weights)[country_idx] / n_per_country  # mean 1 per country
    country_col, weight_col = WAVE_COLUMNS[wave]
    df = pd.DataFrame(values, columns=[s.variable for s in specs])
    df.insert(0, weight_col, np.round(weights, 6))
    df.insert(0, country_col, np.asarray(codes)[country_idx])
    df.insert(0, SYNTHETIC_MARKER, 1)
    rel = pos / np.maximum(np.array([len(s.order) - 1 for s in specs]), 1)  # [n, I] answer height in 0..1
    for var in load_group_vars().values():
        column = var.column(wave)
        if column is not None and column not in df.columns:
            seed_g = _seed("groups", seed, wave, var.name)
            df[column] = group_codes(var, rel, [s.id for s in specs], country_idx, seed_g)
    return df


def group_codes(var: GroupVar, rel: np.ndarray, item_ids: list[str], country_idx: np.ndarray, seed: int) -> np.ndarray:
    """[n] codes of `var` given answer heights `rel` [n, I]: per country, respondents ranked by their
    mean height on a third of the items (chosen by the variable's name) plus noise, cut into equal
    parts, one per group in order (so the first answers lower there); a range group draws a value
    inside it; 2% get a missing code."""
    rng = np.random.default_rng(seed)
    chosen = np.array([_seed(var.name, i) % 3 == 0 for i in item_ids])
    latent = rel[:, chosen].mean(1) + rng.normal(scale=0.05, size=len(rel))
    rank = np.empty(len(rel))
    for c in np.unique(country_idx):
        m = np.flatnonzero(country_idx == c)
        rank[m] = np.argsort(np.argsort(latent[m], kind="stable"), kind="stable") / len(m)
    member = np.minimum((rank * len(var.groups)).astype(int), len(var.groups) - 1)
    codes = np.empty(len(rel))
    for k, g in enumerate(var.groups):
        m = member == k
        if g.codes:
            codes[m] = g.codes[0]
        else:
            lo, hi = max(g.lo, 0), min(g.hi, 85)
            codes[m] = rng.integers(int(lo), int(hi) + 1, size=int(m.sum()))
    missing = rng.random(len(rel)) < 0.02
    codes[missing] = rng.choice([-1, -2], size=int(missing.sum()))
    return codes.astype(int)
