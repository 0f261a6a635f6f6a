"""show_results/robustness.py on fixed answers written here, against an independent computation
(scipy's Wasserstein distance, the two-way sums of squares cell by cell, scipy's Kendall tau), and
the respondent bootstrap against a plain loop."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau, wasserstein_distance
from answer_files import write_answers
from wvs_fixtures import load_script

from utils.analysis import resample
from utils.analysis.robustness import stats as rb

ITEMS = ["Q1", "Q2", "Q3", "Q4", "Q5"]  # four options each, codes 1-4 in order
COUNTRIES = [156, 276, 392, 840]
MODELS = ["org/model-a", "org/model-b", "org/model-c"]
PROMPTS = [("original", 0), ("order", 1), ("order", 2), ("template", 1)]


def write_fixture(root, rng):
    """Human counts, and every model's answers under every prompt (listed in a random order for
    the order prompts); returns both, and each run's listing, for the independent computation."""
    counts = rng.integers(5, 80, size=(len(COUNTRIES), len(ITEMS), 4))
    rows = [{"country_code": c, "item_id": q, "option": str(k + 1), "count": int(counts[ci, qi, k])}
            for ci, c in enumerate(COUNTRIES) for qi, q in enumerate(ITEMS) for k in range(4)]
    human = root / "human.csv"
    pd.DataFrame(rows).to_csv(human, index=False)
    answers, listings = {}, {}
    for model, (family, index) in itertools.product(MODELS, PROMPTS):
        dist = rng.dirichlet(np.ones(4), size=len(ITEMS))
        listing = [tuple(str(k + 1) for k in (rng.permutation(4) if family == "order" else range(4))) for _ in ITEMS]
        answers[model, family, index], listings[model, family, index] = dist, listing
        folder = root / "results" / ("RQ1" if family == "original" else f"Robustness/RQ1/{family}-{index}") / model
        original = family == "original"
        write_answers(folder, ITEMS, dist, listing, experiment="RQ1", model=model, steering_method="none",
                      perturb_family="" if original else family, perturb_index="" if original else str(index),
                      perturb_seed="" if original else "0")
    for model in MODELS:  # one RQ2 cell under the original prompt: persona toward Japan
        dist = rng.dirichlet(np.ones(4), size=len(ITEMS))
        answers[model, "persona/Japan"] = dist
        write_answers(root / "results" / "RQ2" / "persona" / "Japan" / model, ITEMS, dist, experiment="RQ2",
                      model=model, steering_method="persona", country="Japan")
    return human, counts, answers, listings


def w1_score(p, q):
    pos = np.arange(len(p))
    return 1 - wasserstein_distance(pos, pos, p, q) / (len(p) - 1)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    root = tmp_path_factory.mktemp("robust")
    human, counts, answers, listings = write_fixture(root, np.random.default_rng(11))
    script = load_script("show_results/robustness.py")
    out = root / "figs"
    assert script.main(["--human", str(human), "--results-root", str(root / "results"), "--out", str(out),
                        "--n-boot", "50", "--formats", "png"]) == 0
    return out, counts, answers, listings


def expected_scores(counts, answers):
    """RQ1 prompts: mean over countries of the mean over items; the RQ2 cell: Japan's mean."""
    shares = counts / counts.sum(-1, keepdims=True)
    japan = COUNTRIES.index(392)
    return {key: float(np.mean([np.mean([w1_score(d[i], shares[c, i]) for i in range(len(ITEMS))])
                                for c in (range(len(COUNTRIES)) if len(key) == 3 else [japan])]))
            for key, d in answers.items()}


def test_per_prompt_scores_and_spreads_match_an_independent_computation(ran):
    out, counts, answers, _ = ran
    want = expected_scores(counts, answers)
    got = pd.read_csv(out / "robustness_scores.csv")
    assert len(got) == len(want) + len(MODELS) * 4  # and each RQ1 prompt as Japan's unsteered base
    for r in got[got.condition == "none"].itertuples():
        key = (r.model, r.family, 0 if r.family == "original" else r.index)
        assert r.score == pytest.approx(want[key], abs=2e-6)
        assert r.n_items == len(ITEMS) and r.n_countries == len(COUNTRIES)
        assert r.ci_low <= r.score + 1e-6 <= r.ci_high + 2e-6
    spread = pd.read_csv(out / "robustness_spread.csv")
    for model in MODELS:
        every = [want[model, f, i] for f, i in PROMPTS]
        orders = [want[model, "order", 1], want[model, "order", 2]]
        row = spread[(spread.model == model) & (spread.condition == "none") & (spread.family == "all")].iloc[0]
        assert row["mean"] == pytest.approx(np.mean(every), abs=2e-6)
        assert row["std"] == pytest.approx(np.std(every, ddof=1), abs=2e-6)
        assert row["range"] == pytest.approx(max(every) - min(every), abs=2e-6) and row["n"] == 4
        row = spread[(spread.model == model) & (spread.condition == "none") & (spread.family == "order")].iloc[0]
        assert row["std"] == pytest.approx(np.std(orders, ddof=1), abs=2e-6) and row["n"] == 2


