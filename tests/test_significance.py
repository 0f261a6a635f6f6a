"""RQ2 significance (default: paired over items; --test ind; --correction holm) and the paper's table."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ttest_ind, ttest_rel
from test_paper_compat import rq2_rows, write_results
from wvs_fixtures import load_script, microdata

from utils.analysis.tables import layout, to_latex, to_markdown
from utils.analysis.significance import add_significance, for_csv, holm, p_value

prepare_wvs = load_script("dataset/prepare_wvs.py")
rq2_script = load_script("show_results/rq2_steering.py")


def test_p_values_match_scipy_and_pairs_drop_missing_items():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.6, 0.9, 40)
    steered = base + rng.normal(0.01, 0.02, 40)
    steered[[3, 7]] = np.nan
    base[11] = np.nan
    both = np.isfinite(steered) & np.isfinite(base)
    assert p_value(steered, base, "rel") == pytest.approx(ttest_rel(steered[both], base[both]).pvalue, rel=1e-12)
    assert p_value(steered, base, "ind") == pytest.approx(
        ttest_ind(steered[np.isfinite(steered)], base[np.isfinite(base)]).pvalue, rel=1e-12)
    # the docstring's example: a constant +.1 on every item is certain when paired, not when independent
    assert p_value([.8, .9, .7], [.7, .8, .6], "rel") == 0.0
    assert p_value([.8, .9, .7], [.7, .8, .6], "ind") == pytest.approx(0.2879, abs=1e-4)


def test_tiny_p_values_survive_the_csv():
    out = for_csv(pd.DataFrame({"p_value": [1.234567891e-31, 0.05, np.nan]}))
    assert out["p_value"].tolist() == ["1.23457e-31", "0.05", ""]


def test_holm_by_hand():
    assert np.allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    out = holm([0.02, np.nan, 0.5, 0.001])  # m = 3: .001*3, .02*2, .5*1
    assert np.allclose(out[[0, 2, 3]], [0.04, 0.5, 0.003]) and np.isnan(out[1])


def _long(items):
    rows = [{"model": m, "country": c, "country_code": 1, "method": k, "score": float(np.nanmean(v)),
             "n_items": int(np.isfinite(v).sum())} for (m, c, k), v in items.items()]
    return pd.DataFrame(rows)


def test_add_significance_avg_rows_pool_models_and_holm_per_model_country():
    rng = np.random.default_rng(1)
    items = {}
    for m in ("a", "b"):
        base = rng.uniform(0.5, 0.9, 30)
        items[(m, "X", "none")] = base
        for j, k in enumerate(("persona", "language")):
            items[(m, "X", k)] = base + rng.normal(0.02 * j, 0.03, 30)
    df = add_significance(_long(items), items, "rel", "none")
    avg = df[(df.model == "AVG") & (df.method == "language")].iloc[0]
    pooled = np.concatenate([items[(m, "X", "language")] for m in ("a", "b")])
    base = np.concatenate([items[(m, "X", "none")] for m in ("a", "b")])
    assert avg.p_value == pytest.approx(ttest_rel(pooled, base).pvalue, rel=1e-12)
    assert avg.score == pytest.approx(np.mean([items[(m, "X", "language")].mean() for m in ("a", "b")]))
    assert np.isnan(df[(df.model == "AVG") & (df.method == "none")].p_value.iloc[0])
    adj = add_significance(_long(items), items, "rel", "holm")
    for m in ("a", "b", "AVG"):
        raw = df[(df.model == m) & (df.method != "none")].p_value.to_numpy()
        assert np.allclose(adj[(adj.model == m) & (adj.method != "none")].p_value.to_numpy(), holm(raw))


def test_paper_table_layout_markdown_and_latex():
    df = pd.DataFrame([
        {"model": "org/m1", "country": "Japan", "method": m, "score": s, "stars": st}
        for m, s, st in [("language_few-shot", .81, "*"), ("none", .7712, ""), ("persona", .79, "***"),
                         ("language", .7801, "**")]] +
        [{"model": "AVG", "country": "Japan", "method": "none", "score": .765, "stars": ""}])
    t = layout(df)
    assert list(t.columns) == ["Country", "Condition", "m1", "AVG"]
    assert t.values.tolist() == [["Japan", "No Steering", "0.7712", "0.7650"], ["", "+Language", "0.7801**", ""],
                                 ["", "Persona", "0.7900***", ""], ["", "+Language", "0.8100*", ""]]
    md = to_markdown(t)
    assert md.splitlines()[2] == "| Japan | No Steering | 0.7712 | 0.7650 |"
    tex = to_latex(t)
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"0.7801$^{**}$" in tex and r"\begin{tabular}{llrr}" in tex


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("sig")
    microdata(7, seed=5).to_csv(d / "micro.csv", index=False)
    assert prepare_wvs.main(["--wave", "7", "--input", str(d / "micro.csv"), "--output", str(d / "WV7.csv")]) == 0
    root = d / "results"
    for m, model in enumerate(["model-a", "model-b"]):
        write_results(root / "RQ1" / model / "results.csv", rq2_rows(10 + m, messy=False))
        for j, method in enumerate(["persona", "language", "language_persona"]):
            write_results(root / "RQ2" / method / "China" / model / "results.csv", rq2_rows(40 + 3 * m + j, False))
    return d / "WV7.csv", root


def test_rq2_script_writes_p_values_avg_rows_and_the_paper_table(tmp_path, setup):
    human, root = setup
    p = {}
    for test in ("rel", "ind"):
        out = tmp_path / test
        assert rq2_script.main(["--human", str(human), "--results-root", str(root), "--out", str(out),
                                "--min-coverage", "0", "--test", test, "--formats", "png"]) == 0
        df = pd.read_csv(out / "rq2_steering_scores.csv", keep_default_na=False, na_values=[""])
        assert {"p_value", "stars"} <= set(df.columns)
        assert sorted(df[df.model == "AVG"].method) == ["language", "language_persona", "none", "persona"]
        p[test] = df[(df.model == "model-a") & (df.method == "language")].p_value.iloc[0]
        assert 0 <= p[test] <= 1
    assert p["rel"] != pytest.approx(p["ind"], rel=1e-3)  # the paired test is a different test
    table = pd.read_csv(out / "rq2_paper_table.csv", keep_default_na=False)
    assert list(table["Condition"]) == ["No Steering", "+Language", "Persona", "+Language"]
    assert list(table.columns) == ["Country", "Condition", "model-a", "model-b", "AVG"]
    assert (out / "rq2_paper_table.tex").read_text().count(r"\toprule") == 1
    assert (out / "rq2_paper_table.md").is_file() and (out / "rq2_steering_table.png").is_file()
