"""Scores by respondent group (`--by`), checked against an independent computation: answers
counted per group by walking every respondent, scored item by item with scipy's Wasserstein
distance, for every country and group, weighted and unweighted."""
from __future__ import annotations

import doctest
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wasserstein_distance
from wvs_fixtures import group_microdata, hand_group, load_script

from utils.analysis import group_scores as group_scores_module
from utils.analysis.group_scores import gap_test
from utils.core.questionnaire import load_questionnaire, questionnaire_path

ITEMS = load_questionnaire(questionnaire_path("English"))


def test_doctests():
    assert doctest.testmod(group_scores_module).failed == 0


def test_gap_test_by_hand():
    s = np.array([[.80, .70, .75], [.82, .76, .80], [.78, .71, .74]])
    t = gap_test(s, n_boot=500, n_perm=999)
    # group means .8, .7233, .7633: best 0, worst 1, gap .0767
    assert (t.best, t.worst, t.n_countries) == (0, 1, 3)
    assert t.gap == pytest.approx((.80 + .82 + .78 - .70 - .76 - .71) / 3)
    assert t.ci_low <= t.gap <= t.ci_high
    # the same groups in every country: shuffling labels leaves no gap, every shuffle reaches it
    same = gap_test(np.repeat([[.8], [.7], [.75]], 3, axis=1), n_boot=100, n_perm=99)
    assert same.gap == pytest.approx(0) and same.p_value == pytest.approx(1.0)
    # a constant lead of .05 in 40 countries: no shuffle is as extreme, p is the smallest possible
    rng = np.random.default_rng(0)
    base = rng.uniform(.6, .9, size=(40, 1))
    lead = gap_test(np.hstack([base + .05, base]), n_boot=200, n_perm=199)
    assert lead.gap == pytest.approx(.05) and lead.p_value == pytest.approx(1 / 200)
    assert lead.ci_low == pytest.approx(.05) and lead.ci_high == pytest.approx(.05)
    # pure noise: picking the extreme pair after the fact must not look significant
    p = [gap_test(rng.normal(.8, .02, size=(30, 4)), n_boot=50, n_perm=199, seed=k).p_value for k in range(20)]
    assert np.mean(np.array(p) < .05) <= .2


def model_answers(seed: int) -> dict[str, dict[str, float]]:
    """A made-up model: for every questionnaire item, random percentages over its choice keys."""
    rng = np.random.default_rng(seed)
    out = {}
    for it in ITEMS:
        p = rng.dirichlet(np.ones(len(it.choice_keys)))
        out[it.id] = {k: round(100 * v, 2) for k, v in zip(it.choice_keys, p)}
    return out


def write_results(path, answers):
    path.parent.mkdir(parents=True, exist_ok=True)
    by_id = {it.id: it for it in ITEMS}
    rows = [{"id": i, "question": "q", "choices": str(list(by_id[i].choices)), "choice_keys": str(list(by_id[i].choice_keys)),
             "answer": "", "type": "Opinion-Dependent", "response": str({k: f"{v}%" for k, v in d.items()})}
            for i, d in answers.items()]
    pd.DataFrame(rows).to_csv(path, index=False)


def hand_scores(df: pd.DataFrame, var: str, column: str, answers: dict, weighted: bool) -> dict:
    """(country, group) -> mean over items of 1 - W1/(N-1), from counts made row by row."""
    counts: dict = defaultdict(lambda: defaultdict(float))
    for _, row in df.iterrows():
        group = hand_group(var, float(row[column]))
        if group is None:
            continue
        for it in ITEMS:
            code = str(int(row[it.id]))
            if code in it.order:
                counts[(int(row["B_COUNTRY"]), group, it.id)][code] += row["W_WEIGHT"] if weighted else 1.0
    per_item: dict = defaultdict(list)
    for (c, g, item), by_code in counts.items():
        it = next(x for x in ITEMS if x.id == item)
        n = len(it.order)
        q = np.array([by_code.get(k, 0.0) for k in it.order])
        p = np.array([answers[item].get(k, 0.0) for k in it.order])
        if q.sum() == 0 or p.sum() == 0:
            continue
        w1 = wasserstein_distance(np.arange(n), np.arange(n), p / p.sum(), q / q.sum())
        per_item[(c, g)].append(1 - w1 / (n - 1))
    return {k: (float(np.mean(v)), len(v)) for k, v in per_item.items()}


@pytest.fixture(scope="module")
def sex_case(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("by_sex")
    df = group_microdata(seed=3)
    src = tmp / "wvs.csv"
    df.to_csv(src, index=False)
    human = tmp / "WV7.csv"
    prepare = load_script("dataset/prepare_wvs.py")
    assert prepare.main(["--wave", "7", "--input", str(src), "--output", str(human), "--groups", "sex,age",
                         "--min-group-n", "10"]) == 0
    res = tmp / "results"
    answers = {"m1": model_answers(1), "m2": model_answers(2)}
    for name, a in answers.items():
        write_results(res / "RQ1" / name / "results.csv", a)
    return df, human, res, answers, tmp


@pytest.mark.parametrize("weights", ["none", "survey"])
def test_rq1_country_level_by_sex_matches_hand_scores(sex_case, weights):
    df, human, res, answers, tmp = sex_case
    out = tmp / f"out_{weights}"
    script = load_script("show_results/rq1_country_level.py")
    rc = script.main(["--human", str(human), "--results-root", str(res), "--out", str(out), "--formats", "png",
                      "--n-boot", "50", "--by", "sex", "--weights", weights])
    assert rc == 0
    got = pd.read_csv(out / "rq1_group_scores.csv")
    assert list(got.columns) == ["model", "country", "country_code", "group_var", "group", "score", "n_items",
                                 "n_respondents"]
    assert set(got["group_var"]) == {"sex"}
    for model, a in answers.items():
        expected = hand_scores(df, "sex", "Q260", a, weights == "survey")
        rows = got[got["model"] == model]
        assert {(int(r.country_code), r.group) for r in rows.itertuples()} == set(expected)
        for r in rows.itertuples():
            score, n_items = expected[(int(r.country_code), r.group)]
            assert r.score == pytest.approx(score, abs=1e-6) and r.n_items == n_items
            assert r.n_respondents == ((df["B_COUNTRY"] == r.country_code)
                                       & (df["Q260"] == {"male": 1, "female": 2}[r.group])).sum()
    assert (out / "rq1_group_scores.png").stat().st_size > 0
