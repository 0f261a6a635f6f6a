"""Human data: WVS-shaped files -> long table -> counts array, checked against plain-Python counts."""
from __future__ import annotations

import doctest
import json

import numpy as np
import pandas as pd
import pytest
from wvs_fixtures import COUNTRIES, hand_counts, load_script, microdata, specs

from utils.core.human import human_data, wave_map
from utils.core.human import microdata as microdata_module
from utils.core.human.human_data import load_human, read_long_table
from utils.core.human.microdata import count_codes
from utils.core.human.wave_map import WaveItem, load_wave_map, wave_items
from utils.core.errors import UserError

prepare_wvs = load_script("dataset/prepare_wvs.py")


def run_prepare(tmp_path, df, wave=7, name="wv.csv", extra=(), **to_csv):
    src = tmp_path / name
    if name.endswith(".dta"):
        df.to_stata(src, write_index=False)
    else:
        df.to_csv(src, index=False, **to_csv)
    out = tmp_path / f"WV{wave}_{name}.csv"
    rc = prepare_wvs.main(["--wave", str(wave), "--input", str(src), "--output", str(out), *extra])
    return rc, out


def test_doctests():
    for module in (wave_map, microdata_module, human_data):
        assert doctest.testmod(module).failed == 0


def test_wave7_table_matches_hand_counts(tmp_path):
    df = microdata(7)
    rc, out = run_prepare(tmp_path, df)
    assert rc == 0
    table, meta = read_long_table(out)
    assert list(table.columns) == wave_map.LONG_COLUMNS
    expected = hand_counts(df, 7)
    got = {(int(r.country_code), r.item_id, r.option): (int(r.count), float(r.weighted_count))
           for r in table.itertuples()}
    assert got.keys() == expected.keys()
    for key, (n, w) in expected.items():
        assert got[key][0] == n and got[key][1] == pytest.approx(w, abs=1e-6)
    # negative codes are kept apart as "missing", never "valid"
    neg = table[table["option"].astype(int) < 0]
    assert len(neg) and set(neg["status"]) == {"missing"}
    assert set(table.loc[table["option"].astype(int) >= 0, "status"]) == {"valid"}
    assert meta["wave"] == 7 and meta["respondents"] == sum(COUNTRIES.values()) and not meta["synthetic"]
    assert set(table["country"]) == {"China", "Germany", "United States"}


def test_separators_gzip_and_stata_give_the_same_table(tmp_path):
    df = microdata(7, seed=1)
    tables = []
    for name, kw in [("a.csv", {}), ("b.csv", {"sep": ";"}), ("c.dta", {}), ("d.csv.gz", {"sep": "\t"})]:
        rc, out = run_prepare(tmp_path, df, name=name, **kw)
        assert rc == 0, name
        tables.append(pd.read_csv(out))
    for t in tables[1:]:
        pd.testing.assert_frame_equal(tables[0], t)


def test_counts_array_uses_semantic_order_and_weights(tmp_path):
    df = microdata(7, seed=2)
    _, out = run_prepare(tmp_path, df)
    items = ["Q1", "Q122", "Q119"]
    orders = [("1", "2", "3", "4"), ("2", "1", "0"), ("1", "2", "3", "4", "0")]
    h = load_human(out, items, orders)
    assert h.counts.shape == (3, 3, 5) and list(h.country_codes) == sorted(COUNTRIES)
    de = list(h.country_codes).index(276)
    q122 = df.loc[df["B_COUNTRY"] == 276, "Q122"]
    assert h.counts[de, 1].tolist() == [(q122 == 2).sum(), (q122 == 1).sum(), (q122 == 0).sum(), 0, 0]
    assert h.n_invalid[de, 1] == (q122 < 0).sum()
    q119 = df.loc[df["B_COUNTRY"] == 276, "Q119"]
    assert h.counts[de, 2, 4] == (q119 == 0).sum()  # "hard to say" comes last
    hw = load_human(out, items, orders, weights="survey")
    w = df.loc[(df["B_COUNTRY"] == 276) & (df["Q122"] == 2), "W_WEIGHT"].sum()
    assert hw.counts[de, 1, 0] == pytest.approx(w)
    shares = h.shares()
    assert np.allclose(shares[:, :, :].sum(-1), 1)


