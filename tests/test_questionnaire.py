"""The English questionnaire and country list against the study's ids, codes and counts."""
from __future__ import annotations

import json

import pytest

from utils.core.errors import UserError
from utils.core.paths import REPO_ROOT
from utils.core.questionnaire import load_questionnaire, questionnaire_path


def expected_ids() -> list[str]:
    spans = [(1, 6), (18, 46), (48, 48), (57, 63), (65, 90), (106, 111), (113, 117), (119, 119), (122, 129),
             (131, 131), (142, 142), (147, 150), (158, 170), (173, 195), (199, 199), (234, 234), (240, 250),
             (259, 259)]
    return [f"Q{n}" for a, b in spans for n in range(a, b + 1) if n != 82]


@pytest.fixture(scope="module")
def items():
    return load_questionnaire(questionnaire_path())


def test_ids_and_count(items):
    assert [i.id for i in items] == expected_ids() and len(items) == 144


def test_codes_follow_the_codebook(items):
    by_id = {i.id: i for i in items}
    assert by_id["Q119"].choice_keys == ("1", "2", "3", "4", "0")
    for q in range(122, 130):
        assert by_id[f"Q{q}"].choice_keys == ("2", "1", "0") and by_id[f"Q{q}"].order == ("2", "1", "0")
    assert by_id["Q48"].choice_keys == tuple(str(n) for n in range(1, 11))


def test_answer_lists_options_as_shown(items):
    for it in items:
        assert it.answer == "\n".join(f"{k}. {c}" for k, c in zip(it.choice_keys, it.choices))
        assert it.question.strip() and all(c.strip() for c in it.choices)
        assert sorted(it.order) == sorted(it.choice_keys) and it.scale in ("ordinal", "nominal")


def test_matches_reference_codes_but_not_its_text(items, reference):
    ref = {}
    for line in (reference / "dataset" / "questions" / "WV7_English.jsonl").read_text().splitlines():
        obj = json.loads(line)
        ref[obj["id"]] = obj
    assert set(ref) == {i.id for i in items}
    for it in items:
        assert list(it.choice_keys) == ref[it.id]["choice_keys"]
        assert it.question != ref[it.id]["question"]


def test_reference_questionnaire_loads_too(reference):
    items = load_questionnaire(reference / "dataset" / "questions" / "WV7_English.jsonl")
    assert len(items) == 144 and items[0].order == items[0].choice_keys


def test_countries():
    data = json.loads((REPO_ROOT / "dataset" / "countries.json").read_text())
    codes = [c["code"] for c in data["countries"]]
    assert len(codes) == len(set(codes)) == 66
    names = {c["name"] for c in data["countries"]}
    assert {"Argentina", "Brazil", "Chile", "China", "Germany", "Japan", "South Korea", "Russia", "Uruguay",
            "Vietnam"} <= names
    assert all(len(c["iso3"]) == 3 for c in data["countries"])


@pytest.mark.parametrize("line,match", [
    ("{not json", "line 2: not valid JSON"),
    ('{"id": "Q9", "question": "x", "choices": ["a", "b"], "choice_keys": ["1"], "answer": "1. a"}', "line 2: .*pair up"),
    ('{"id": "Q9", "question": "x"}', "line 2: missing field"),
    ('{"id": "Q9", "question": "x", "choices": ["a", "b"], "choice_keys": ["1", "2"], "answer": "", "order": ["1", "3"]}',
     "line 2: .*order"),
])
def test_bad_lines_name_their_line(tmp_path, line, match):
    good = '{"id": "Q1", "question": "x", "choices": ["a", "b"], "choice_keys": ["1", "2"], "answer": "1. a\\n2. b"}'
    path = tmp_path / "WV7_Test.jsonl"
    path.write_text(good + "\n" + line + "\n")
    with pytest.raises(UserError, match=match):
        load_questionnaire(path)
