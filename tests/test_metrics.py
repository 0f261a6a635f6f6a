"""Metrics against scipy.stats.wasserstein_distance, hand-computed values and slow reference loops."""
from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import wasserstein_distance

from utils.analysis import metrics
from utils.core.human.human_data import keep_mask
from utils.analysis.metrics import (
    alignment,
    bootstrap_ci,
    drop_options,
    mean_normalized_entropy,
    normalized_entropy,
    split_half,
    summarize,
    uniform,
)


def scipy_score(p, q):
    n = len(p)
    return 1 - wasserstein_distance(np.arange(n), np.arange(n), p, q) / (n - 1)


def test_doctests():
    assert doctest.testmod(metrics).failed == 0


def test_hand_values():
    # CDFs (.2, .5, 1) and (.5, .8, 1): W1 = .3 + .3 = .6, N - 1 = 2
    assert alignment([0.2, 0.3, 0.5], [0.5, 0.3, 0.2]) == pytest.approx(0.7)
    # unnormalized inputs are shares: [2, 2] is [.5, .5]; W1 to [1, 0] is .5 over N - 1 = 1
    assert alignment([2, 2], [1, 0]) == pytest.approx(0.5)
    assert alignment([0.1, 0.9], [0.1, 0.9]) == pytest.approx(1.0)
    assert np.isnan(alignment([0, 0, 0], [1, 0, 0]))


def test_against_scipy_on_a_padded_batch():
    rng = np.random.default_rng(0)
    n_opts = rng.integers(2, 11, size=40)
    p = np.zeros((3, 40, 10))
    q = np.zeros((40, 10))
    for i, n in enumerate(n_opts):
        p[:, i, :n] = rng.dirichlet(np.ones(n), size=3)
        q[i, :n] = rng.dirichlet(np.ones(n))
    got = alignment(p, q[None], n_opts)
    for c in range(3):
        for i, n in enumerate(n_opts):
            assert got[c, i] == pytest.approx(scipy_score(p[c, i, :n], q[i, :n]), abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 10).flatmap(lambda n: st.tuples(
    st.lists(st.floats(0, 1), min_size=n, max_size=n).filter(lambda v: sum(v) > 1e-3),
    st.lists(st.floats(0, 1), min_size=n, max_size=n).filter(lambda v: sum(v) > 1e-3))))
def test_property_matches_scipy_and_is_bounded(pq):
    p, q = np.array(pq[0]), np.array(pq[1])
    s = alignment(p, q)
    assert s == pytest.approx(scipy_score(p / p.sum(), q / q.sum()), abs=1e-9)
    assert -1e-12 <= s <= 1 + 1e-12 and s == pytest.approx(alignment(q, p), abs=1e-12)


def test_semantic_order_matters_for_q119():
    # Q119 semantic order 1, 2, 3, 4, 0: "strongly agree" (1) vs "hard to say" (0) are 4 steps apart
    model = {"1": 1.0}
    human = {"0": 1.0}
    semantic = ["1", "2", "3", "4", "0"]
    as_sorted = sorted(semantic)
    vec = lambda d, order: [d.get(k, 0.0) for k in order]  # noqa: E731
    assert alignment(vec(model, semantic), vec(human, semantic)) == pytest.approx(0.0)
    assert alignment(vec(model, as_sorted), vec(human, as_sorted)) == pytest.approx(0.75)


def test_summarize_and_bootstrap():
    s = np.array([[0.5, 0.7, 0.9, np.nan], [0.2, 0.2, 0.2, 0.2]])
    mean, std, n = summarize(s)
    assert mean.tolist() == pytest.approx([0.7, 0.2]) and n.tolist() == [3, 4]
    assert std[0] == pytest.approx(np.std([0.5, 0.7, 0.9]))
    lo, hi = bootstrap_ci(s, n_boot=500, seed=1)
    assert lo[0] < 0.7 < hi[0] and lo[1] == pytest.approx(0.2) and hi[1] == pytest.approx(0.2)
    # the same resampling, written as a slow loop
    u = np.random.default_rng(1).random((500, 4))
    scored = s[0, :3]  # the NaN item is left out: draw 3 of the 3 scored items
    means = [scored[(row[:3] * 3).astype(int)].mean() for row in u]
    assert (lo[0], hi[0]) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])))