def test_waves_5_and_6_map_to_wave7_ids(tmp_path):
    for wave in (5, 6):
        df = microdata(wave, seed=wave)
        rc, out = run_prepare(tmp_path, df, wave=wave)
        assert rc == 0
        table, _ = read_long_table(out)
        assert set(table["item_id"]) == {w.id for w in load_wave_map()}
        row = table[(table["item_id"] == "Q18")].iloc[0]
        assert row["variable"] == {6: "V36", 5: "V34"}[wave]
        expected = hand_counts(df, wave)
        got = {(int(r.country_code), r.item_id, r.option): int(r.count) for r in table.itertuples()}
        assert got == {k: n for k, (n, _) in expected.items()}


def test_wave_map_is_complete():
    items = load_wave_map()
    assert len(items) == 75 and items[0].variables == {7: "Q1", 6: "V4", 5: "V4"}
    assert {w.id for w in items} >= {"Q151", "Q250"}
    q = {it.id: it for it in wave_items(7, [], items)}
    assert q["Q183"].variable == "Q183"


def test_recode_is_applied_before_counting():
    spec = wave_items(5, [], [WaveItem("Q9", {7: "Q9", 6: "V1", 5: "V1"}, ("1", "2"), ("1", "2"),
                                       recode={5: {"3": "2"}})])
    df = pd.DataFrame({"V2": [1, 1, 1, 1], "V259": [1.0] * 4, "V1": [1, 3, 2, -1]})
    table = microdata_module.prepare_long_table(df, 5, spec, "V2", "V259", names={1: "A"})
    assert dict(zip(table["option"], table["count"])) == {"1": 1, "2": 2, "-1": 1}


def test_count_codes_matches_python_counter():
    rng = np.random.default_rng(3)
    country = rng.choice([4, 8, 12], 200)
    values = rng.choice([-2, -1, 1, 2, 3, np.nan], size=(200, 4))
    w = rng.random(200)
    c, v, n, wn = count_codes(country, values, w)
    for ci, cc in enumerate(c):
        for j in range(4):
            col = values[country == cc, j]
            for vi, name in enumerate(v):
                hit = np.isnan(col) if name == "NA" else col == float(name)
                assert n[ci, j, vi] == hit.sum()
                assert wn[ci, j, vi] == pytest.approx(w[country == cc][hit].sum())


@pytest.mark.parametrize("drop, message", [("Q5", "no column Q5"), ("W_WEIGHT", "--weight-column none"),
                                            ("B_COUNTRY", "no country column B_COUNTRY; name it with --country-column")])
def test_missing_column_is_one_line(tmp_path, capsys, drop, message):
    rc, _ = run_prepare(tmp_path, microdata(7).drop(columns=[drop]))
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1


@pytest.mark.parametrize("wave, given", [(6, 7), (7, 6), (6, 5)])
def test_another_waves_file_is_named_and_the_suggested_wave_works(tmp_path, capsys, wave, given):
    """Not `--weight-column none` (the wrong file has no weight of that name either), which would
    only lead to a second error: the wave the file is, which then works."""
    rc, _ = run_prepare(tmp_path, microdata(wave), wave=given)
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and f"is a wave {wave} file" in err and f"pass --wave {wave}" in err, err
    assert "--weight-column" not in err
    rc, _ = run_prepare(tmp_path, microdata(wave), wave=wave)
    assert rc == 0


def test_a_prepared_table_given_as_input_is_named(tmp_path, capsys):
    rc, out = run_prepare(tmp_path, microdata(7))
    assert rc == 0
    assert prepare_wvs.main(["--wave", "7", "--input", str(out), "--output", str(tmp_path / "again.csv")]) == 2
    err = capsys.readouterr().err
    assert "is a prepared long table already" in err and f"--human {out}" in err and err.count("\n") == 1


def test_no_weights_mode(tmp_path):
    rc, out = run_prepare(tmp_path, microdata(7).drop(columns=["W_WEIGHT"]), extra=["--weight-column", "none"])
    table, meta = read_long_table(out)
    assert rc == 0 and meta["weight_column"] is None
    assert (table["count"] == table["weighted_count"]).all()


def test_unreadable_and_missing_files(tmp_path, capsys):
    bad = tmp_path / "bad.dta"
    bad.write_bytes(b"\x00\x01not stata")
    assert prepare_wvs.main(["--wave", "7", "--input", str(bad)]) == 2
    assert "cannot read" in capsys.readouterr().err
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert prepare_wvs.main(["--wave", "7", "--input", str(empty)]) == 2
    assert "not a CSV header" in capsys.readouterr().err
    assert prepare_wvs.main(["--wave", "7", "--input", str(tmp_path / "nope.csv")]) == 2
    assert "not found" in capsys.readouterr().err


