"""The batch scheduler and the packed layouts on fixed inputs: no model, no tokenizer."""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import pytest
import torch

from utils.probing.batching import BatchQueue, pack
from utils.probing.backends.hf.packing import code_scores, ends_answer_mask, gap_rows, packed_layout, shared_prefix_len

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


# -- BatchQueue: the first probe asks, the next ones are served from memory -------------------
@dataclass(frozen=True)
class Answer:
    item: str
    attempt: int
    status: str = "ok"


def make_asker(unparsed: set[str] = frozenset()):
    calls = []

    def ask(batch, attempt):
        calls.append((tuple(batch), attempt))
        return [Answer(r, attempt, "unparsed" if r in unparsed and attempt == 1 else "ok") for r in batch]
    return ask, calls


def by_two(request, waiting):
    return pack(request, waiting, lambda r: 1, max_items=2)


def test_queue_asks_in_prepared_order_and_serves_each_result_once():
    queue, (ask, calls) = BatchQueue(), make_asker()
    queue.reset(["A", "B", "C", "D", "E"])
    got = [queue.fetch(r, 1, ask, by_two) for r in "ABCDE"]
    assert got == [Answer(r, 1) for r in "ABCDE"]
    assert calls == [(("A", "B"), 1), (("C", "D"), 1), (("E",), 1)]
    # B's result was handed out once; asking B again asks the model again
    assert queue.fetch("B", 1, ask, by_two) == Answer("B", 1) and calls[-1] == (("B",), 1)


def test_queue_any_fetch_order():
    queue, (ask, calls) = BatchQueue(), make_asker()
    queue.reset(["A", "B", "C", "D"])
    assert [queue.fetch(r, 1, ask, by_two).item for r in "DCBA"] == list("DCBA")
    assert calls == [(("D", "A"), 1), (("C", "B"), 1)]  # D first, then the oldest waiting


def test_queue_batches_re_asks_of_unparsed_answers():
    queue, (ask, calls) = BatchQueue(), make_asker(unparsed={"A", "C"})
    queue.reset(["A", "B", "C"])
    first = [queue.fetch(r, 1, ask, by_two) for r in "ABC"]
    assert [a.status for a in first] == ["unparsed", "ok", "unparsed"]
    assert queue.fetch("A", 2, ask, by_two) == Answer("A", 2) and queue.fetch("C", 2, ask, by_two) == Answer("C", 2)
    assert calls[-1] == (("A", "C"), 2)  # the two re-asks went together


def test_queue_from_threads_asks_each_item_once():
    queue, (ask, calls) = BatchQueue(), make_asker()
    items = [f"Q{i}" for i in range(40)]
    queue.reset(items)
    results: dict[str, Answer] = {}

    def worker(chunk):
        for r in chunk:
            results[r] = queue.fetch(r, 1, ask, lambda req, w: pack(req, w, lambda _: 1, 8))

    threads = [threading.Thread(target=worker, args=(items[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    asked = [r for batch, _ in calls for r in batch]
    assert sorted(asked) == sorted(items) and all(results[r] == Answer(r, 1) for r in items)


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
