"""Human data by respondent group: group definitions, `prepare_wvs.py --groups`, and reading a
group back, checked against counts made by walking every respondent in plain Python."""
from __future__ import annotations

import doctest
import json

import numpy as np
import pandas as pd
import pytest
from wvs_fixtures import (COUNTRIES, GROUP_COLUMNS_7, group_microdata, hand_counts, hand_group, hand_group_counts,
                          load_script, specs)

from utils.core import groups as groups_module
from utils.core.groups import load_group_vars, parse_group, parse_group_vars
from utils.core.human.human_data import load_human, read_long_table
from utils.core.errors import UserError

prepare_wvs = load_script("dataset/prepare_wvs.py")
ALL_VARS = "sex,age,education,settlement,income"


def prepare(tmp_path, df, *extra, wave=7):
    src = tmp_path / "wvs.csv"
    df.to_csv(src, index=False)
    out = tmp_path / "WV.csv"
    rc = prepare_wvs.main(["--wave", str(wave), "--input", str(src), "--output", str(out), *extra])
    return rc, out


def test_doctests():
    assert doctest.testmod(groups_module).failed == 0


def test_definitions_follow_the_issue_table():
    defs = load_group_vars()
    assert {n: v.column(7) for n, v in defs.items()} == GROUP_COLUMNS_7
    assert defs["age"].labels == ("18-29", "30-49", "50+")
    values = np.array([17, 18, 29, 30, 49, 50, 99, -1, np.nan, 1, 2, 3, 4])
    for name, var in defs.items():
        got = [var.labels[k] if k >= 0 else None for k in var.assign(values)]
        assert got == [hand_group(name, float(v)) for v in values], name


