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
