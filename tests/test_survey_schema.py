"""The survey schema on disk (utils/core/survey/files.py) and the WVS expressed in it.

The WVS check is the issue's "no number changed": every share the schema holds for a WVS wave
is recomputed here from the prepared long table with the csv module and the questionnaire read
as plain JSON (an independent reading), and must be the same float.
"""
from __future__ import annotations

import csv
import json
from collections import defaultdict

import numpy as np
import pytest
from wvs_fixtures import ROOT, load_script, microdata

from utils.core.errors import UserError
from utils.core.survey.files import read_survey, write_survey
from utils.core.survey.data import Cell, Item, Option, Survey, SurveyData

import_survey = load_script("dataset/import_survey.py")
prepare_wvs = load_script("dataset/prepare_wvs.py")

SMALL = SurveyData(
    Survey("mini", "1", "made in the test", "none", metric="jsd", policy="drop"),
    (Item("A1", "Safer or more dangerous?", (Option("1", "Safer", 1.0), Option("2", "More dangerous", 2.0),
                                               Option("3", "Neither", 1.5), Option("99", "Refused")),
          "ordinal", ("99",), {"German": "Sicherer oder gefährlicher?"}),
     Item("B2", "Which one?", (Option("a", "Tea"), Option("b", "Coffee")), "nominal")),
    (Cell("United States", "", "", "A1", "1", 0.25, 10.0), Cell("United States", "", "", "A1", "2", 0.5, 20.0),
     Cell("United States", "", "", "A1", "3", 0.25, 10.0), Cell("France", "SEX", "Female", "B2", "a", 0.1),
     Cell("France", "SEX", "Female", "B2", "b", 0.9)))


def test_a_survey_reads_back_as_it_was_written(tmp_path):
    paths = write_survey(SMALL, tmp_path / "out")
    assert [p.name for p in paths] == ["mini.survey.json", "mini.questions.jsonl", "mini.csv"]
    assert read_survey(paths[1]) == SMALL
    first = json.loads(paths[1].read_text(encoding="utf-8").splitlines()[0])
    assert first["options"][2] == {"code": "3", "label": "Neither", "position": 1.5}
    assert first["options"][3]["position"] is None and first["non_substantive"] == ["99"]
    rows = list(csv.reader(paths[2].open(encoding="utf-8")))
    assert rows[0] == ["population", "group_var", "group", "item_id", "option", "share", "count"]
    assert rows[1] == ["United States", "", "", "A1", "1", "0.25", "10"] and rows[4][-1] == ""


@pytest.mark.parametrize("edit, message", [
    (lambda rows: rows[1].__setitem__(5, "0.35"), "mini.csv, line 2: the shares of A1 for United States sum to 1.1"),
    (lambda rows: rows[4].__setitem__(4, "c"), "mini.csv, line 5: option 'c', which item B2 does not score"),
    (lambda rows: rows[1].__setitem__(4, "99"), "mini.csv, line 2: option '99', which item A1 does not score"),
    (lambda rows: rows[2].__setitem__(5, "x"), "mini.csv, line 3: share and count must be numbers"),
])
def test_a_damaged_table_is_one_line_naming_the_file_and_line(tmp_path, edit, message):
    paths = write_survey(SMALL, tmp_path)
    rows = list(csv.reader(paths[2].open(encoding="utf-8")))
    edit(rows)
    with paths[2].open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(UserError) as err:
        read_survey(paths[1])
    assert message in str(err.value) and "\n" not in str(err.value)


def test_an_ordinal_option_without_a_position_is_named(tmp_path):
    paths = write_survey(SMALL, tmp_path)
    paths[1].write_text(paths[1].read_text(encoding="utf-8").replace('"position": 1.5', '"position": null'),
                        encoding="utf-8")
    with pytest.raises(UserError, match=r"line 1: item A1 is ordinal, so option 3 needs a number as its position"):
        read_survey(paths[1])


def test_a_failed_write_leaves_the_files_that_were_there(tmp_path):
    paths = write_survey(SMALL, tmp_path)
    before = [p.read_bytes() for p in paths]
    broken = SurveyData(SMALL.survey, SMALL.items[:1], (Cell("X", "", "", "A1", "1", "not a number"),))
    with pytest.raises(ValueError):
        write_survey(broken, tmp_path)
    assert [p.read_bytes() for p in paths] == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)  # no temporary left


# ------------------------------------------------------------------ the WVS, no number changed

