"""Prompts are rendered from data files by one function."""
from __future__ import annotations

from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.probing.prompts import build_requests, format_percentages, load_prompt_set, render_messages


def test_verbalized_prompt_has_instruction_examples_and_item():
    item = load_questionnaire(questionnaire_path())[0]
    ps = load_prompt_set()
    (msg,) = render_messages(item, "verbalized", ps)
    assert msg.role == "user"
    assert msg.content.count("Example ") == len(ps.examples) == 5
    assert item.question in msg.content and item.answer in msg.content
    assert msg.content.index("Example 5") < msg.content.index(item.question)
    assert "$" not in msg.content  # every placeholder was filled


def test_logprob_prompt_asks_for_one_option():
    item = load_questionnaire(questionnaire_path())[0]
    (msg,) = render_messages(item, "logprob", load_prompt_set())
    assert "Example" not in msg.content and item.answer in msg.content and "$" not in msg.content


def test_format_percentages_worked_example():
    assert format_percentages({"1": 18.5, "2": 81.5}) == "{'1': '18.5%', '2': '81.5%'}"


def test_example_numbers_add_up():
    for ex in load_prompt_set().examples:
        assert abs(sum(ex.percentages.values()) - 100) < 1e-9
        assert [k for k, _ in ex.options] == list(ex.percentages)


def test_every_item_renders():
    reqs = build_requests(load_questionnaire(questionnaire_path()), "verbalized", load_prompt_set())
    assert len({r.messages[0].content for r in reqs}) == 144


# --- naming a country's people: whole phrases from data, grammar checked here -----------------

def _phrases(language: str) -> dict:
    import json

    from utils.core.paths import INPUTS_DIR
    return json.loads((INPUTS_DIR / "prompts" / f"{language}.json").read_text(encoding="utf-8"))["country_phrases"]


def test_every_steering_country_has_whole_phrases_in_english_and_its_language():
    from utils.probing.conditions import steering_countries
    from utils.probing.prompts import PHRASE_KEYS
    for country, info in steering_countries().items():
        for language in {"English", info["language"]}:
            phrases = _phrases(language)[country]
            assert set(phrases) == set(PHRASE_KEYS) and all(v.strip() for v in phrases.values()), (country, language)


def test_english_articles_follow_the_sound_not_a_fixed_a():
    """The bug this fixes: 'a Argentinian respondent'. Expected phrases written by hand."""
    respondent = {c: p["respondent"] for c, p in _phrases("English").items()}
    assert respondent["Argentina"] == "an Argentinian respondent"
    assert respondent["Uruguay"] == "a Uruguayan respondent"  # 'you-ruguayan': a consonant sound
    assert respondent["Japan"] == "a Japanese respondent"
    import re
    for country, text in respondent.items():
        assert not re.search(r"\ba [AEIO]", text), (country, text)


def test_persona_logprob_prompt_reads_an_argentinian_respondent():
    import pytest

    from utils.core.errors import UserError
    item = load_questionnaire(questionnaire_path())[0]
    ps = load_prompt_set()
    phrases = _phrases("English")["Argentina"]
    (msg,) = render_messages(item, "logprob", ps, names="persona", phrases=phrases)
    assert "the option an Argentinian respondent would choose" in msg.content and "$" not in msg.content
    (msg,) = render_messages(item, "verbalized", ps, names="group", phrases=phrases)
    assert "Estimate the distribution of answers from a group of Argentinian people over the options." in msg.content
    with pytest.raises(UserError, match="needs the country's phrases"):
        render_messages(item, "verbalized", ps, names="group")
    with pytest.raises(UserError, match="unknown naming"):
        render_messages(item, "verbalized", ps, names="nation", phrases=phrases)


def test_group_naming_beside_real_shares_in_every_language():
    """With real examples, `group` names the people in the instruction and again above the shares;
    `persona` and unnamed keep the plain intro. Checked for every language and its countries."""
    from utils.probing.conditions import steering_countries
    from utils.probing.prompts import example_from_item
    items = load_questionnaire(questionnaire_path())
    real = (example_from_item(items[1], {k: 100 / len(items[1].choice_keys) for k in items[1].choice_keys}),)
    for country, info in steering_countries().items():
        for language in {"English", info["language"]}:
            ps = load_prompt_set(language)
            item = load_questionnaire(questionnaire_path(language), language)[0]
            phrases = _phrases(language)[country]
            (named,) = render_messages(item, "verbalized", ps, names="group", phrases=phrases, real_examples=real)
            (plain,) = render_messages(item, "verbalized", ps, real_examples=real)
            intro = ps.templates["examples_intro_real"]
            assert named.content.count(phrases["group"]) == 2 and "$" not in named.content, (country, language)
            assert intro in plain.content and intro not in named.content
            assert phrases["group"] not in plain.content
            (lp,) = render_messages(item, "logprob", ps, names="group", phrases=phrases, real_examples=real)
            assert phrases["group"] in lp.content and "$" not in lp.content