def test_variance_shares_match_sums_of_squares_cell_by_cell(ran):
    out, counts, answers, _ = ran
    want = expected_scores(counts, answers)
    s = np.array([[want[m, f, i] for f, i in PROMPTS] for m in MODELS])
    grand = s.mean()
    ss_model = sum((s[m].mean() - grand) ** 2 for m in range(3) for _ in range(4))
    ss_prompt = sum((s[:, p].mean() - grand) ** 2 for p in range(4) for _ in range(3))
    ss_total = sum((v - grand) ** 2 for v in s.ravel())
    var = pd.read_csv(out / "robustness_variance.csv")
    row = var[var.family == "all"].iloc[0]
    assert row["share_model"] == pytest.approx(ss_model / ss_total, abs=1e-5)
    assert row["share_prompt"] == pytest.approx(ss_prompt / ss_total, abs=1e-5)
    assert row["share_interaction"] == pytest.approx(1 - (ss_model + ss_prompt) / ss_total, abs=1e-5)
    assert row["n_models"] == 3 and row["n_prompts"] == 4


def test_position_rankings_and_summary_match(ran):
    out, counts, answers, listings = ran
    shares = counts / counts.sum(-1, keepdims=True)
    pos = pd.read_csv(out / "robustness_position.csv")
    for r in pos.itertuples():
        key = (r.model, r.family, 0 if r.family == "original" else int(r.perturbation.split("-")[1]))
        firsts = [int(listing[0]) - 1 for listing in listings[key]]
        lasts = [int(listing[-1]) - 1 for listing in listings[key]]
        assert r.model_first == pytest.approx(np.mean([answers[key][i, k] for i, k in enumerate(firsts)]), abs=2e-6)
        assert r.human_first == pytest.approx(np.mean([shares[:, i, k].mean() for i, k in enumerate(firsts)]), abs=2e-6)
        assert r.model_last == pytest.approx(np.mean([answers[key][i, k] for i, k in enumerate(lasts)]), abs=2e-6)
    want = expected_scores(counts, answers)
    taus = [kendalltau([want[m, *a] for m in MODELS], [want[m, *b] for m in MODELS])[0]
            for a, b in itertools.combinations(PROMPTS, 2)]
    ranks = pd.read_csv(out / "robustness_rankings.csv")
    row = ranks[ranks.ranking == "models"].iloc[0]
    assert row["tau_mean"] == pytest.approx(np.mean(taus), abs=1e-6) and row["tau_min"] == pytest.approx(min(taus), abs=1e-6)
    summary = pd.read_csv(out / "robustness_summary.csv")
    uniform = np.mean([np.mean([w1_score(np.full(4, .25), shares[c, i]) for i in range(len(ITEMS))])
                       for c in range(len(COUNTRIES))])
    for r in summary.itertuples():
        every = [want[r.model, f, i] for f, i in PROMPTS]
        assert r.uniform == pytest.approx(uniform, abs=2e-6)
        assert r.gap == pytest.approx(want[r.model, "original", 0] - uniform, abs=2e-6)
        assert r.std_over_gap == pytest.approx(np.std(every, ddof=1) / abs(r.gap), rel=1e-4)
        # with no human data: how far the answers move between prompts, and from the uniform answer
        orig = answers[r.model, "original", 0]
        moved = [np.mean([1 - w1_score(orig[i], answers[r.model, f, k][i]) for i in range(len(ITEMS))])
                 for f, k in PROMPTS[1:]]
        assert r.dist_between_prompts == pytest.approx(np.mean(moved), abs=2e-6)
        assert r.dist_between_prompts_max == pytest.approx(max(moved), abs=2e-6)
        assert r.dist_to_uniform == pytest.approx(np.mean([1 - w1_score(orig[i], np.full(4, .25))
                                                           for i in range(len(ITEMS))]), abs=2e-6)
    assert (out / "robustness.png").is_file() and (out / "robustness_position.png").is_file()
    assert "| model |" in (out / "robustness_summary.md").read_text() and \
        r"\toprule" in (out / "robustness_summary.tex").read_text()