@pytest.fixture(scope="module")
def grouped(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("groups")
    df = group_microdata()
    rc, out = prepare(tmp, df, "--groups", ALL_VARS, "--min-group-n", "10")
    assert rc == 0
    return df, out


def test_group_rows_match_hand_counts(grouped):
    df, out = grouped
    table, meta = read_long_table(out, None)
    for var in GROUP_COLUMNS_7:
        expected = hand_group_counts(df, var)
        rows = table[table["group_var"] == var]
        got = {(int(r.country_code), r.group, r.item_id, r.option): (int(r.count), float(r.weighted_count))
               for r in rows.itertuples()}
        # the tiny US rural group (5 < 10 respondents) is dropped, every other group is kept
        dropped = {k for k in expected if var == "settlement" and k[0] == 840 and k[1] == "rural"}
        assert dropped or var != "settlement"
        assert got.keys() == expected.keys() - dropped, var
        for key in got:
            assert got[key][0] == expected[key][0] and got[key][1] == pytest.approx(expected[key][1], abs=1e-5)
    assert meta["groups"]["settlement"]["countries_per_group"] == {"urban": 3, "rural": 2}


def test_whole_country_rows_are_unchanged(grouped, tmp_path):
    df, out = grouped
    whole, _ = read_long_table(out)
    assert set(whole["group_var"]) == {"all"} and set(whole["group"]) == {"all"}
    got = {(int(r.country_code), r.item_id, r.option): (int(r.count), float(r.weighted_count))
           for r in whole.itertuples()}
    expected = hand_counts(df, 7)
    assert got.keys() == expected.keys()
    assert all(got[k][0] == n and got[k][1] == pytest.approx(w, abs=1e-5) for k, (n, w) in expected.items())
    _, plain = prepare(tmp_path, df)
    pd.testing.assert_frame_equal(pd.read_csv(plain), pd.read_csv(out).iloc[:len(pd.read_csv(plain))])


@pytest.mark.parametrize("weights", ["none", "survey"])
def test_load_human_reads_one_group(grouped, weights):
    df, out = grouped
    items, orders = ["Q1", "Q22"], [("1", "2", "3", "4"), ("1", "2", "3", "4")]
    h = load_human(out, items, orders, weights=weights, group=("sex", "female"))
    assert h.group == ("sex", "female") and list(h.country_codes) == sorted(COUNTRIES)
    for ci, c in enumerate(h.country_codes):
        rows = df[(df["B_COUNTRY"] == c) & (df["Q260"] == 2)]
        w = rows["W_WEIGHT"] if weights == "survey" else pd.Series(1.0, index=rows.index)
        for ii, item in enumerate(items):
            want = [w[rows[item] == int(o)].sum() for o in orders[ii]]
            assert h.counts[ci, ii].tolist() == pytest.approx(want, abs=1e-5)
        assert h.respondents[ci] == len(rows)
    # men and women were made to differ on Q1: their shares of the first option are far apart
    men = load_human(out, items, orders, group=("sex", "male"))
    assert men.shares()[:, 0, 0].min() > h.shares()[:, 0, 0].max() + 0.2


def test_a_label_two_variables_share_reads_the_named_variables_rows(tmp_path):
    """`middle` is a group of both education and income: education=middle must read the
    education rows only, never the income rows that carry the same label."""
    counts = {("all", "all"): (50, 50), ("education", "lower"): (5, 15), ("education", "middle"): (30, 10),
              ("income", "middle"): (4, 36), ("income", "high"): (11, 9)}
    rows = [{"country_code": c, "item_id": "Q1", "option": str(k + 1), "count": n * (1 + (c == 276)),
             "group_var": var, "group": label}
            for c in (276, 840) for (var, label), pair in counts.items() for k, n in enumerate(pair)]
    path = tmp_path / "long.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    for var in ("education", "income"):
        h = load_human(path, ["Q1"], [("1", "2")], group=(var, "middle"))
        assert h.group == (var, "middle") and h.country_codes.tolist() == [276, 840]
        want = counts[(var, "middle")]
        assert h.counts[:, 0].tolist() == [[2 * want[0], 2 * want[1]], [want[0], want[1]]], var
        assert h.respondents.tolist() == [2 * sum(want), sum(want)]


def test_unknown_group_names_what_exists(grouped):
    _, out = grouped
    with pytest.raises(UserError, match="its age groups: 18-29, 30-49, 50[+]"):
        load_human(out, ["Q1"], [("1", "2", "3", "4")], group=("age", "60+"))
    with pytest.raises(UserError, match="it has: sex, age, education, settlement, income"):
        load_human(out, ["Q1"], [("1", "2", "3", "4")], group=("religion", "none"))
    known = load_group_vars()
    with pytest.raises(UserError, match="known: sex, age, education, settlement, income"):
        parse_group_vars("sex,height", known)
    with pytest.raises(UserError, match="its groups: male, female"):
        parse_group("sex=other", known)
    assert parse_group(" age = 18-29 ", known) == ("age", "18-29")


def test_table_without_groups(tmp_path):
    rc, out = prepare(tmp_path, group_microdata().drop(columns=list(GROUP_COLUMNS_7.values())))
    assert rc == 0
    table, meta = read_long_table(out)
    assert meta["groups"] == {} and set(table["group_var"]) == {"all"}
    legacy = out.with_name("legacy.csv")  # as written before groups existed: no group columns at all
    pd.read_csv(out).drop(columns=["group_var", "group"]).to_csv(legacy, index=False)
    assert load_human(legacy, ["Q1"], [("1", "2", "3", "4")]).counts.sum() == \
        load_human(out, ["Q1"], [("1", "2", "3", "4")]).counts.sum() > 0
    with pytest.raises(UserError, match="has no group rows; prepare it with python dataset/prepare_wvs.py --groups"):
        load_human(legacy, ["Q1"], [("1", "2", "3", "4")], group=("sex", "male"))
    with pytest.raises(UserError, match="has no group variable sex; it has: none"):
        load_human(out, ["Q1"], [("1", "2", "3", "4")], group=("sex", "male"))


def test_bad_group_input_is_one_line(tmp_path, capsys):
    df = group_microdata(countries={156: 40}).drop(columns=["Q275R"])
    rc, _ = prepare(tmp_path, df, "--groups", "sex,education")
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "no column Q275R for group variable education" in err
    assert "has columns for: sex, age, settlement, income" in err
    rc, _ = prepare(tmp_path, df, "--groups", "sex,religion")
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "unknown group variable religion; known: sex, age, education, settlement, income" in err


def test_wave_without_a_group_says_so(tmp_path, capsys):
    df = group_microdata(countries={156: 60})
    specs6 = specs(6)  # a wave-6-shaped file: its country, weight, sex and age columns, every item answered 1
    df6 = pd.DataFrame({"V2": df["B_COUNTRY"], "V258": df["W_WEIGHT"], "V240": df["Q260"], "V242": df["Q262"]})
    for s in specs6:
        df6[s.variable] = 1
    rc, out = prepare(tmp_path, df6, "--groups", "sex,education", "--min-group-n", "1", wave=6)
    lines = capsys.readouterr().out
    assert rc == 0 and "group variable education is unavailable in wave 6" in lines
    table, meta = read_long_table(out, None)
    assert set(table["group_var"]) == {"all", "sex"} and meta["groups"]["sex"]["column"] == "V240"
    n_male = int((df6["V240"] == 1).sum())
    male = load_human(out, [specs6[0].id], [specs6[0].order], group=("sex", "male"))
    assert male.respondents[0] == n_male


def test_min_group_n_drops_with_one_line_per_group(tmp_path, caplog):
    """One line per group, naming its countries (issue 28: synthetic data of 300 respondents per
    country dropped the three age groups in most of the 66 countries, one line each: 190 lines)."""
    df = group_microdata()
    rc, out = prepare(tmp_path, df, "--groups", "settlement", "--min-group-n", "6")
    assert rc == 0
    dropped = [r.getMessage() for r in caplog.records if "dropped group" in r.getMessage()]
    assert dropped == ["dropped group settlement=rural in 1 country with fewer than the minimum 6 respondents "
                       "(--min-group-n): United States (5)"]
    sizes = df.groupby(["B_COUNTRY", "H_URBRURAL"]).size()
    table, _ = read_long_table(out, ("settlement", "urban"))
    got = table[table["item_id"] == "Q1"].groupby("country_code")["count"].sum()
    assert got.to_dict() == {c: sizes[(c, 1.0)] for c in COUNTRIES}
    assert json.loads(out.with_suffix(".meta.json").read_text())["min_group_n"] == 6


def test_published_group_shares_read_like_prepared_groups(tmp_path, capsys):
    import_shares = load_script("dataset/import_shares.py")
    whole = {"DEU": {"Q57": {"shares": {"1": 30, "2": 70}, "n": 1500}}}
    young = {"DEU": {"Q57": {"shares": {"1": 0.5, "2": 0.4, "-1": 0.1}, "n": 300}}}
    out = tmp_path / "shares.csv"
    for name, data, extra in [("whole", whole, []), ("young", young, ["--group", "age=18-29", "--append"])]:
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
        assert import_shares.main(["--input", str(tmp_path / f"{name}.json"), "--output", str(out), *extra]) == 0
    h_all = load_human(out, ["Q57"], [("1", "2")])
    h_young = load_human(out, ["Q57"], [("1", "2")], group=("age", "18-29"))
    assert h_all.counts[0, 0].tolist() == pytest.approx([450, 1050])
    # 0.5 and 0.4 of 300 respondents; the -1 row (0.1 of them) counts as invalid
    assert h_young.counts[0, 0].tolist() == pytest.approx([150, 120]) and h_young.n_invalid[0, 0] == pytest.approx(30)
    assert h_young.respondents.tolist() == [300]
    capsys.readouterr()
    rc = import_shares.main(["--input", str(tmp_path / "young.json"), "--output", str(out), "--group", "age=18-29",
                             "--append"])
    assert rc == 2 and "already holds the rows of age=18-29" in capsys.readouterr().err
    rc = import_shares.main(["--input", str(tmp_path / "young.json"), "--output", str(out), "--group", "age=young"])
    assert rc == 2 and "its groups: 18-29, 30-49, 50+" in capsys.readouterr().err
