"""The few-shot shares are survey facts: each country's own, each item's shares summing to 100.

The original release's English few-shot prompts for Germany and Korea showed the same numbers
(copied from its random-example prompt); a check that no two countries share an item's shares
would have caught that slip, so it stands here for ours.
"""
from __future__ import annotations

import json

import pytest

from utils.core.paths import INPUTS_DIR
from utils.core.questionnaire import load_questionnaire, questionnaire_path

FILES = sorted((INPUTS_DIR / "few_shot").glob("*.json"))
QUESTIONS = {it.id: it for it in load_questionnaire(questionnaire_path("English"))}


def _items(path):
    return json.loads(path.read_text(encoding="utf-8"))["items"]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_each_item_sums_to_100_over_its_options(path):
    for item in _items(path):
        shares = item["percentages"]
        assert abs(sum(shares.values()) - 100) < 0.05, (path.stem, item["id"])
        if item["id"] in QUESTIONS:
            assert set(shares) == set(QUESTIONS[item["id"]].choice_keys), (path.stem, item["id"])


def test_no_two_countries_share_an_items_shares():
    seen: dict[tuple, str] = {}
    for path in FILES:
        for item in _items(path):
            key = (item["id"], tuple(sorted(item["percentages"].items())))
            assert key not in seen, f"{path.stem} and {seen.get(key)} give {item['id']} the same shares"
            seen[key] = path.stem


def test_germany_and_korea_use_their_own_survey_shares():
    # Q40 ("work is a duty towards society"), as in the release's German and Korean prompts.
    germany = {it["id"]: it["percentages"] for it in _items(INPUTS_DIR / "few_shot" / "Germany.json")}
    korea = {it["id"]: it["percentages"] for it in _items(INPUTS_DIR / "few_shot" / "Korea.json")}
    assert germany["Q40"]["1"] == 18.28 and korea["Q40"]["1"] == 10.52
