"""RQ2 steering toward a group inside the country (`--group age=18-29`): phrases for every
language, one condition per group with its own folder and identity columns, few-shot examples
from the group's own shares (checked against shares counted by hand), and one-line errors."""
from __future__ import annotations

import ast
import csv
import json
import re

import numpy as np
import pytest
from wvs_fixtures import group_microdata, load_script

from utils.core.groups import load_group_vars
from utils.core.errors import UserError
from utils.core.paths import INPUTS_DIR
from utils.probing.cli import local_config
from utils.probing.conditions import steering_countries
from utils.probing.group_steering import group_phrases
from utils.probing.prompts import PHRASE_KEYS
from utils.core.results.schema import COLUMNS, VERSIONS
from utils.probing.results_store import ResultStore

LEGACY_COLUMNS = VERSIONS[2]  # before the group columns
from utils.probing.grid import plan_for
from utils.probing.loop import plan_conditions

PHRASES = INPUTS_DIR / "groups" / "phrases"
ALL_GROUPS = [(v.name, label) for v in load_group_vars().values() for label in v.labels]


def conditions(*argv: str):
    return plan_for(local_config(list(argv), "RQ2")).conditions


@pytest.mark.parametrize("language", sorted({"English"} | {c["language"] for c in steering_countries().values()}))
def test_every_group_has_whole_phrases_in_every_language(language):
    data = json.loads((PHRASES / f"{language}.json").read_text(encoding="utf-8"))
    countries = [c for c, info in steering_countries().items() if language in ("English", info["language"])]
    assert sorted(data["places"]) == sorted(countries)
    assert sorted(data["groups"]) == sorted(f"{v}={g}" for v, g in ALL_GROUPS)
    for country in countries:
        seen = set()
        for group in ALL_GROUPS:
            phrases = group_phrases(language, country, group)
            assert set(phrases) == set(PHRASE_KEYS)
            for text in phrases.values():  # the place is filled in, no slot is left
                assert data["places"][country] in text and "$" not in text
            seen.add(phrases["people"])
        assert len(seen) == len(ALL_GROUPS)  # every group is named differently


@pytest.mark.parametrize("people, says", [("$plac people", "'plac'"), ("people of 5 $", "Invalid placeholder")])
def test_a_misspelt_slot_in_a_group_phrase_is_one_line(tmp_path, people, says):
    """A hand-edited phrase file: a slot that is not $place must stop the run, never reach a prompt as written."""
    path = tmp_path / "groups" / "phrases" / "English.json"
    path.parent.mkdir(parents=True)
    forms = {"people": people, "respondent": "a respondent in $place", "group": "a group in $place"}
    path.write_text(json.dumps({"places": {"Japan": "Japan"}, "groups": {"sex=female": forms}}), encoding="utf-8")
    with pytest.raises(UserError) as exc:
        group_phrases("English", "Japan", ("sex", "female"), tmp_path)
    message = str(exc.value)
    assert message.startswith(f"{path}: a phrase has an unknown slot or a lone $ (") and says in message
    assert message.endswith("its slots: $place") and "\n" not in message
    forms["people"] = "women in $place"
    path.write_text(json.dumps({"places": {"Japan": "Japan"}, "groups": {"sex=female": forms}}), encoding="utf-8")
    assert group_phrases("English", "Japan", ("sex", "female"), tmp_path)["people"] == "women in Japan"


def test_each_group_is_its_own_condition(tmp_path):
    conds = conditions("--country", "Japan", "--steering_method", "persona", "--group", "age=18-29",
                       "--group", "sex=female", "--limit", "2")
    assert [c.spec.condition_folder() for c in conds] == [("RQ2", "persona", "Japan", "age=18-29"),
                                                          ("RQ2", "persona", "Japan", "sex=female")]
    assert [c.spec.group for c in conds] == [("age", "18-29"), ("sex", "female")]
    text = conds[0].requests[0].messages[-1].content
    assert "a respondent aged 18 to 29 in Japan would choose" in text
    assert "a female respondent in Japan would choose" in conds[1].requests[0].messages[-1].content
    # the paper's condition is unchanged by the new option
    plain = conditions("--country", "Japan", "--steering_method", "persona", "--limit", "2")[0]
    assert plain.spec.condition_folder() == ("RQ2", "persona", "Japan") and plain.spec.group is None
    assert "a Japanese respondent would choose" in plain.requests[0].messages[-1].content
    config = local_config(["--country", "Japan", "--steering_method", "persona", "--group", "age=18-29",
                           "--results-root", str(tmp_path)], "RQ2")
    plan = plan_conditions(config, plan_for(config), "org/m")[0]
    assert plan.out_dir == tmp_path / "RQ2" / "persona" / "Japan" / "age=18-29" / "org" / "m"
    assert plan.spec.group == ("age", "18-29") and plan.spec.columns()["group_var"] == "age"