def test_steering_gain_against_the_prompt_spread_of_its_base(ran):
    out, counts, answers, _ = ran
    shares = counts / counts.sum(-1, keepdims=True)
    japan = COUNTRIES.index(392)
    got = pd.read_csv(out / "robustness_steering.csv").set_index("model")
    for model in MODELS:
        base = [np.mean([w1_score(answers[model, f, i][q], shares[japan, q]) for q in range(len(ITEMS))])
                for f, i in PROMPTS]
        steered = np.mean([w1_score(answers[model, "persona/Japan"][q], shares[japan, q]) for q in range(len(ITEMS))])
        row = got.loc[model]
        assert row["condition"] == "persona/Japan" and row["gain_original"] == pytest.approx(steered - base[0], abs=2e-6)
        assert row["base_std"] == pytest.approx(np.std(base, ddof=1), abs=2e-6) and row["n_prompts_base"] == 4


def test_steering_gain_against_the_prompt_spread_by_hand():
    rows = [("none/Japan", "original", .70), ("none/Japan", "order-1", .66), ("none/Japan", "order-2", .74),
            ("persona/Japan", "original", .72), ("persona/Japan", "order-1", .65), ("persona/Japan", "order-2", .77)]
    df = pd.DataFrame([{"model": "m", "condition": c, "perturbation": p, "score": s} for c, p, s in rows])
    got = rb.steering_against_spread(df).iloc[0]
    gains = np.array([.02, -.01, .03])
    assert got["gain_original"] == pytest.approx(.02) and got["gain_std"] == pytest.approx(gains.std(ddof=1))
    assert got["base_std"] == pytest.approx(np.std([.70, .66, .74], ddof=1))
    assert got["gain_over_spread"] == pytest.approx(.02 / np.std([.70, .66, .74], ddof=1))
    assert got["sign_kept"] == pytest.approx(2 / 3) and got["n_prompts_both"] == 3
    # a cell asked under the original prompt only is read against the base's spread alone
    only = rb.steering_against_spread(df[(df.condition != "persona/Japan") | (df.perturbation == "original")]).iloc[0]
    assert only["gain_original"] == pytest.approx(.02) and np.isnan(only["gain_std"]) and np.isnan(only["sign_kept"])
    assert only["gain_over_spread"] == pytest.approx(.02 / np.std([.70, .66, .74], ddof=1))


def test_respondent_bootstrap_adds_the_sampling_error_of_a_plain_loop():
    counts = np.array([[[30., 10., 5., 5.]]])  # one country, one item, 50 answers
    model = np.array([.4, .3, .2, .1])

    def similarity(shares):
        return np.array([[w1_score(model, shares[0, 0])]])

    items_only = resample.country_draws([similarity], counts, 300, seed=1, mode="items")
    assert np.ptp(items_only) == 0  # one item: resampling items cannot move it
    draws = resample.country_draws([similarity], counts, 2000, seed=1, mode="respondents")[0, :, 0]
    rng = np.random.default_rng(99)
    loop = [w1_score(model, rng.multinomial(50, counts[0, 0] / 50) / 50) for _ in range(2000)]
    assert draws.std() == pytest.approx(np.std(loop), rel=0.1)
    assert draws.mean() == pytest.approx(np.mean(loop), abs=0.01)
    again = resample.resample_counts(np.array([[3.0, 0.0], [0.0, 0.0]]), np.random.default_rng(0),
                                     known=np.array([True, False]))
    assert again.sum(-1).tolist() == [3.0, 0.0]


def test_other_analyses_read_the_original_prompt_and_respondent_intervals_are_wider(ran, tmp_path):
    """rq1_country_level.py next to perturbed runs reads only the original prompt's, and its
    intervals with --bootstrap respondents contain the ones over items on average (wider)."""
    out, counts, answers, _ = ran
    root = out.parent
    script = load_script("show_results/rq1_country_level.py")
    widths = {}
    for mode in ("items", "respondents"):
        dest = tmp_path / mode
        assert script.main(["--human", str(root / "human.csv"), "--results-root", str(root / "results"), "--out",
                            str(dest), "--n-boot", "300", "--formats", "png", "--bootstrap", mode]) == 0
        got = pd.read_csv(dest / "rq1_country_details.csv")
        shares = counts / counts.sum(-1, keepdims=True)
        for r in got.itertuples():
            c = COUNTRIES.index(r.country_code)
            want = np.mean([w1_score(answers[r.model, "original", 0][i], shares[c, i]) for i in range(len(ITEMS))])
            assert r.score == pytest.approx(want, abs=2e-6)
        widths[mode] = (got["ci_high"] - got["ci_low"]).to_numpy()
    assert len(widths["items"]) == len(MODELS) * len(COUNTRIES)
    assert widths["respondents"].mean() > widths["items"].mean()
