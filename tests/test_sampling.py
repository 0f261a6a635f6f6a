"""The `sample` method's pure parts: reading one answer as a code, shares, the ok threshold, the row."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from utils.core.records import SurveyItem
from utils.probing.results_store import COLUMNS, result_row
from utils.probing.methods.sample import code_complete, read_code, sample_result, shares, summarize

TEN = [str(k) for k in range(1, 11)]  # a 1-10 scale: "1" is a prefix of "10"


@pytest.mark.parametrize("text,code", [
    ("10", "10"), ("1", "1"), ("1.", "1"), (" 10\n", "10"), ("Option 3", "3"), ("3. Not very important", "3"),
    ("I pick 10, not 1", "10"), ("(7)", "7"), ("２", "2"),  # full-width digit, as CJK answers write it
    ("<think>maybe 1 or 2</think>4", "4"),  # reasoning is skipped
    ("100", None), ("0", None), ("Q1", None), ("Very important", None), ("", None),
    ("<think>1 seems right", None),  # unfinished reasoning names no answer yet
])
def test_read_code_takes_the_first_whole_code(text, code):
    assert read_code(text, TEN) == code


def test_read_code_uses_the_items_own_codes():
    assert read_code("0", ["0", "1"]) == "0"
    assert read_code("5", ["1", "2", "3", "4"]) is None
    assert read_code("5 or rather 2", ["1", "2", "3", "4"]) == "2"


@pytest.mark.parametrize("text,done", [
    ("1", False), ("10", False), ("1.", True), ("10\n", True), ("Option", False), ("Option 2", False),
    ("Option 2.", True), ("100", False),
])
def test_code_complete_waits_until_a_code_cannot_grow(text, done):
    assert code_complete(text, TEN) is done


def test_shares_are_counts_over_the_readable_answers():
    answers = ["2", "1", "Option 2.", "I cannot say", "10", "2"]
    s = summarize(answers, TEN)
    assert s.counts == {**dict.fromkeys(TEN, 0), "1": 1, "2": 3, "10": 1}
    assert list(s.counts) == TEN  # every code, in the item's order
    assert s.n_unreadable == 1 and s.n_readable == 5
    assert s.distribution == {**dict.fromkeys(TEN, 0.0), "1": 0.2, "2": 0.6, "10": 0.2}
    assert shares({"1": 0, "2": 0}, ["1", "2"]) is None


@pytest.mark.parametrize("readable,unreadable,ok", [(5, 5, True), (4, 6, False), (1, 0, True), (0, 0, False),
                                                    (20, 19, True), (19, 20, False)])
def test_ok_when_at_least_half_name_an_option(readable, unreadable, ok):
    answers = ["1"] * readable + ["no idea"] * unreadable
    result = sample_result("Q1", answers, ["1", "2"])
    assert (result.status == "ok") is ok
    if ok:
        assert result.distribution == {"1": 1.0, "2": 0.0} and result.error == ""
    else:
        assert result.distribution is None and f"only {readable} of {readable + unreadable}" in result.error
    assert result.extra == {"sample_counts": {"1": readable, "2": 0}, "n_unreadable": unreadable}


def test_the_row_keeps_answers_counts_and_unreadable():
    item = SurveyItem("Q1", "How important is family?", ("Very", "Rather", "Not very"), ("1", "2", "3"), "")
    answers = ["1", "1", "2", "??", "1"]
    row = result_row(item, sample_result("Q1", answers, item.choice_keys), "sample")
    assert {"sample_counts", "n_unreadable"} <= set(COLUMNS)
    assert json.loads(row["raw_text"]) == answers
    assert json.loads(row["sample_counts"]) == {"1": 3, "2": 1, "3": 0} and row["n_unreadable"] == "1"
    dist = json.loads(row["distribution"])
    assert dist == {"1": 0.75, "2": 0.25, "3": 0.0} and row["status"] == "ok"
    assert row["response"] == "{'1': '75.00%', '2': '25.00%', '3': '0.00%'}"


def test_shares_agree_with_an_independent_count():
    """Against a count written here: the first standalone code-like word, letters and digits."""
    answers = ["3", "3.", "answer: 1", "10", "1 0", "x", "7", "10.", "2", "0"]

    def naive(text: str) -> str | None:
        word = ""
        for ch in text + " ":
            if ch.isalnum():
                word += ch
                continue
            if word in TEN:
                return word
            word = ""
        return None

    want = Counter(c for c in map(naive, answers) if c)
    s = summarize(answers, TEN)
    assert {k: v for k, v in s.counts.items() if v} == dict(want)
    assert s.n_unreadable == sum(naive(a) is None for a in answers) == 2
    assert all(abs(v * s.n_readable - round(v * s.n_readable)) < 1e-12 for v in s.distribution.values())


def test_other_methods_leave_the_sample_columns_empty():
    from utils.core.records import ProbeResult

    item = SurveyItem("Q1", "q", ("a", "b"), ("1", "2"), "")
    row = result_row(item, ProbeResult("Q1", "ok", {"1": 0.5, "2": 0.5}), "logprob")
    assert row.get("sample_counts", "") == "" and row.get("n_unreadable", "") == ""