def test_language_form_names_the_group_in_the_language():
    cond = conditions("--country", "Germany", "--steering_method", "language_persona", "--group", "settlement=rural",
                      "--limit", "1")[0]
    assert "eine befragte Person, die in Deutschland auf dem Land lebt" in cond.requests[0].messages[-1].content


def shown_examples(text: str) -> list[dict[str, float]]:
    """The percentages of every example reply in a rendered prompt."""
    return [{k: float(v.rstrip("%")) for k, v in ast.literal_eval(m).items()}
            for m in re.findall(r"\{'[^}]*%'\}", text)]


def test_few_shot_examples_are_the_groups_own_shares(tmp_path):
    df = group_microdata(countries={276: 400})
    src, human = tmp_path / "wvs.csv", tmp_path / "WV7.csv"
    df.to_csv(src, index=False)
    assert load_script("dataset/prepare_wvs.py").main(["--wave", "7", "--input", str(src), "--output", str(human),
                                                       "--groups", "sex", "--min-group-n", "10"]) == 0
    cond = conditions("--country", "Germany", "--steering_method", "few-shot", "--group", "sex=female",
                      "--human", str(human), "--limit", "1")[0]
    text = cond.requests[0].messages[-1].content
    assert "a group of women in Germany" in text
    items = [ex["id"] for ex in json.loads((INPUTS_DIR / "few_shot" / "Germany.json").read_text())["items"]]
    women = df[df["Q260"] == 2]
    examples = shown_examples(text)
    assert len(examples) == len(items)
    for item, shown in zip(items, examples):
        valid = women[item][women[item] > 0]  # the item's options are its positive codes
        expected = {str(code): round(100 * n / len(valid), 2) for code, n in valid.value_counts().items()}
        assert {k: v for k, v in shown.items() if v} == pytest.approx(expected, abs=1e-9)
    # without --human the examples are the country's published shares, as in the paper
    paper = conditions("--country", "Germany", "--steering_method", "few-shot", "--group", "sex=female",
                       "--limit", "1")[0]
    published = json.loads((INPUTS_DIR / "few_shot" / "Germany.json").read_text())["items"]
    assert shown_examples(paper.requests[0].messages[-1].content) == [ex["percentages"] for ex in published]


@pytest.mark.parametrize("argv, message", [
    (["--group", "age=old"], "group variable age has no group 'old'; its groups: 18-29, 30-49, 50+"),
    (["--group", "height=tall"], "unknown group variable height; known: sex, age, education, settlement, income"),
    (["--group", "age"], "a group is VARIABLE=LABEL, e.g. age=18-29"),
    (["--steering_method", "language", "--group", "age=18-29"], "which steering method language does not do"),
    (["--human", "x.csv"], "--human feeds the few-shot examples of --group"),
])
def test_bad_group_input_is_one_line(argv, message):
    argv = ["--country", "Japan", "--limit", "1"] + (["--steering_method", "persona"] if "--steering_method" not in argv
                                                     else []) + argv
    with pytest.raises(UserError, match=re.escape(message)):
        conditions(*argv)


def test_files_before_the_group_columns_are_read_and_upgraded(tmp_path):
    path = tmp_path / "results.csv"
    row = dict.fromkeys(LEGACY_COLUMNS, "") | {"id": "Q1", "choice_keys": "['1', '2']", "status": "ok",
                                                "response": "{'1': '50%', '2': '50%'}", "method": "logprob",
                                                "distribution": '{"1": 0.5, "2": 0.5}', "attempts": "1",
                                                "experiment": "RQ2", "model": "m", "steering_method": "persona"}
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(LEGACY_COLUMNS)
        writer.writerow([row[c] for c in LEGACY_COLUMNS])
    with ResultStore(path) as store:
        assert store.rows["Q1"]["group_var"] == "" and store.rows["Q1"]["status"] == "ok"
    with open(path, newline="", encoding="utf-8") as fh:
        records = list(csv.reader(fh))
    assert tuple(records[0]) == COLUMNS and {"group_var", "group"} <= set(COLUMNS)
    assert dict(zip(records[0], records[1]))["response"] == row["response"]
    assert np.array_equal(np.array(records[1][:len(LEGACY_COLUMNS)]), np.array([row[c] for c in LEGACY_COLUMNS]))