def hand_shares(table, codes: dict[str, list[str]], column: str) -> dict[tuple, float]:
    """(population, group_var, group, item, code) -> share, by summing the table's rows in loops."""
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    total = defaultdict(float)
    for r in rows:
        if r["option"] in codes.get(r["item_id"], []):
            total[(r["country"], r["group_var"], r["group"], r["item_id"])] += float(r[column])
    out = {}
    for r in rows:
        cell = (r["country"], r["group_var"], r["group"], r["item_id"])
        if r["option"] in codes.get(r["item_id"], []) and total[cell] > 0:
            whole = tuple("" if v == "all" else v for v in cell[1:3])
            out[(cell[0], *whole, cell[3], r["option"])] = float(r[column]) / total[cell]
    return out


@pytest.mark.parametrize("wave, group_column", [(7, "Q260"), (6, "V240"), (5, None)])
def test_the_wvs_waves_keep_every_share(tmp_path, wave, group_column):
    df = microdata(wave, seed=wave)
    if group_column:
        df[group_column] = np.random.default_rng(1).choice([1, 2, -2], size=len(df))
    df.to_csv(tmp_path / "raw.csv", index=False)
    table = tmp_path / f"WV{wave}.csv"
    assert prepare_wvs.main(["--wave", str(wave), "--input", str(tmp_path / "raw.csv"), "--output", str(table),
                             "--min-group-n", "1"] + (["--groups", "sex"] if group_column else [])) == 0
    questionnaire = [json.loads(line) for line in (ROOT / "dataset/questions/WV7_English.jsonl").open()]
    codes = {q["id"]: q["choice_keys"] for q in questionnaire}
    for weights, column in (("none", "count"), ("survey", "weighted_count")):
        out = tmp_path / weights
        assert import_survey.main(["--format", "wvs", "--input", str(table), "--output", str(out),
                                   "--weights", weights]) == 0
        data = read_survey(out / f"wvs{wave}.questions.jsonl")
        got = {(c.population, c.group_var, c.group, c.item_id, c.option): c.share for c in data.cells}
        expected = hand_shares(table, codes, column)
        assert got.keys() == expected.keys()
        assert all(got[k] == expected[k] for k in got) if weights == "none" else \
            max(abs(got[k] - expected[k]) for k in got) < 1e-12
    assert data.survey.name == f"wvs{wave}" and data.survey.metric == "w1" and data.survey.policy == "keep"
    assert {g for _, g, *_ in got} == ({"", "sex"} if group_column else {""})
    by_id = {i.id: i for i in data.items}
    order = {q["id"]: q["order"] for q in questionnaire}
    for item in data.items:  # positions are the ranks in the semantic order, as 1 - W1/(N-1) walks them
        if item.scale == "ordinal":
            assert [o.position for o in item.options] == [order[item.id].index(o.code) + 1.0 for o in item.options]
    if wave == 7:
        assert [o.code for o in by_id["Q122"].options] == ["2", "1", "0"] and by_id["Q122"].non_substantive == ("1",)
        assert by_id["Q119"].non_substantive == ("0",) and by_id["Q119"].options[-1].position == 5.0


def test_published_shares_join_the_schema(tmp_path):
    """dataset/import_shares.py's table (shares, `n` where the source gave it) through --format wvs:
    shares renormalized over the item's codes (the -1 "don't know" out), counts the share of n."""
    source = tmp_path / "shares.json"
    source.write_text(json.dumps({"DEU": {"Q57": {"1": 0.26, "2": 0.71, "-1": 0.03},
                                          "Q1": {"shares": {"1": 60, "2": 30, "3": 8, "4": 2}, "n": 1500}},
                                  "156": {"Q57": {"shares": {"1": 62.1, "2": 37.9}, "n": 2993}}}))
    table = tmp_path / "shares.csv"
    assert load_script("dataset/import_shares.py").main(["--input", str(source), "--output", str(table)]) == 0
    assert load_script("dataset/import_survey.py").main(["--format", "wvs", "--input", str(table),
                                                         "--output", str(tmp_path / "out")]) == 0
    data = read_survey(tmp_path / "out" / "wvs7.questions.jsonl")
    got = {(c.population, c.item_id, c.option): (c.share, c.count) for c in data.cells}
    want = {("Germany", "Q57", "1"): (0.26 / 0.97, None), ("Germany", "Q57", "2"): (0.71 / 0.97, None),
                                 ("Germany", "Q1", "1"): (0.6, 900), ("Germany", "Q1", "2"): (0.3, 450),
                                 ("Germany", "Q1", "3"): (0.08, 120), ("Germany", "Q1", "4"): (0.02, 30),
                                 ("China", "Q57", "1"): (0.621, 0.621 * 2993),
                                 ("China", "Q57", "2"): (0.379, 0.379 * 2993)}
    assert got.keys() == want.keys()
    for key, (share, count) in want.items():
        assert got[key][0] == pytest.approx(share) and (got[key][1] == pytest.approx(count) if count else
                                                        got[key][1] is None), key
    assert data.survey.source == "published shares (shares.csv, dataset/import_shares.py)"