def test_entropy_is_averaged_over_all_items():
    p = np.array([[0.5, 0.5, 0, 0], [0.25, 0.25, 0.25, 0.25], [1, 0, 0, 0]])
    n = np.array([4, 4, 4])
    per_item = normalized_entropy(p, n)
    assert per_item.tolist() == pytest.approx([0.5, 1.0, 0.0])  # log 2 / log 4 = .5
    assert mean_normalized_entropy(p, n) == pytest.approx(0.5)  # the last item alone would say 0
    assert normalized_entropy([0.5, 0.5, 0.0], 2) == pytest.approx(1.0)  # padding ignored


def test_uniform_baseline_hand_value():
    u = uniform([2, 4])
    # N = 2, everyone answers option 1: CDFs (.5) vs (1) -> W1 = .5, N - 1 = 1
    assert alignment(u[0], [1, 0, 0, 0], 2) == pytest.approx(0.5)
    # N = 4, everyone answers option 1: W1 = .75 + .5 + .25 = 1.5 over 3
    assert alignment(u[1], [1, 0, 0, 0], 4) == pytest.approx(0.5)


def test_drop_nonsubstantive_is_off_by_default_and_drops_what_it_names():
    keep = keep_mask(("Q1", "Q119", "Q122"), (("1", "2", "3", "4"), ("1", "2", "3", "4", "0"), ("2", "1", "0")), 5)
    assert keep.tolist() == [[True] * 4 + [False], [True] * 4 + [False], [True, False, True, False, False]]
    p = np.array([[0.1, 0.2, 0.3, 0.4, 0], [0.2, 0.2, 0.2, 0.2, 0.2], [0.5, 0.25, 0.25, 0, 0]])
    d, n = drop_options(p, keep)
    assert n.tolist() == [4, 4, 2]
    assert d[0].tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4, 0])
    assert d[1].tolist() == pytest.approx([0.25] * 4 + [0])
    assert d[2].tolist() == pytest.approx([2 / 3, 1 / 3, 0, 0, 0])  # agree, disagree


