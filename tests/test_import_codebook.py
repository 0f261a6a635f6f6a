"""dataset/import_survey.py --format codebook: microdata and a codebook (TOML or JSON) -> the schema.

The microdata are made here (two countries, weights, missing codes, a code the codebook does not
list, a "don't know" that the policy drops, a group variable), saved as CSV and as Stata; the
expected weighted shares and counts are summed here row by row.
"""
from __future__ import annotations

import json
import tomllib

import numpy as np
import pandas as pd
import pytest
from wvs_fixtures import ROOT, load_script

from utils.core.survey.files import read_survey

import_survey = load_script("dataset/import_survey.py")

CODEBOOK = """
[survey]
name = "evsmini"
wave = "2017"
source = "made in the test"
licence = "none"
metric = "w1"
non_substantive_policy = "drop"

[data]
population = "country"
weight = "gweight"
missing = [-1, -2, -5]
populations = {276 = "Germany"}

[groups.sex]
variable = "v225"
labels = {1 = "male", 2 = "female"}

[answers.importance]
scale = "ordinal"
options = [[1, "Very important"], [2, "Quite important"], [3, "Not important"], [4, "Not at all important"]]

[items.v1]
question = "How important is work in your life?"
answers = "importance"

[items.agree]
variable = "v72"
question = "When a mother works for pay, the children suffer."
[items.agree.answers]
scale = "ordinal"
non_substantive = [8]
options = [[1, "Agree"], [3, "Neither", 1.5], [2, "Disagree"], [8, "Don't know"]]
"""


