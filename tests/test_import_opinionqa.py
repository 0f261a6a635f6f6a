"""dataset/import_survey.py --format opinionqa on a wave folder written in OpinionQA's real format.

The files copy the shapes of the released American_Trends_Panel_W26 folder: info.csv with its
two unnamed index columns and Python text in the cells (a label with an apostrophe in double
quotes), group files whose MC_options are split at every comma as in the release, an
intersectional file nested party -> race with its `marginals`, an empty group and `Refused`
labels, and a NONE_data.json that holds party groups. The expected shares are worked out here
from the same dictionaries with plain loops.
"""
from __future__ import annotations

import csv
import json

import pytest
from wvs_fixtures import load_script

from utils.core.survey.files import read_survey

import_survey = load_script("dataset/import_survey.py")

QUESTIONS = {  # key: (question, [(code, label)], option_ordinal as the file writes it)
    "SAFECRIME_W26": ("How safe, if at all, would you say your local community is from crime? Would you say it is",
                      [(1.0, "Very safe"), (2.0, "Somewhat safe"), (3.0, "Not too safe"), (4.0, "Not at all safe"),
                       (99.0, "Refused")], "[1.0, 2.0, 3.0, 4.0]"),
    "WORLDDANGER_W26": ("Compared to 50 years ago, do you think",
                        [(1.0, "We live in a safer world"), (2.0, "We live in a more dangerous world"),
                         (3.0, "The world we live in is neither safer nor more dangerous"), (99.0, "Refused")],
                        "[1.0, 2.0, 1.5]"),
    "GUN_W26": ("Do you personally own any guns (not including air guns, such as paintball, BB or pellet guns)?",
                [(1.0, "Yes, I own a gun"), (2.0, "No, I don't own any guns"), (99.0, "Refused")], "[1.0, 2.0]"),
    "IMPREASONGUN_W26": ("Which of the following is the most important reason why you own a gun?",
                         [(1.0, "For protection"), (2.0, "For hunting"), (3.0, "For my job"), (99.0, "Refused")],
                         "[1, 1, 1]"),
    "EXTRA_W26": ("A question no group file answers", [(1.0, "Yes"), (2.0, "No"), (99.0, "Refused")], "[1.0, 2.0]"),
}
SEX = {  # question -> group -> answers by option text ("nan": a label that is no group)
    "SAFECRIME_W26": {"Female": {"Not at all safe": 62.0, "Not too safe": 289.0, "Refused": 6.0,
                                 "Somewhat safe": 1243.0, "Very safe": 510.0},
                      "Male": {"Not at all safe": 47.0, "Not too safe": 205.0, "Refused": 4.0, "Somewhat safe": 1143.0,
                               "Very safe": 659.0},
                      "nan": {"Very safe": 3.0, "Refused": 1.0}},
    "WORLDDANGER_W26": {"Female": {"Refused": 5.0, "The world we live in is neither safer nor more dangerous": 394.0,
                                   "We live in a more dangerous world": 1579.0, "We live in a safer world": 132.0},
                        "Male": {"Refused": 6.0, "The world we live in is neither safer nor more dangerous": 432.0,
                                 "We live in a more dangerous world": 1349.0, "We live in a safer world": 271.0}},
    "GUN_W26": {"Female": {"No, I don't own any guns": 1645.0, "Refused": 28.0, "Yes, I own a gun": 437.0},
                "Male": {"No, I don't own any guns": 1138.0, "Refused": 28.0, "Yes, I own a gun": 892.0}},
    "IMPREASONGUN_W26": {"Female": {"For protection": 300.0, "For hunting": 50.0, "For my job": 10.0},
                         "Male": {"For protection": 500.0, "For hunting": 200.0, "Refused": 4.0}},
}
PARTY_RACE = {"SAFECRIME_W26": {
    "Democrat": {"Asian": {"Not at all safe": 3.0, "Not too safe": 8.0, "Somewhat safe": 28.0, "Very safe": 9.0},
                 "Refused": {"Somewhat safe": 4.0},
                 "White": {"Refused": 2.0, "Somewhat safe": 625.0, "Very safe": 335.0}},
    "Republican": {"Mixed Race": {}, "White": {"Not too safe": 105.0, "Refused": 1.0, "Very safe": 337.0},
                   "Black": {"Refused": 1.0}},
    "Refused": {"White": {"Very safe": 7.0}},
    "marginals": {"Democrat": {"Very safe": 385.0}, "White": {"Very safe": 1036.0}}}}
NONE = {"SAFECRIME_W26": {"Democrat": {"Very safe": 385.0}, "Republican": {"Very safe": 354.0}}}


def mc_options(labels):
    """MC_options as the release writes them: the option list split at every comma."""
    return [part.strip() for label in labels for part in label.split(",")]


def write_wave(folder, questions=QUESTIONS, ordinal_override=None):
    folder.mkdir(parents=True)
    with (folder / "info.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["", "Unnamed: 0.1", "Unnamed: 0", "key", "option_mapping", "question", "references",
                    "option_ordinal"])
        for n, (key, (question, options, ordinal)) in enumerate(questions.items()):
            mapping = "{" + ", ".join(f"{code!r}: {label!r}" for code, label in options) + "}"
            w.writerow([n, n, n, key, mapping, question, repr([label for _, label in options]),
                        (ordinal_override or {}).get(key, ordinal)])

    def group_file(name, groups):
        body = {key: {"MC_options": mc_options([lab for _, lab in QUESTIONS[key][1]]),
                      "question_text": QUESTIONS[key][0], **by_group} for key, by_group in groups.items()}
        (folder / f"{name}_data.json").write_text(json.dumps(body), encoding="utf-8")

    group_file("SEX", SEX)
    group_file("POLPARTY_RACE", PARTY_RACE)
    group_file("NONE", NONE)


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
