"""OpinionQA's human data in its real format, written by tests: a wave folder (info.csv and the
per-attribute group files) with the shapes of the released American_Trends_Panel_W26 folder.

Used by the importer's tests and by those that ask and score an imported survey end to end.
"""
from __future__ import annotations

import csv
import json

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
