"""Bootstrap intervals that also carry the survey's own sampling error (`--bootstrap respondents`).

Resampling items says how a score would move with other questions, not other people. `respondents`
also draws, per country x item, a multinomial of the cell's n valid answers with its shares. The
table keeps counts, not respondents, so a respondent's answers to different items are drawn apart
and the design effect is left out: a lower bound of the survey's sampling error. Item picks and
multinomials use separate streams of the seed, so both modes pick the same items and their
intervals differ by the survey's error alone. Long form: docs/robustness.md, "Intervals".

    >>> rng = np.random.default_rng(0)
    >>> resample_counts(np.array([[0., 0.], [3., 1.]]), rng).sum(-1).tolist()
    [0.0, 4.0]
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from utils.analysis.metrics import normalize, quiet_nan_warnings

MODES = ("items", "respondents")


HELP = ("items: intervals resample the items (default); respondents: also each country's answers to each item "
        "(multinomial, docs/robustness.md), adding the survey's sampling error")


def resample_counts(counts: np.ndarray, rng: np.random.Generator, known: np.ndarray | None = None) -> np.ndarray:
    """[..., K] counts -> one multinomial draw of the same (rounded) total and shares; cells with
    nothing, or where `known` [...] is False, stay as they are."""
    counts = np.asarray(counts, float)
    total = counts.sum(-1)
    n = np.rint(total).astype(np.int64)
    live = (n > 0) if known is None else (n > 0) & known
    p = np.where(live[..., None], counts / np.where(total > 0, total, 1)[..., None], 1.0 / counts.shape[-1])
    p = p / p.sum(-1, keepdims=True)
    drawn = rng.multinomial(np.where(live, n, 0), p).astype(float)
    return np.where(live[..., None], drawn, counts)


def country_draws(similarities: Sequence[Callable[[np.ndarray], np.ndarray]], counts: np.ndarray,
                  n_boot: int = 1000, seed: int = 0, mode: str = "items", known: np.ndarray | None = None,
                  item_masks: Sequence[np.ndarray | None] | None = None, pass_counts: bool = False) -> np.ndarray:
    """[R, n_boot, C] per-country mean scores of R answer sets, each draw shared by all R (paired,
    and the multinomials paid once). similarities[r](shares [C, I, K]) -> [C, I]; item_masks[r] [C, I]
    False where r is not scored; `pass_counts` hands them counts instead (a pooled score needs them)."""
    rng, people = np.random.default_rng(seed), np.random.default_rng([seed, 1])  # paired picks across modes
    counts = np.asarray(counts, float)
    n_c, n_i = counts.shape[:2]
    masks = list(item_masks) if item_masks is not None else [None] * len(similarities)
    view = (lambda c: c) if pass_counts else normalize
    fixed = None if mode == "respondents" else [f(view(counts)) for f in similarities]
    out = np.full((len(similarities), n_boot, n_c), np.nan)
    for b in range(n_boot):
        picks = rng.integers(0, n_i, n_i)
        shares = view(resample_counts(counts, people, known)) if fixed is None else None
        for r, f in enumerate(similarities):
            s = fixed[r] if fixed is not None else f(shares)
            if masks[r] is not None:
                s = np.where(masks[r], s, np.nan)
            d = s[:, picks]
            with np.errstate(invalid="ignore", divide="ignore"):
                out[r, b] = np.nansum(d, 1) / np.isfinite(d).sum(1)
    return out


def interval(draws: np.ndarray, level: float = 0.95, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over `axis`, ignoring NaN draws."""
    tail = (1 - level) / 2 * 100
    with quiet_nan_warnings():  # a country no draw could score stays NaN
        lo, hi = np.nanpercentile(draws, [tail, 100 - tail], axis=axis)
    return lo, hi


def mean_over(draws: np.ndarray) -> np.ndarray:
    """[B, C] -> [B] mean over the countries each draw could score (NaN if none)."""
    with quiet_nan_warnings():
        return np.nanmean(draws, axis=1)
