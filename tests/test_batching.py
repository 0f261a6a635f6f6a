"""Which items go together, and the packed layouts, on fixed inputs: no model, no tokenizer."""
from __future__ import annotations

import math

import pytest
import torch

from utils.probing.backends.hf.packing import code_scores, ends_answer_mask, gap_rows, pack, packed_layout, shared_prefix_len

SIZES = {"A": 100, "B": 300, "C": 50, "D": 10, "E": 600}


# -- pack: which items go together -----------------------------------------------------------
@pytest.mark.parametrize(("first", "waiting", "max_items", "max_tokens", "expected"), [
    ("A", "BCD", 8, 450, "ABC"),        # A+B+C = 450 fits exactly; D would pass the budget
    ("A", "BCD", 8, 449, "AB"),         # C would pass the budget by one token
    ("A", "BCD", 2, math.inf, "AB"),    # item limit
    ("A", "BCD", 1, math.inf, "A"),     # batches of one
    ("E", "ABC", 8, 512, "E"),          # a long first item runs alone, over the budget
    ("A", "", 8, 512, "A"),             # nothing waiting
    ("A", "EC", 8, 650, "A"),           # C would fit after A, but E comes first: the order is kept
    ("D", "CAB", 8, math.inf, "DCAB"),  # no budget: everything up to the item limit
    ("A", "BCD", 0, math.inf, "A"),     # a limit below one still asks the item
])
def test_pack(first, waiting, max_items, max_tokens, expected):
    assert pack(first, list(waiting), SIZES.__getitem__, max_items, max_tokens) == list(expected)


def test_pack_does_not_change_its_inputs():
    waiting = ["B", "C"]
    pack("A", waiting, SIZES.__getitem__, 8)
    assert waiting == ["B", "C"]


# -- packed_layout: the worked example of the module docstring, and its mask ------------------
def test_packed_layout_worked_example():
    lay = packed_layout([([9, 9, 5, 6], [[1], [1, 0]])], prefix_len=2)
    assert lay.tokens == [5, 6, 1, 1, 0]
    assert lay.positions == [2, 3, 4, 4, 5]
    assert lay.read_at == [1, 2, 3, 4]
    assert lay.items == [(1, [[2], [3, 4]])]
    expected = torch.tensor([  # columns: prefix 0, 1, then the packed tokens 5, 6, "1", "1", "0"
        [1, 1, 1, 0, 0, 0, 0],  # 5
        [1, 1, 1, 1, 0, 0, 0],  # 6
        [1, 1, 1, 1, 1, 0, 0],  # code "1": item and itself
        [1, 1, 1, 1, 0, 1, 0],  # code "10", first token: not the other code
        [1, 1, 1, 1, 0, 1, 1],  # code "10", second token
    ], dtype=torch.bool)
    assert torch.equal(lay.sees, expected)


def test_packed_layout_two_items_never_see_each_other():
    lay = packed_layout([([5, 6], [[1], [2]]), ([7], [[3]])], prefix_len=0)
    assert lay.tokens == [5, 6, 1, 2, 7, 3]
    assert lay.positions == [0, 1, 2, 2, 0, 1]
    assert lay.items == [(1, [[2], [3]]), (4, [[5]])]
    assert not lay.sees[4, :4].any() and lay.sees[5].tolist() == [False] * 4 + [True, True]


def test_code_scores_reads_each_code_token_and_the_stop():
    """Hand-computed: code "1" = logP(1 | item) + stop after "1"; "10" adds logP(0 | "1")."""
    lay = packed_layout([([5, 6], [[1], [1, 0]])], prefix_len=0)  # read_at = [1, 2, 3, 4]
    logp = torch.full((4, 3), -9.0)
    logp[0, 1] = -0.5   # at the item's last token: P(first token "1")
    logp[2, 0] = -1.5   # after the first "1" of "10": P("0")
    stop = [-7.0, -0.25, -8.0, -2.0]  # log P(answer ends) at each read position
    scores = code_scores(lay, [[[1], [1, 0]]], [["1", "10"]], logp, stop)
    assert scores == [{"1": pytest.approx(-0.5 - 0.25), "10": pytest.approx(-0.5 - 1.5 - 2.0)}]


def test_gap_rows_worked_example():
    assert gap_rows([[7, 7, 1], [7, 7, 1, 2, 3]], 2, pad=0) == (
        [[7, 7, 0, 0, 1], [7, 7, 1, 2, 3]], [[1, 1, 0, 0, 1], [1, 1, 1, 1, 1]], 3)


@pytest.mark.parametrize(("seqs", "least", "expected"), [
    ([[1, 2, 3, 4], [1, 2, 3, 5, 6]], 2, 3),
    ([[1, 2, 3], [1, 2, 3, 4]], 1, 2),       # each keeps at least one token of its own
    ([[1, 2, 3, 4], [1, 2, 3, 5]], 8, 0),    # too short to be worth a cache
    ([[1, 2, 3, 4]], 1, 0),                  # one sequence: nothing shared
    ([[1, 2], [3, 4]], 1, 0),
])
def test_shared_prefix_len(seqs, least, expected):
    assert shared_prefix_len(seqs, least) == expected


def test_ends_answer_mask_pads_extra_output_rows():
    assert ends_answer_mask([True, False], 4).tolist() == [True, False, False, False]
    assert ends_answer_mask([True, False, True], 2).tolist() == [True, False]