def test_split_half_against_a_respondent_level_loop():
    rng = np.random.default_rng(5)
    counts = np.array([[60, 30, 10, 0], [25, 25, 25, 25]])
    n_invalid = np.array([12, 0])
    got = split_half(counts, np.array([3, 4]), n_invalid, repeats=400, seed=2)
    # reference: shuffle actual respondents and split them in two
    ref = np.zeros(2)
    for i in range(2):
        people = np.repeat(np.arange(5), list(counts[i]) + [n_invalid[i]])  # 4 = no valid answer
        vals = []
        for _ in range(400):
            perm = rng.permutation(people)
            a, b = perm[: len(perm) // 2], perm[len(perm) // 2:]
            ca = np.bincount(a[a < 4], minlength=4)
            cb = np.bincount(b[b < 4], minlength=4)
            vals.append(alignment(ca, cb, [3, 4][i]))
        ref[i] = np.mean(vals)
    assert got == pytest.approx(ref, abs=0.01)
    assert (got < 1).all() and (got > 0.85).all()


def test_split_half_halves_partition_the_sample():
    counts = np.array([[[7, 0, 3]], [[1, 1, 1]]])
    s = split_half(counts, 3, repeats=5)
    assert s.shape == (2, 1) and np.isfinite(s).all()
    assert split_half(np.array([[40, 0]]), 2)[0] == pytest.approx(1.0)


# --- the field's other similarities (issue 12): 1 - JSD (base 2) and 1 - TVD -------------------

def _padded_batch(seed=1, n_items=30, k=10):
    rng = np.random.default_rng(seed)
    n_opts = rng.integers(2, k + 1, size=n_items)
    p, q = np.zeros((3, n_items, k)), np.zeros((n_items, k))
    for i, n in enumerate(n_opts):
        p[:, i, :n] = rng.dirichlet(np.ones(n) * 0.5, size=3)
        q[i, :n] = rng.dirichlet(np.ones(n) * 0.5)
    p[0, 0, 1] = 0.0  # a zero on one side only
    p[0, 0] /= p[0, 0].sum()
    return n_opts, p, q


def test_jsd_against_scipy_on_a_padded_batch():
    from scipy.spatial.distance import jensenshannon
    n_opts, p, q = _padded_batch()
    got = metrics.jsd_similarity(p, q[None], n_opts)
    for c in range(3):
        for i, n in enumerate(n_opts):
            assert got[c, i] == pytest.approx(1 - jensenshannon(p[c, i, :n], q[i, :n], base=2), abs=1e-9)


def test_tvd_against_an_independent_loop():
    n_opts, p, q = _padded_batch(seed=2)
    got = metrics.tvd_similarity(p, q[None], n_opts)
    for c in range(3):
        for i, n in enumerate(n_opts):
            assert got[c, i] == pytest.approx(1 - 0.5 * sum(abs(a - b) for a, b in zip(p[c, i, :n], q[i, :n])),
                                              abs=1e-12)


def test_jsd_and_tvd_hand_values_and_nan():
    # p = (1, 0), q = (.5, .5): M = (.75, .25); KL(p|M) = log2(4/3), KL(q|M) = .5 log2(2/3) + .5 log2(2)
    js = (np.log2(4 / 3) + 0.5 * np.log2(2 / 3) + 0.5) / 2
    assert metrics.jsd_similarity([1, 0], [0.5, 0.5]) == pytest.approx(1 - np.sqrt(js), abs=1e-12)
    assert metrics.jsd_similarity([3, 1], [3, 1]) == pytest.approx(1.0)  # counts are shares
    assert metrics.jsd_similarity([1, 0, 0], [0, 0, 1]) == pytest.approx(0.0)
    assert metrics.tvd_similarity([0.2, 0.3, 0.5], [0.5, 0.3, 0.2]) == pytest.approx(0.7)
    # unlike W1, the order-free measures do not care how far apart two options are
    assert metrics.tvd_similarity([1, 0, 0], [0, 1, 0]) == metrics.tvd_similarity([1, 0, 0], [0, 0, 1]) == 0.0
    for f in (metrics.jsd_similarity, metrics.tvd_similarity):
        out = f(np.array([[0, 0, 0], [1, 0, 0], [np.nan, 0, 0]]), np.array([1, 0, 0]))
        assert np.isnan(out[0]) and out[1] == pytest.approx(1.0) and np.isnan(out[2])


@pytest.mark.parametrize("metric", ["w1", "jsd", "tvd"])
def test_similarity_dispatch_and_split_half_use_the_metric(metric):
    n_opts, p, q = _padded_batch(seed=3)
    direct = {"w1": alignment, "jsd": metrics.jsd_similarity, "tvd": metrics.tvd_similarity}[metric]
    np.testing.assert_allclose(metrics.similarity(p, q, n_opts, metric), direct(p, q, n_opts))
    counts = np.array([[30, 10, 0], [5, 5, 10]])
    # with 2 respondents the halves are (1, 0) and (0, 1) or alike -> the metric of those halves
    tiny = split_half(np.array([[1, 1, 0]]), repeats=4, metric=metric)
    assert tiny[0] == pytest.approx(float(direct([1, 0, 0], [0, 1, 0])))
    assert split_half(counts, repeats=3, metric=metric).shape == (2,)


def test_unknown_metric_is_refused():
    with pytest.raises(ValueError, match="w1, jsd, tvd"):
        metrics.similarity([1, 0], [0, 1], metric="kl")
