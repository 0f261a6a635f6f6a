"""dataset/import_survey.py --format opinionqa on a wave folder written in OpinionQA's real format.

The files copy the shapes of the released American_Trends_Panel_W26 folder: info.csv with its
two unnamed index columns and Python text in the cells (a label with an apostrophe in double
quotes), group files whose MC_options are split at every comma as in the release, an
intersectional file nested party -> race with its `marginals`, an empty group and `Refused`
labels, and a NONE_data.json that holds party groups. The expected shares are worked out here
from the same dictionaries with plain loops.
"""
from __future__ import annotations

import json

import pytest
from survey_fixtures import NONE, PARTY_RACE, QUESTIONS, SEX, mc_options, write_wave  # noqa: F401
from wvs_fixtures import load_script

from utils.core.survey.files import read_survey

import_survey = load_script("dataset/import_survey.py")

def expected_cells():
    """(group_var, group, item, code) -> (share, count), refusals out and renormalized, by hand."""
    code = {key: {label: str(int(c)) for c, label in opts} for key, (_, opts, _) in QUESTIONS.items()}

    def cell(out, var, group, key, answers):
        kept = {lab: n for lab, n in answers.items() if lab != "Refused"}
        total = sum(kept.values())
        if total == 0:
            return
        for _, label in QUESTIONS[key][1][:-1]:
            out[(var, group, key, code[key][label])] = (kept.get(label, 0.0) / total, kept.get(label, 0.0))

    out = {}
    for key, groups in SEX.items():
        whole = {}
        for group, answers in groups.items():
            for lab, n in answers.items():
                whole[lab] = whole.get(lab, 0.0) + n
            if group != "nan":
                cell(out, "SEX", group, key, answers)
        cell(out, "", "", key, whole)
    for party, races in PARTY_RACE["SAFECRIME_W26"].items():
        for race, answers in races.items():
            if party not in ("marginals", "Refused") and race != "Refused":
                cell(out, "POLPARTY_RACE", f"{party}/{race}", "SAFECRIME_W26", answers)
    return out


def test_a_wave_folder_becomes_the_schema(tmp_path, capsys):
    write_wave(tmp_path / "human_resp" / "American_Trends_Panel_W26")
    out = tmp_path / "out"
    assert import_survey.main(["--format", "opinionqa", "--input", str(tmp_path / "human_resp"),
                               "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    data = read_survey(out / "opinionqa.questions.jsonl")
    got = {(c.group_var, c.group, c.item_id, c.option): (c.share, c.count) for c in data.cells}
    expected = expected_cells()
    assert got.keys() == expected.keys()
    for k, (share, count) in expected.items():
        assert got[k][0] == pytest.approx(share, abs=1e-12) and got[k][1] == count, k
    assert {c.population for c in data.cells} == {"United States"}
    assert data.survey.wave == "26" and data.survey.metric == "w1" and data.survey.policy == "drop"
    items = {i.id: i for i in data.items}
    assert list(items) == ["SAFECRIME_W26", "WORLDDANGER_W26", "GUN_W26", "IMPREASONGUN_W26"]  # EXTRA: no answers
    assert [(o.code, o.position) for o in items["WORLDDANGER_W26"].options] == \
        [("1", 1.0), ("2", 2.0), ("3", 1.5), ("99", None)]
    assert items["GUN_W26"].options[1].label == "No, I don't own any guns"
    assert items["IMPREASONGUN_W26"].scale == "nominal" and items["SAFECRIME_W26"].non_substantive == ("99",)
    # nan, Democrat/Refused, Refused/White
    assert "group cells whose label is no group (nan, Refused), left out: 3" in printed
    assert "items without answers in any group file (left out): 1" in printed
    assert "group cells with no answer but refusals (left out): 2" in printed  # Mixed Race {}, Black: refusal only


def test_a_malformed_option_ordinal_is_one_line_naming_file_and_row(tmp_path, capsys):
    write_wave(tmp_path / "W26", ordinal_override={"GUN_W26": "[1.0, 2.0"})
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "opinionqa.csv").write_text("kept\n")
    assert import_survey.main(["--format", "opinionqa", "--input", str(tmp_path / "W26"),
                               "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{tmp_path / 'W26' / 'info.csv'}, line 4 (GUN_W26): option_ordinal" in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["opinionqa.csv"]
    assert (tmp_path / "out" / "opinionqa.csv").read_text() == "kept\n"


def test_a_group_file_without_mc_options_is_named(tmp_path, capsys):
    write_wave(tmp_path / "W26")
    body = json.loads((tmp_path / "W26" / "SEX_data.json").read_text())
    del body["GUN_W26"]["MC_options"]
    (tmp_path / "W26" / "SEX_data.json").write_text(json.dumps(body))
    assert import_survey.main(["--format", "opinionqa", "--input", str(tmp_path / "W26"),
                               "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path / 'W26' / 'SEX_data.json'}: question GUN_W26 has no MC_options; " \
                  "is it an OpinionQA group file?\n"
    assert not (tmp_path / "out").exists()


def test_a_folder_without_info_csv_is_one_line(tmp_path, capsys):
    assert import_survey.main(["--format", "opinionqa", "--input", str(tmp_path / "nowhere"),
                               "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no info.csv" in err
