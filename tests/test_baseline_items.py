"""Baselines and comparisons on exactly the items the compared model answered (issue 20, §1).

A run with partial coverage (`--limit 12`, unparsed items, a translation lacking items) used to be
read against baselines over every item: the demo's model at 12 items, its uniform line and its
split-half ceiling at 144. Here the human table has 20 items and model `m12` answers the first 12.

The human table is built so that each baseline is known without our code: on the first 12 items
every respondent of a country gives the same answer (two random halves agree: ceiling exactly 1);
on the other 8, one respondent picks each of the first two options (two halves always disagree by
one step: 1 - 1/(N - 1)). The uniform answer's score is computed here with scipy's
`wasserstein_distance` over the options' positions.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wasserstein_distance
from test_figures import _steering_inputs, write_human, write_results
from wvs_fixtures import load_script

from utils.core.questionnaire import load_questionnaire, questionnaire_path

COUNTRIES = (156, 276)
N_ALL, N_MODEL = 20, 12


@pytest.fixture(scope="module")
def items():
    its = [it for it in load_questionnaire(questionnaire_path()) if len(it.order) >= 3][:N_ALL]
    assert len(its) == N_ALL
    return its


def human_rows(items):
    rows = []
    for c in COUNTRIES:
        for n, it in enumerate(items):
            if n < N_MODEL:  # unanimous, on a different option per country
                rows.append((c, it.id, it.order[0 if c == 156 else -1], 30))
            else:
                rows += [(c, it.id, it.order[0], 1), (c, it.id, it.order[1], 1)]
    return rows


def human_shares(items, rows):
    """{(country, item id): shares in semantic order}"""
    out = {}
    for c, i, o, n in rows:
        it = next(x for x in items if x.id == i)
        out.setdefault((c, i), np.zeros(len(it.order)))[it.order.index(o)] += n
    return {k: v / v.sum() for k, v in out.items()}


def w1_score(p, q) -> float:
    pos = np.arange(len(p))
    return 1 - wasserstein_distance(pos, pos, p, q) / (len(p) - 1)


def uniform_mean(items, shares, country, upto) -> float:
    return float(np.mean([w1_score(np.full(len(it.order), 1 / len(it.order)), shares[(country, it.id)])
                          for it in items[:upto]]))


@pytest.fixture
def case(tmp_path, items):
    rows = human_rows(items)
    human = write_human(tmp_path / "WV7.csv", rows)
    res = tmp_path / "results"
    keys = {it.id: list(it.choice_keys) for it in items}
    first = {it.id: {it.order[0]: 100} for it in items}
    write_results(res / "RQ1" / "m12" / "results.csv", {i: first[i] for i in list(first)[:N_MODEL]}, keys)
    return human, res, tmp_path / "out", human_shares(items, rows), keys, first


def argv(human, res, out, *extra):
    return ["--human", str(human), "--results-root", str(res), "--out", str(out), "--formats", "png",
            "--min-coverage", "0", "--n-boot", "20", *extra]


def test_model_level_baselines_are_on_the_models_items(case, items):
    human, res, out, shares, _, _ = case
    assert load_script("show_results/rq1_model_level.py").main(argv(human, res, out)) == 0
    df = pd.read_csv(out / "rq1_model_scores.csv").set_index("kind")
    assert df.loc["model", "n_items"] == N_MODEL
    uni, ceil = df.loc["baseline"], df.loc["ceiling"]
    assert uni["n_items"] == N_MODEL and ceil["n_items"] == N_MODEL and uni["items_of"] == "every model"
    expected = np.mean([uniform_mean(items, shares, c, N_MODEL) for c in COUNTRIES])
    assert uni["mean"] == pytest.approx(expected, abs=1e-6)
    assert uniform_mean(items, shares, 156, N_ALL) != pytest.approx(uniform_mean(items, shares, 156, N_MODEL), abs=1e-3)
    assert ceil["mean"] == pytest.approx(1.0, abs=1e-12)  # unanimous on the model's 12 items


def test_each_item_set_gets_its_own_baselines(case, items):
    human, res, out, shares, keys, first = case
    write_results(res / "RQ1" / "m20" / "results.csv", first, keys)  # a second model answers all 20
    assert load_script("show_results/rq1_model_level.py").main(argv(human, res, out)) == 0
    df = pd.read_csv(out / "rq1_model_scores.csv")
    base = df[df["kind"] == "baseline"].set_index("items_of")
    assert set(base.index) == {"m12", "m20"}
    for model, n in (("m12", N_MODEL), ("m20", N_ALL)):
        assert base.loc[model, "n_items"] == n
        assert base.loc[model, "mean"] == pytest.approx(np.mean([uniform_mean(items, shares, c, n) for c in COUNTRIES]),
                                                        abs=1e-6)
    ceil = df[df["kind"] == "ceiling"].set_index("items_of")["mean"]
    # m20's ceiling: 12 items at 1, 8 items whose halves are one step apart, 1 - 1/(N - 1)
    rest = [1 - 1 / (len(it.order) - 1) for it in items[N_MODEL:]]
    assert ceil["m12"] == pytest.approx(1.0) and ceil["m20"] == pytest.approx((N_MODEL + sum(rest)) / N_ALL, abs=1e-12)


def test_country_level_baselines_are_on_the_models_items(case, items):
    human, res, out, shares, _, _ = case
    assert load_script("show_results/rq1_country_level.py").main(argv(human, res, out)) == 0
    det = pd.read_csv(out / "rq1_country_details.csv").set_index("country_code")
    for c in COUNTRIES:
        assert det.loc[c, "n_items"] == N_MODEL
        assert det.loc[c, "uniform"] == pytest.approx(uniform_mean(items, shares, c, N_MODEL), abs=1e-6)
        assert det.loc[c, "ceiling"] == pytest.approx(1.0, abs=1e-12)


def test_sensitivity_compares_variants_on_the_items_both_answered(case, items):
    human, res, out, shares, keys, first = case
    last = {it.id: {it.order[-1]: 100} for it in items}
    write_results(res / "Discussion" / "sensitivity" / "order" / "m12" / "results.csv", last, keys)  # all 20
    assert load_script("show_results/sensitivity.py").main(argv(human, res, out)[:-2]) == 0
    df = pd.read_csv(out / "sensitivity_scores.csv").set_index("variant")
    assert df.loc["order", "n_items"] == N_MODEL and df.loc["order", "n_items_answered"] == N_ALL

    def mean_on(answer, upto):
        per_country = [np.mean([w1_score(np.eye(len(it.order))[it.order.index(next(iter(answer[it.id])))],
                                         shares[(c, it.id)]) for it in items[:upto]]) for c in COUNTRIES]
        return float(np.mean(per_country))
    assert df.loc["order", "score"] == pytest.approx(mean_on(last, N_MODEL), abs=1e-6)
    assert df.loc["order", "delta"] == pytest.approx(mean_on(last, N_MODEL) - mean_on(first, N_MODEL), abs=1e-6)


def test_matrix_says_how_many_items_each_cell_compares(case, items):
    human, res, out, _, keys, first = case
    write_results(res / "RQ1" / "m20" / "results.csv", first, keys)
    script = load_script("show_results/human_alignment_matrix.py")
    assert script.main(["--human", str(human), "--results-root", str(res), "--out", str(out), "--formats", "png",
                        "--min-coverage", "0", "--countries", "156,276"]) == 0
    n = pd.read_csv(out / "human_alignment_matrix_n_items.csv").set_index("label")
    assert n.loc["m12", "m20"] == N_MODEL and n.loc["m20", "China"] == N_ALL and n.loc["m12", "Germany"] == N_MODEL
    m = pd.read_csv(out / "human_alignment_matrix.csv").set_index("label")
    assert m.loc["m12", "m20"] == pytest.approx(1.0)  # the same answers on the 12 items both answered


def test_rq2_scores_every_condition_on_the_items_all_answered(case, items, tmp_path):
    human, res, out, shares, keys, first = case
    last = {it.id: {it.order[-1]: 100} for it in items}
    write_results(res / "RQ2" / "persona" / "China" / "m12" / "results.csv", last, keys)  # all 20
    inputs = _steering_inputs(tmp_path)  # China's few-shot item is Q57, not among these 20
    script = load_script("show_results/rq2_steering.py")
    assert script.main(["--human", str(human), "--results-root", str(res), "--out", str(out), "--formats", "png",
                        "--min-coverage", "0", "--inputs-dir", str(inputs)]) == 0
    df = pd.read_csv(out / "rq2_steering_scores.csv")
    df = df[df["model"] == "m12"].set_index("method")
    assert df.loc["none", "n_items"] == N_MODEL and df.loc["persona", "n_items"] == N_MODEL
    assert df.loc["persona", "n_items_answered"] == N_ALL

    def china(answer):
        return float(np.mean([w1_score(np.eye(len(it.order))[it.order.index(next(iter(answer[it.id])))],
                                       shares[(156, it.id)]) for it in items[:N_MODEL]]))
    assert df.loc["persona", "score"] == pytest.approx(china(last), abs=1e-6)
    assert df.loc["persona", "gain"] == pytest.approx(china(last) - china(first), abs=1e-6)


def test_rq2_condition_that_answered_nothing_does_not_empty_the_others(case, items, tmp_path):
    """A condition with every answer unparsed has no items; the others keep their shared items
    (it used to make the shared set empty and the table figure fail)."""
    human, res, out, shares, keys, first = case
    last = {it.id: {it.order[-1]: 100} for it in items}
    write_results(res / "RQ2" / "persona" / "China" / "m12" / "results.csv", last, keys)
    broken = res / "RQ2" / "few-shot" / "China" / "m12" / "results.csv"
    write_results(broken, last, keys)
    table = pd.read_csv(broken)
    table["response"] = "I would rather not say."  # no distribution in any answer
    table.to_csv(broken, index=False)
    script = load_script("show_results/rq2_steering.py")
    assert script.main(["--human", str(human), "--results-root", str(res), "--out", str(out), "--formats", "png",
                        "--min-coverage", "0", "--inputs-dir", str(_steering_inputs(tmp_path))]) == 0
    df = pd.read_csv(out / "rq2_steering_scores.csv")
    df = df[df["model"] == "m12"].set_index("method")
    assert df.loc["few-shot", "n_items"] == 0 and np.isnan(df.loc["few-shot", "score"])
    assert df.loc["none", "n_items"] == N_MODEL and df.loc["persona", "n_items"] == N_MODEL
    assert (out / "rq2_steering_table.png").is_file()