def test_synthetic_marker_reaches_metadata(tmp_path):
    df = microdata(7)
    df.insert(0, "SYNTHETIC_DATA", 1)
    _, out = run_prepare(tmp_path, df)
    assert json.loads(out.with_suffix(".meta.json").read_text())["synthetic"] is True
    assert load_human(out, ["Q1"], [("1", "2", "3", "4")]).synthetic


def test_aggregated_table_from_another_source(tmp_path):
    path = tmp_path / "other_survey.csv"
    pd.DataFrame({"country_code": [1, 1, 1, 2, 2], "item_id": ["Q1"] * 5, "option": ["1.0", "2", "-1", "1", "2"],
                  "count": [3, 1, 5, 2, 2]}).to_csv(path, index=False)
    h = load_human(path, ["Q1"], [("1", "2", "3", "4")])
    assert h.counts[:, 0].tolist() == [[3, 1, 0, 0], [2, 2, 0, 0]]
    assert h.n_invalid[:, 0].tolist() == [5, 0]
    with pytest.raises(UserError, match="weighted_count"):
        load_human(path, ["Q1"], [("1", "2", "3", "4")], weights="survey")


def test_missing_human_table_says_what_to_run(tmp_path):
    with pytest.raises(UserError, match="prepare_wvs.py"):
        load_human(tmp_path / "none.csv", ["Q1"], [("1", "2")])


def test_wave7_specs_cover_questionnaire_and_mapping():
    ids = [s.id for s in specs(7)]
    assert len(ids) == 145 and ids[-1] == "Q151" and len(set(ids)) == 145


@pytest.mark.parametrize("layout", ["rows", "columns", "integers", "far_apart"])
def test_count_codes_layouts_agree_with_a_counter(layout):
    """Rows or columns first in memory (a data frame's values come column by column), integer
    input, and codes so far apart that they are numbered before counting: the same counts."""
    rng = np.random.default_rng(5)
    country = rng.choice([4, 8, 12], 300)
    choices = [-2, 1, 2, 3, 50_000_000] if layout == "far_apart" else [-2, -1, 1, 2, 3]
    values = rng.choice(choices, size=(300, 5)).astype(np.int64 if layout == "integers" else np.float32)
    if layout != "integers":
        values[rng.random(values.shape) < 0.1] = np.nan
    if layout == "columns":
        values = np.asfortranarray(values)
    w = rng.random(300)
    c, v, n, wn = count_codes(country, values, w)
    assert n.sum() == values.size and len(v) == len(set(v))
    for ci, cc in enumerate(c):
        for j in range(5):
            col = values[country == cc, j].astype(np.float64)
            for vi, name in enumerate(v):
                hit = np.isnan(col) if name == "NA" else col == float(name)
                assert n[ci, j, vi] == hit.sum()
                assert wn[ci, j, vi] == pytest.approx(w[country == cc][hit].sum())


def test_count_codes_refuses_fractions():
    with pytest.raises(UserError, match="whole numbers"):
        count_codes(np.array([1, 1]), np.array([[1.0], [1.5]], dtype=np.float32))


def test_read_microdata_keeps_weights_and_large_codes_exact(tmp_path, caplog):
    """Codes are read as float32, weights as float64; a code past 2**24 (float32 would round it)
    is read again as float64; empty and stray text cells become NaN."""
    path = tmp_path / "wv.csv"
    path.write_text("B_COUNTRY,W_WEIGHT,Q1,Q2,REGION\n"
                    "156,1.234567890123,1,,16777217\n"
                    "156,0.5,2,x,1\n"
                    "276,2,-1,3,840006\n"
                    "276,1,4,4,2\n", encoding="utf-8")
    with caplog.at_level("WARNING"):
        df = microdata_module.read_microdata(path, ["B_COUNTRY", "W_WEIGHT", "Q1", "Q2", "REGION"], exact=("W_WEIGHT",))
    assert "column Q2: 1 cell(s) of text ('x') read as missing" in caplog.text
    assert df["Q1"].dtype == np.float32 and df["W_WEIGHT"].dtype == np.float64
    assert df["W_WEIGHT"].iloc[0] == 1.234567890123
    assert df["REGION"].dtype == np.float64 and df["REGION"].iloc[0] == 16777217
    assert np.isnan(df["Q2"].iloc[0]) and np.isnan(df["Q2"].iloc[1]) and df["Q2"].iloc[2] == 3
    numeric = tmp_path / "numeric.csv"
    numeric.write_text("B_COUNTRY,REGION\n156,16777217\n276,3\n", encoding="utf-8")
    assert microdata_module.read_microdata(numeric, ["B_COUNTRY", "REGION"])["REGION"].iloc[0] == 16777217


