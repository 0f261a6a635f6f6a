"""Published shares as human data: dataset/import_shares.py and `--human` with a `share` column.

The reference is the counts table of a WVS-shaped file (dataset/prepare_wvs.py): shares made from
it, keyed and scaled in the different ways sources publish them, must score every country the
same as the counts do.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from wvs_fixtures import load_script, microdata

from utils.analysis.answers import questionnaire_items
from utils.core.human.human_data import load_human
from utils.analysis.scoring import Scoring
from utils.core.errors import UserError

prepare_wvs = load_script("dataset/prepare_wvs.py")
import_shares = load_script("dataset/import_shares.py")


@pytest.fixture
def counts_table(tmp_path):
    src = tmp_path / "wv7.csv"
    microdata(7, seed=4).to_csv(src, index=False)
    out = tmp_path / "WV7.csv"
    assert prepare_wvs.main(["--wave", "7", "--input", str(src), "--output", str(out)]) == 0
    return out


def shares_json(counts: pd.DataFrame) -> dict:
    """China as ISO3, percents of all answers (missing codes too) with n; Germany as its WVS code,
    fractions of the valid answers without n; the US by name; plus what cannot be placed."""
    out: dict = {"XKX": {"Q57": {"1": 1.0}}}
    for code, key in ((156, "CHN"), (276, "276"), (840, "united states")):
        by_item = {}
        for item, d in counts[counts["country_code"] == code].groupby("item_id"):
            if code == 276:
                d = d[d["option"].astype(int) >= 0]
            share = dict(zip(d["option"].astype(str), (d["count"] / d["count"].sum()).tolist()))
            if code == 156:
                by_item[item] = {"shares": {k: 100 * v for k, v in share.items()}, "n": int(d["count"].sum())}
            else:
                by_item[item] = share
        by_item["Q9999"] = {"1": 1.0}
        out[key] = by_item
    return out


def test_shares_reproduce_the_counts_scores(counts_table, tmp_path, capsys):
    counts = pd.read_csv(counts_table, dtype={"option": str})
    src = tmp_path / "shares.json"
    src.write_text(json.dumps(shares_json(counts)))
    table = tmp_path / "shares.csv"
    assert import_shares.main(["--input", str(src), "--output", str(table)]) == 0
    said = capsys.readouterr().out
    assert "could not place 1 countries: XKX" in said
    assert "could not place 1 items (not in the questionnaire or WV567.jsonl): Q9999 (3 countries)" in said
    assert "codes outside the item (kept as invalid)" in said  # China's negative codes

    ids, orders = questionnaire_items()
    ref, got = load_human(counts_table, ids, orders), load_human(table, ids, orders)
    assert got.country_codes.tolist() == ref.country_codes.tolist() == [156, 276, 840]
    assert got.country_names == ref.country_names
    rng = np.random.default_rng(0)
    answers = np.zeros((len(ids), ref.counts.shape[-1]))
    for i, order in enumerate(orders):
        answers[i, :len(order)] = rng.dirichlet(np.ones(len(order)))
    for metric in ("w1", "jsd", "tvd"):
        for drop in (False, True):
            a, b = Scoring.build(ref, drop, metric), Scoring.build(got, drop, metric)
            np.testing.assert_allclose(b.scores(answers), a.scores(answers), atol=1e-9, equal_nan=True)
            np.testing.assert_allclose(b.uniform_scores(), a.uniform_scores(), atol=1e-9, equal_nan=True)
    # China gave n (shares of all answers): counts and invalid answers come back, so does the ceiling;
    # Germany and the US did not: their ceiling and the pooled population are left out, not made up
    np.testing.assert_allclose(got.counts[0], ref.counts[0], atol=1e-9)
    np.testing.assert_allclose(got.n_invalid[0], ref.n_invalid[0], atol=1e-9)
    china_ref, china = Scoring.build(ref.select([156])).ceiling(3), Scoring.build(got.select([156])).ceiling(3)
    asked = ref.counts.sum(-1) > 0
    np.testing.assert_allclose(china[0][asked[0]], china_ref[0][asked[0]], atol=1e-12)
    a, b = Scoring.build(ref), Scoring.build(got)
    assert np.isnan(b.ceiling(repeats=2)[1:]).all() and np.isnan(b.pooled()).all()
    assert not np.isnan(a.pooled()[asked.any(0)]).any()


def test_share_rows_become_counts_as_documented(tmp_path):
    # Q57 (0.6, 0.3) with a missing-code row 0.1 and n = 1000 -> counts (600, 300), 100 invalid
    path = tmp_path / "s.csv"
    pd.DataFrame({"country_code": [276] * 3 + [156] * 2, "item_id": "Q57", "option": ["1", "2", "-1", "1", "2"],
                  "share": [0.6, 0.3, 0.1, 40, 60], "n": [1000, 1000, 1000, None, None]}).to_csv(path, index=False)
    ids, orders = questionnaire_items()
    h = load_human(path, ids, orders)
    q = ids.index("Q57")
    de, cn = h.country_codes.tolist().index(276), h.country_codes.tolist().index(156)
    assert h.counts[de, q, :2].tolist() == pytest.approx([600, 300]) and h.n_invalid[de, q] == pytest.approx(100)
    assert h.shares()[cn, q, :2].tolist() == pytest.approx([0.4, 0.6])
    assert h.has_respondents[de, q] and not h.has_respondents[cn, q]
    with pytest.raises(UserError, match="--weights none"):
        load_human(path, ids, orders, weights="survey")


def test_unreadable_input_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert import_shares.main(["--input", str(bad), "--output", str(tmp_path / "o.csv")]) == 2
    assert "is not JSON" in capsys.readouterr().err
    nothing = tmp_path / "nothing.json"
    nothing.write_text(json.dumps({"ATLANTIS": {"Q57": {"1": 1}}}))
    assert import_shares.main(["--input", str(nothing), "--output", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no share could be placed" in err and "\n" not in err


def test_scripts_run_on_shares_and_leave_out_what_needs_respondents(tmp_path, caplog):
    from test_figures import HUMAN, M1, write_human, write_results
    counts = write_human(tmp_path / "WV7.csv")
    res = tmp_path / "results"
    write_results(res / "RQ1" / "m1" / "results.csv", M1)
    shares = {}
    for c, i, o, n in HUMAN:
        shares.setdefault(str(c), {}).setdefault(i, {})[o] = n / 100  # of all answers, no n
    (tmp_path / "s.json").write_text(json.dumps(shares))
    assert import_shares.main(["--input", str(tmp_path / "s.json"), "--output", str(tmp_path / "s.csv")]) == 0
    country = load_script("show_results/rq1_country_level.py")
    model = load_script("show_results/rq1_model_level.py")
    for name, human in (("counts", counts), ("shares", tmp_path / "s.csv")):
        common = ["--human", str(human), "--results-root", str(res), "--formats", "png", "--n-boot", "50",
                  "--min-coverage", "0", "--out", str(tmp_path / name)]
        assert country.main(common) == 0 and model.main(common) == 0
    a = pd.read_csv(tmp_path / "counts" / "rq1_country_details.csv").set_index("country")
    b = pd.read_csv(tmp_path / "shares" / "rq1_country_details.csv").set_index("country")
    pd.testing.assert_series_equal(a["score"], b["score"])
    pd.testing.assert_series_equal(a["uniform"], b["uniform"])
    assert a["ceiling"].notna().all() and b["ceiling"].isna().all()
    assert "split-half ceiling is left out" in caplog.text
    m = pd.read_csv(tmp_path / "shares" / "rq1_model_scores.csv").set_index("kind")
    assert np.isnan(m.loc["ceiling", "mean"]) and np.isnan(m.loc["model", "pooled_score"])
    assert m.loc["ceiling", "n_countries"] == 0
    assert (tmp_path / "shares" / "rq1_country_top_bottom.png").stat().st_size > 0


CULTURESPA_COUNTRIES = ["AUS", "BOL", "BRA", "CAN", "CHN", "DEU", "ETH", "GBR", "IND", "KEN", "MEX", "NGA", "NLD",
                        "NZL", "RUS", "THA", "UKR", "USA", "ZWE"]


def test_the_culturespa_shape_is_read_as_it_is(tmp_path, capsys):
    """shaoyangxu/CultureSPA's data/proportions_group_by_country.json, in its exact shape: ISO3 ->
    item -> option code -> share of all respondents (missing answers dropped, so an item's shares sum
    to less than 1), options in no particular order, an empty item (`"Q82": {}`), items beyond the
    questionnaire, no respondent counts. Its 19 countries are all placed by the country table; each
    item's shares are renormalized over its codes, checked against a hand computation."""
    import_shares = load_script("dataset/import_shares.py")
    assert all(k.lower() in import_shares.country_index() for k in CULTURESPA_COUNTRIES)
    data = {
        "AUS": {"Q1": {"2": 0.0767, "1": 0.9024, "4": 0.0022, "3": 0.0132}, "Q7": {"1": 0.82, "2": 0.18},
                "Q57": {"1": 0.534, "2": 0.4545}, "Q82": {}},
        "MEX": {"Q1": {"1": 0.6, "2": 0.3}, "Q57": {}, "Q7": {"1": 0.5}},
        "GBR": {"Q57": {"2": 0.7, "1": 0.25}},
    }
    src, out = tmp_path / "proportions_group_by_country.json", tmp_path / "culturespa_WV7.csv"
    src.write_text(json.dumps(data, indent=4))
    assert import_shares.main(["--input", str(src), "--output", str(out)]) == 0
    said = capsys.readouterr().out
    assert "could not place 2 items (not in the questionnaire or WV567.jsonl): Q7 (2 countries), Q82 (1 country)" \
        in said and "no respondent counts n" in said
    table = pd.read_csv(out, dtype={"option": str})
    assert sorted(table["country_code"].unique().tolist()) == [36, 484, 826]  # AUS, MEX, GBR by WVS code
    ids, orders = questionnaire_items()
    human = load_human(out, ids, orders)
    shares = human.shares()
    at = {int(c): i for i, c in enumerate(human.country_codes)}
    q1, q57 = ids.index("Q1"), ids.index("Q57")
    aus = np.array([0.9024, 0.0767, 0.0132, 0.0022])  # Q1's codes 1-4, in order
    np.testing.assert_allclose(shares[at[36], q1, :4], aus / aus.sum(), atol=1e-12)
    np.testing.assert_allclose(shares[at[36], q57, :2], np.array([0.534, 0.4545]) / 0.9885, atol=1e-12)
    np.testing.assert_allclose(shares[at[484], q1, :4], [2 / 3, 1 / 3, 0, 0], atol=1e-12)
    assert np.isnan(shares[at[484], q57]).all()  # the empty item: not asked there, never made up
    np.testing.assert_allclose(shares[at[826], q57, :2], [0.25 / 0.95, 0.7 / 0.95], atol=1e-12)
    assert human.has_respondents is not None and not human.has_respondents.any()  # no n: no ceiling, no pool
