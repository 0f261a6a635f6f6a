"""dataset/import_survey.py --format globalopinionqa on a global_opinions.csv written in the real format.

The real file has the columns question, selections, options, source; `selections` is the repr
of a defaultdict of lists (`defaultdict(<class 'list'>, {'Belgium': [0.21, ...], ...})`) and
`options` the repr of a list, so this test writes both with repr() of the same Python objects
it then checks the shares against.
"""
from __future__ import annotations

import csv
import hashlib
from collections import defaultdict

import pytest
from wvs_fixtures import load_script

from utils.core.survey.files import read_survey

import_survey = load_script("dataset/import_survey.py")

GERMANY = "When it comes to Germany's decision-making in the European Union, do you think Germany has"
ROWS = [  # (question, {country: shares}, options, source)
    (GERMANY, {"Belgium": [0.21, 0.07, 0.69, 0.03], "France": [0.35, 0.09, 0.54, 0.02],
               "Côte d'Ivoire": [0.5, 0, 0.5, 0]},
     ["Too much influence", "Too little influence", "About the right amount of influence", "DK/Refused"], "GAS"),
    ("How important is family in your life?", {"Nigeria": [0.9, 0.06, 0.02, 0.01, 0.0]},
     ["Very important", "Rather important", "Not very important", "Not at all important", "Don't know"], "WVS"),
    ("Do you agree?", {"Peru": [0.5, 0.3, 0.2]}, ["Yes", "No", "Yes"], "GAS"),  # repeated option
    ("Is it merged?", {"Chile": [0.5, 0.5], "Peru": [0.2, 0.5, 0.3]}, ["Yes", "No", "Maybe"], "GAS"),
    ("Do shares add up?", {"Chile": [0.5, 0.3], "Peru": [0.4, 0.6]}, ["Yes", "No"], "GAS"),  # Chile: 0.8
    (GERMANY, {"Italy": [0.4, 0.6]}, ["Too much", "Not too much"], "GAS"),  # the same text asked again
]


def write_csv(path, rows=ROWS, raw=None):
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["question", "selections", "options", "source"])
        for q, sel, opts, src in rows:
            w.writerow([q, repr(defaultdict(list, sel)), repr(opts), src])
        if raw:
            w.writerow(raw)


def test_the_csv_becomes_the_schema(tmp_path, capsys):
    write_csv(tmp_path / "global_opinions.csv")
    assert import_survey.main(["--format", "globalopinionqa", "--input", str(tmp_path / "global_opinions.csv"),
                               "--output", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out.splitlines()
    data = read_survey(tmp_path / "out" / "globalopinionqa.questions.jsonl")
    germany = "GAS_" + hashlib.sha1(GERMANY.encode()).hexdigest()[:10]
    family = "WVS_" + hashlib.sha1(b"How important is family in your life?").hexdigest()[:10]
    assert [i.id for i in data.items] == [germany, family, germany + "_2"]
    expected = {}
    for item_id, (_, sel, opts, _) in zip([germany, family, germany + "_2"], [ROWS[0], ROWS[1], ROWS[5]]):
        for country, shares in sel.items():
            for k, s in enumerate(shares):
                expected[(country, item_id, str(k + 1))] = s / sum(shares)
    got = {(c.population, c.item_id, c.option): c.share for c in data.cells}
    assert got.keys() == expected.keys()
    assert all(got[k] == pytest.approx(v, abs=1e-12) for k, v in expected.items())
    assert all(c.count is None and c.group_var == "" for c in data.cells)
    items = {i.id: i for i in data.items}
    assert [o.label for o in items[family].options][-1] == "Don't know" and items[family].non_substantive == ("5",)
    assert items[germany].non_substantive == ("4",) and items[germany].scale == "nominal"
    assert all(o.position is None for o in items[germany].options)
    assert data.survey.metric == "jsd" and data.survey.policy == "keep" and "CC BY-NC-SA 4.0" in data.survey.licence
    left_out = [line for line in printed if "left out" in line]
    assert len(left_out) == 3
    assert "line 4: left out: options repeat" in left_out[0]
    assert "line 5: left out: Chile has 2 shares for 3 options (merged options?)" in left_out[1]
    assert "line 6: left out: Chile's shares [0.5, 0.3] are not fractions summing to about 1" in left_out[2]
    assert "1 question text(s) seen again got _2, _3, ... after their id" in printed


@pytest.mark.parametrize("cell", ["defaultdict(<class 'list'>, {'Belgium': [0.5, 0.5}",
                                  "__import__('os').system('touch EVALUATED')",
                                  "{'Belgium': 'half'}", "{'Belgium': -[0.5, 0.5]}", "{'Belgium': [0.5, True]}"])
def test_a_malformed_selections_cell_is_one_line_and_never_run(tmp_path, capsys, monkeypatch, cell):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "g.csv", ROWS[:2], raw=["Broken?", cell, "['Yes', 'No']", "GAS"])
    assert import_survey.main(["--format", "globalopinionqa", "--input", str(tmp_path / "g.csv"),
                               "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {tmp_path / 'g.csv'}, line 4: ")
    assert not (tmp_path / "out").exists() and not (tmp_path / "EVALUATED").exists()


def test_a_missing_file_is_one_line(tmp_path, capsys):
    assert import_survey.main(["--format", "globalopinionqa", "--input", str(tmp_path / "none.csv"),
                               "--output", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'none.csv'} not found; pass GlobalOpinionQA's " \
                                      "global_opinions.csv\n"
