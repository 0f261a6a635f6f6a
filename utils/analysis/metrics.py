"""The study's alignment score, the field's other similarities (1 - JSD, 1 - TVD) and their
baselines, as small pure numpy functions.

Distributions are arrays [..., K] over an item's options in *semantic* order (the questionnaire's
`order`: Q122's Agree, Hard to say, Disagree = codes 2, 1, 0), zero-padded past the item's N options;
every function broadcasts over leading axes. Alignment of one item (Liu, Kaneko, Chu 2025)::

    score = 1 - W1(p, q) / (N - 1),   W1(p, q) = sum_k |P_k - Q_k|   (P, Q: cumulative sums)

N - 1 is the largest W1 with options at 0..N-1, so the score lies in [0, 1]; padding adds nothing.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np


def normalize(p: np.ndarray) -> np.ndarray:
    """[..., K] scaled to sum to 1; NaN where there is no mass."""
    p = np.asarray(p, dtype=float)
    total = p.sum(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, p / np.where(total > 0, total, 1), np.nan)


def alignment(p, q, n_options=None) -> np.ndarray:
    """Per-item score 1 - W1/(N - 1); NaN where either side has no mass (or is NaN).

    >>> float(alignment([1, 0, 0], [0, 0, 1]))            # opposite ends: W1 = 2 = N - 1
    0.0
    >>> float(alignment([0.5, 0.5, 0], [0, 0.5, 0.5]))    # CDFs (.5, 1) vs (0, .5): W1 = 1
    0.5
    >>> float(alignment([2, 2, 0, 0], [0, 4, 0, 0], n_options=2))  # padded to K = 4, N = 2
    0.5
    """
    p, q = normalize(p), normalize(q)
    n = p.shape[-1] if n_options is None else np.asarray(n_options)
    w1 = np.abs(np.cumsum(p, -1) - np.cumsum(q, -1)).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - w1 / (n - 1)


def jsd_similarity(p, q, n_options=None) -> np.ndarray:
    """Per-item 1 - Jensen-Shannon distance (base 2; GlobalOpinionQA's); order-free, so `n_options`
    only matches `alignment`'s signature. NaN where either side has no mass.

    >>> float(jsd_similarity([1, 0], [0, 1]))               # disjoint support: distance 1
    0.0
    >>> round(float(jsd_similarity([1, 0], [0.5, 0.5])), 4)  # M = (.75, .25): JS = .3113, sqrt .5579
    0.4421
    """
    p, q = normalize(p), normalize(q)
    m = (p + q) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        def kl(a):  # sum a log2(a / m) over a's support (m > 0 wherever a > 0)
            ratio = np.where(a > 0, a / np.where(m > 0, m, 1), 1)
            return np.sum(np.where(a > 0, a * np.log2(ratio), 0.0), axis=-1)
        js = np.clip((kl(p) + kl(q)) / 2, 0.0, 1.0)  # rounding can leave -1e-17
    missing = np.isnan(p).any(-1) | np.isnan(q).any(-1)
    return np.where(missing, np.nan, 1.0 - np.sqrt(js))


def tvd_similarity(p, q, n_options=None) -> np.ndarray:
    """Per-item 1 - total variation distance, 1 - sum_k |p_k - q_k| / 2 (order-free, in [0, 1]).

    >>> float(tvd_similarity([0.5, 0.5, 0], [0, 0.5, 0.5]))  # |.5| + 0 + |.5| = 1, halved
    0.5
    """
    p, q = normalize(p), normalize(q)
    return 1.0 - np.abs(p - q).sum(-1) / 2


def positional_alignment(p, q, positions) -> np.ndarray:
    """1 - W1 / span for options at `positions` (ascending, ties allowed; OpinionQA's "neither"
    sits at 1.5): W1 sums |CDF_p - CDF_q| times the gap to the next position, and the span is
    the last position minus the first. At positions 1..N it is `alignment`'s 1 - W1/(N-1).

    >>> float(positional_alignment([1, 0, 0], [0, 0, 1], [1, 1.5, 2]))  # the two ends: W1 = span
    0.0
    >>> float(positional_alignment([0, 1, 0], [1, 0, 0], [1, 1.5, 2]))  # "neither" to an end: half the span
    0.5
    >>> float(positional_alignment([0.5, 0.5, 0], [0, 0.5, 0.5], [1, 2, 3]))  # as alignment()
    0.5
    """
    p, q = normalize(p), normalize(q)
    x = np.asarray(positions, dtype=float)
    gaps = np.diff(x)
    w1 = (np.abs(np.cumsum(p, -1) - np.cumsum(q, -1))[..., :-1] * gaps).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - w1 / (x[-1] - x[0])


METRICS = {"w1": alignment, "jsd": jsd_similarity, "tvd": tvd_similarity}
METRIC_LABELS = {"w1": "1 - W1/(N-1)", "jsd": "1 - JSD", "tvd": "1 - TVD"}


def similarity(p, q, n_options=None, metric: str = "w1") -> np.ndarray:
    """The chosen metric (`METRICS`: w1 = `alignment`, the paper's; jsd; tvd), same broadcasting.

    >>> float(similarity([1, 0, 0], [0, 0, 1], metric="w1")), float(similarity([1, 0, 0], [0, 0, 1], metric="tvd"))
    (0.0, 0.0)
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
    return METRICS[metric](p, q, n_options)


def summarize(scores, axis: int = -1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, std, count) over items, ignoring NaN items; std is the population std (ddof=0).

    >>> [x.tolist() for x in summarize(np.array([0.5, 1.0, np.nan]))]
    [0.75, 0.25, 2]
    """
    s = np.asarray(scores, dtype=float)
    n = np.sum(~np.isnan(s), axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(s, axis=axis) / n
        var = np.nansum((s - np.expand_dims(mean, axis)) ** 2, axis=axis) / n
    return mean, np.sqrt(var), n


def bootstrap_ci(scores, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of the mean over items (last axis): a row with m scored items
    draws m with replacement, from the same uniform draws as every row (same items, same resamples).

    >>> lo, hi = bootstrap_ci(np.full(10, 0.8))
    >>> float(lo), float(hi)
    (0.8, 0.8)
    """
    s = np.asarray(scores, dtype=float)
    lead, n_items = s.shape[:-1], s.shape[-1]
    flat = s.reshape(-1, n_items)
    present = ~np.isnan(flat)
    m = present.sum(-1)
    compact = np.take_along_axis(flat, np.argsort(~present, axis=-1, kind="stable"), -1)  # scored items first
    u = np.random.default_rng(seed).random((n_boot, n_items))
    lo, hi = np.full(len(flat), np.nan), np.full(len(flat), np.nan)
    tail = (1 - level) / 2 * 100
    for r in range(0, len(flat), 16):  # rows in chunks keep memory at 16 x n_boot x n_items
        rows = slice(r, r + 16)
        mm = m[rows, None, None]
        idx = np.minimum((u[None] * mm).astype(np.int64), np.maximum(mm - 1, 0))
        draws = np.take_along_axis(np.nan_to_num(compact[rows])[:, None, :], idx, -1)
        used = np.arange(n_items)[None, None, :] < mm
        with np.errstate(invalid="ignore", divide="ignore"):
            means = (draws * used).sum(-1) / mm[..., 0]
        ok = m[rows] > 0
        lo[rows][ok], hi[rows][ok] = np.percentile(means[ok], [tail, 100 - tail], axis=-1)
    return lo.reshape(lead), hi.reshape(lead)


def normalized_entropy(p, n_options=None) -> np.ndarray:
    """Per-item entropy divided by log N: 1 for uniform answers, 0 for one certain answer.

    >>> float(normalized_entropy([0.25, 0.25, 0.25, 0.25])), float(normalized_entropy([1, 0, 0]))
    (1.0, 0.0)
    """
    p = normalize(p)
    n = p.shape[-1] if n_options is None else np.asarray(n_options)
    with np.errstate(invalid="ignore", divide="ignore"):
        h = np.sum(np.where(p > 0, -p * np.log(np.where(p > 0, p, 1)), 0.0), axis=-1) + 0.0
        return np.where(np.isnan(p).any(-1), np.nan, h / np.log(n))


def mean_normalized_entropy(p, n_options=None) -> float:
    """Normalized entropy averaged over *all* items (axis -2), not just the last one.

    >>> mean_normalized_entropy([[0.5, 0.5], [1.0, 0.0]])
    0.5
    """
    with quiet_nan_warnings():
        return float(np.nanmean(normalized_entropy(p, n_options)))


def uniform(n_options, k: int | None = None) -> np.ndarray:
    """[I, K] uniform distributions over each item's N options (the "no information" answer).

    >>> uniform([2, 3]).tolist()
    [[0.5, 0.5, 0.0], [0.3333333333333333, 0.3333333333333333, 0.3333333333333333]]
    """
    n = np.asarray(n_options)
    k = int(n.max()) if k is None else k
    return (np.arange(k) < n[:, None]) / n[:, None]


def drop_options(p, keep) -> tuple[np.ndarray, np.ndarray]:
    """Remove options where `keep` [I, K] is False, shifting the rest left: (the array
    renormalized over the remaining options, the new option counts).

    >>> d, n = drop_options(np.array([[0.5, 0.2, 0.3]]), np.array([[True, False, True]]))
    >>> d.round(3).tolist(), n.tolist()
    ([[0.625, 0.375, 0.0]], [2])
    """
    p = np.asarray(p, dtype=float)
    keep = np.asarray(keep, dtype=bool)
    full = np.broadcast_to(keep, p.shape)
    order = np.argsort(~full, axis=-1, kind="stable")  # kept options first, in their order
    moved = np.take_along_axis(np.where(full, p, 0.0), order, -1)
    return normalize(moved), keep.sum(-1)


def split_half(counts, n_options=None, n_invalid=None, repeats: int = 10, seed: int = 0,
               metric: str = "w1") -> np.ndarray:
    """Per item, mean similarity between two random halves of a country's respondents ("as good as
    people get"; halves carry twice the full sample's noise, so a model that knew the true distribution
    would score a little above it). n_invalid [..., I]: respondents without a valid answer, split too.

    >>> float(split_half(np.array([[50, 0, 0]]), repeats=3)[0])  # everyone agrees -> 1
    1.0
    """
    counts = np.rint(np.asarray(counts, dtype=float)).astype(np.int64)
    invalid = np.zeros(counts.shape[:-1], np.int64) if n_invalid is None else np.rint(n_invalid).astype(np.int64)
    rng = np.random.default_rng(seed)
    total = counts.sum(-1) + invalid
    out = np.zeros(counts.shape[:-1])
    for _ in range(repeats):
        left, need = total.copy(), total // 2
        half = np.zeros_like(counts)
        for k in range(counts.shape[-1]):
            good = counts[..., k]
            draw = rng.hypergeometric(good, left - good, need) if need.size else need
            half[..., k], left, need = draw, left - good, need - draw
        out += similarity(half, counts - half, n_options, metric)
    return out / repeats


@contextmanager
def quiet_nan_warnings():
    """All-NaN rows are expected (an item a country did not ask); their mean stays NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