def microdata(seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 400
    return pd.DataFrame({
        "COUNTRY": rng.choice([276, 40], n), "gweight": np.round(rng.uniform(0.3, 2.0, n), 4),
        "v1": rng.choice([1, 2, 3, 4, -1, -2], n, p=[.3, .3, .2, .1, .05, .05]),
        "v72": rng.choice([1, 2, 3, 8, -5, 7], n, p=[.3, .3, .2, .1, .05, .05]),
        "v225": rng.choice([1, 2, -2], n, p=[.45, .45, .1])})


def hand_cells(df) -> dict:
    """(population, group_var, group, item, code) -> (weighted share, respondents), by walking rows."""
    items = {"v1": ("v1", ["1", "2", "3", "4"]), "agree": ("v72", ["1", "3", "2"])}  # 8: dropped by the policy
    sums: dict = {}
    for _, r in df.iterrows():
        pop = {276: "Germany", 40: "40"}[int(r["COUNTRY"])]
        sex = {1: "male", 2: "female"}.get(int(r["v225"]))
        for item, (var, codes) in items.items():
            code = str(int(r[var]))
            if code in codes:
                for cell in [(pop, "", "", item)] + ([(pop, "sex", sex, item)] if sex else []):
                    entry = sums.setdefault(cell, {c: [0.0, 0] for c in codes})
                    entry[code][0] += r["gweight"]
                    entry[code][1] += 1
    return {(*cell, code): (w / sum(v[0] for v in entry.values()), n)
            for cell, entry in sums.items() for code, (w, n) in entry.items()}


@pytest.mark.parametrize("book_kind, data_kind", [("toml", "csv"), ("json", "dta")])
def test_microdata_become_the_schema(tmp_path, capsys, book_kind, data_kind):
    df = microdata()
    book = tmp_path / f"evs.{book_kind}"
    book.write_text(CODEBOOK if book_kind == "toml" else json.dumps(tomllib.loads(CODEBOOK)), encoding="utf-8")
    data_path = tmp_path / f"za7500.{data_kind}"
    if data_kind == "csv":  # names matched whatever their case in the file; `;` found as the separator
        df.rename(columns=str.upper).to_csv(data_path, index=False, sep=";")
    else:
        df.to_stata(data_path, write_index=False)
    assert import_survey.main(["--format", "codebook", "--codebook", str(book), "--input", str(data_path),
                               "--output", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    data = read_survey(tmp_path / "out" / "evsmini.questions.jsonl")
    got = {(c.population, c.group_var, c.group, c.item_id, c.option): (c.share, c.count) for c in data.cells}
    expected = hand_cells(df)
    assert got.keys() == expected.keys()
    for k, (share, n) in expected.items():
        assert got[k][0] == pytest.approx(share, abs=1e-12) and got[k][1] == n, k
    agree = {i.id: i for i in data.items}["agree"]
    assert [(o.code, o.position) for o in agree.options] == [("1", 1.0), ("3", 1.5), ("2", 3.0), ("8", None)]
    assert agree.non_substantive == ("8",) and data.survey.policy == "drop" and data.survey.wave == "2017"
    stray = int((df["v72"] == 7).sum())
    assert f"answers with codes the codebook does not list, left out: agree ({stray})" in printed


@pytest.mark.parametrize("edit, message", [
    (lambda text: text.replace('weight = "gweight"', 'weight = "wght"'), "has no column wght; the codebook names"),
    (lambda text: text.replace('population = "country"', ''), "needs [survey], [data] with population"),
    (lambda text: text.replace('answers = "importance"', 'answers = "importanse"'),
     "item v1: answers must name an [answers.<name>] table"),
    (lambda text: text.replace('metric = "w1"', 'metric = "w2"'), "metric must be one of w1, jsd, tvd"),
    (lambda text: text + "[oops", "is not valid TOML"),
    (lambda text: text.replace('labels = {1 = "male", 2 = "female"}', ''), "each [groups.<name>] needs variable and labels"),
    (lambda text: text.replace('[3, "Neither", 1.5]', '[3, "Neither", "middle"]'),
     "item agree: an option is [code, label] or [code, label, position]"),
])
def test_a_wrong_codebook_is_one_line(tmp_path, capsys, edit, message):
    microdata().to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "evs.toml").write_text(edit(CODEBOOK), encoding="utf-8")
    assert import_survey.main(["--format", "codebook", "--codebook", str(tmp_path / "evs.toml"),
                               "--input", str(tmp_path / "d.csv"), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and not (tmp_path / "out").exists()


def test_a_missing_microdata_file_is_one_line(tmp_path, capsys):
    (tmp_path / "evs.toml").write_text(CODEBOOK, encoding="utf-8")
    assert import_survey.main(["--format", "codebook", "--codebook", str(tmp_path / "evs.toml"),
                               "--input", str(tmp_path / "none.dta"), "--output", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"error: input file {tmp_path / 'none.dta'} not found\n"


def test_the_worked_codebook_of_the_docs_imports(tmp_path, capsys):
    text = (ROOT / "docs" / "surveys.md").read_text(encoding="utf-8")
    (tmp_path / "evs2017.toml").write_text(text.split("```toml\n", 1)[1].split("```", 1)[0], encoding="utf-8")
    rng = np.random.default_rng(3)
    n = 300
    pd.DataFrame({"country": rng.choice([276, 40, 999], n), "gweight": rng.uniform(0.5, 1.5, n),
                  "v225": rng.choice([1, 2], n), "v72": rng.choice([1, 2, 3, 4, -2], n),
                  "v80": rng.choice([1, 2, 3, 4, 5, -1], n)}).to_stata(tmp_path / "ZA7500.dta", write_index=False)
    assert import_survey.main(["--format", "codebook", "--codebook", str(tmp_path / "evs2017.toml"),
                               "--input", str(tmp_path / "ZA7500.dta"), "--output", str(tmp_path / "out")]) == 0
    data = read_survey(tmp_path / "out" / "evs2017.questions.jsonl")
    assert {c.population for c in data.cells} == {"Germany", "Austria", "999"}
    assert [i.id for i in data.items] == ["v72", "v80"] and {c.group for c in data.cells} == {"", "male", "female"}
