"""Option probabilities from log-probabilities on fixed inputs, with the expected numbers worked
out by hand: above all the split of "1" between the answers 1 and 10."""
from __future__ import annotations

import math

import pytest

from utils.probing.backends import continues_code
from utils.probing.backends.api.wire import scores_from_top_logprobs
from utils.probing.methods.logprob import normalize_log_scores

TEN = [str(k) for k in range(1, 11)]
log = math.log


def probabilities(positions, generated, keys=TEN):
    return normalize_log_scores(scores_from_top_logprobs(positions, generated, keys), keys)


def test_one_is_split_between_the_answers_1_and_10():
    """P("1" first) = 0.5; after it, "0" 0.4 and "5" 0.05 continue the code, the rest (0.55)
    ends it. So 1: 0.5 * 0.55 = 0.275, 10: 0.5 * 0.4 = 0.2, ("15" is no option), 2: 0.3,
    3: 0.1, 4: 0.05; together 0.925."""
    positions = [{"1": log(0.5), "2": log(0.3), "3": log(0.1), " 4": log(0.05)},
                 {"0": log(0.4), ".": log(0.5), "5": log(0.05)}]
    got = probabilities(positions, ["1", "."])
    expected = {"1": 0.275, "10": 0.2, "2": 0.3, "3": 0.1, "4": 0.05}
    assert got == pytest.approx({k: expected.get(k, 0.0) / 0.925 for k in TEN}, abs=1e-12)


def test_ten_as_one_token_adds_to_the_split():
    """A tokenizer with "10" as one token: 10 = 0.1 (its own token) + 0.4 * 0.25 (after "1")
    = 0.2; 1 = 0.4 * 0.75 = 0.3; 2 = 0.5. Together 1.0."""
    positions = [{"10": log(0.1), "1": log(0.4), "2": log(0.5)}, {"0": log(0.25), "}": log(0.7)}]
    got = probabilities(positions, ["1", "}"])
    assert got == pytest.approx({k: {"1": 0.3, "10": 0.2, "2": 0.5}.get(k, 0.0) for k in TEN}, abs=1e-12)


def test_without_a_second_step_one_keeps_its_mass():
    """The model wrote "2": the server listed no step after a "1", so 1 keeps P("1") = 0.25
    and 10 (never seen) gets 0."""
    positions = [{"2": log(0.6), "1": log(0.25), "3": log(0.15)}, {"}": log(0.9)}]
    got = probabilities(positions, ["2", "}"])
    assert got == pytest.approx({k: {"1": 0.25, "2": 0.6, "3": 0.15}.get(k, 0.0) for k in TEN}, abs=1e-12)


def test_when_every_listed_next_token_continues_the_code():
    """Continuations take all the mass (0.7 + 0.3): P(stop) = 0, so 1 gets 0 and 10 gets
    0.5 * 0.7 = 0.35; 2 = 0.5. Normalized: 10 = 0.35 / 0.85, 2 = 0.5 / 0.85."""
    positions = [{"1": log(0.5), "2": log(0.5)}, {"0": log(0.7), "1": log(0.3)}]
    got = probabilities(positions, ["1", "0"], keys=["1", "2", "10"])
    assert got == pytest.approx({"1": 0.0, "2": 0.5 / 0.85, "10": 0.35 / 0.85}, abs=1e-12)


def test_normalize_worked_example():
    assert normalize_log_scores({"1": -0.1, "2": -2.4}, ["1", "2"]) == pytest.approx(
        {"1": 1 / (1 + math.exp(-2.3)), "2": math.exp(-2.3) / (1 + math.exp(-2.3))})
    with pytest.raises(ValueError):
        normalize_log_scores({"1": -math.inf}, ["1", "2"])


@pytest.mark.parametrize(("token", "continues"), [("0", True), ("a", True), (" 0", False), ("}", False),
                                                  (".", False), ("", False), ("\n", False)])
def test_continues_code(token, continues):
    assert continues_code(token) is continues