@pytest.mark.parametrize("wave", [7, 6])
def test_microdata_passed_as_human_says_what_is_missing_and_what_turns_it_into_the_table(tmp_path, capsys, wave):
    """A raw wave file given as --human (issue 20, §3): the one line names the missing columns and
    the prepare_wvs.py command that makes the table, and that command, run as written, works."""
    raw = tmp_path / f"wvs{wave}.csv"
    microdata(wave).to_csv(raw, index=False)
    script = load_script("show_results/rq1_country_level.py")
    assert script.main(["--human", str(raw), "--results-root", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "lacks column(s) country_code, item_id, option, count" in err
    assert "looks like WVS microdata" in err
    command = err.split("run python ")[1].split(" and pass")[0].split()
    assert command[:2] == ["dataset/prepare_wvs.py", "--wave"] and command[-2:] == ["--input", str(raw)]
    if wave == 7:  # the wave is known from B_COUNTRY: the command runs as given
        assert command[2] == "7"
        out = tmp_path / "WV7.csv"
        assert prepare_wvs.main([*command[1:], "--output", str(out)]) == 0
        assert read_long_table(out)[0]["count"].sum() > 0
    else:  # waves 5 and 6 share V2: the user picks
        assert command[2] == "<5" and "6>" in command


def test_a_table_that_is_not_microdata_gets_no_microdata_hint(tmp_path):
    path = tmp_path / "other.csv"
    pd.DataFrame({"country_code": [1], "item_id": ["Q1"], "answer": ["1"], "n": [3]}).to_csv(path, index=False)
    with pytest.raises(UserError) as exc:
        read_long_table(path)
    assert "lacks column(s) option, count" in str(exc.value) and "microdata" not in str(exc.value)


def test_a_stata_file_is_named_as_microdata(tmp_path):
    path = tmp_path / "WV5.dta"
    microdata(5).to_stata(path, write_index=False)
    with pytest.raises(UserError, match=r"WVS microdata.*prepare_wvs.py --wave <5, 6 or 7> --input"):
        read_long_table(path)


def test_an_empty_table_is_one_line(tmp_path, capsys):
    """Issue 28: an empty human-data file gave pandas' own message; it is one line saying what to do."""
    empty = tmp_path / "WV7.csv"
    empty.write_text("")
    script = load_script("show_results/rq1_country_level.py")
    assert script.main(["--human", str(empty), "--results-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: human data {empty} is empty (not even a header); prepare it again with "
                   "python dataset/prepare_wvs.py --wave 7 --input <WVS file>\n")


def test_a_table_of_another_wave_read_as_wave_7_gets_a_note(tmp_path):
    """Issue 28: a Wave 6 table passed for RQ1 was scored on the 75 items it shares with Wave 7
    without a word; the analyses that mean Wave 7 say so in one note (under either rules),
    rq3_temporal (all waves) not."""
    from utils.analysis.answers import AnswerPolicy
    from utils.analysis.config import AnalysisConfig
    from utils.analysis.paper.rules import PAPER
    from utils.analysis.rules import OURS

    src, table = tmp_path / "wv6.csv", tmp_path / "WV6.csv"
    microdata(6, seed=2).to_csv(src, index=False)
    assert load_script("dataset/prepare_wvs.py").main(["--wave", "6", "--input", str(src), "--output", str(table)]) == 0
    config = AnalysisConfig(human=table, results_root=tmp_path / "none")
    policy = AnswerPolicy()
    OURS.human(config, policy)
    PAPER.human(config, policy)
    assert policy.said.shown() == [
        f"note: {table} holds Wave 6 answers, not Wave 7's: only the items that wave shares with Wave 7 are "
        "compared; pass a Wave 7 table for RQ1 and RQ2 (rq3_temporal.py compares waves)"]  # once
    policy = AnswerPolicy()  # notes are said once per run: a fresh run for the calls that must say none
    OURS.human(config, policy, expected_wave=6)
    OURS.human(config, policy, expected_wave=None)  # RQ3: any wave
    PAPER.human(config, policy, expected_wave=None)
    assert policy.said.shown() == []
