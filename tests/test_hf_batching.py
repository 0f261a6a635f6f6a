"""Batched logprob scoring (items packed into one forward pass) equals scoring one item at a time."""
from __future__ import annotations

import json

import pytest
import torch

from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.results.table import read_table
from utils.probing.backends.hf.prober import HFProber
from utils.probing.prompts import build_requests, load_prompt_set
from utils.probing.results_store import ResultStore
from utils.probing.runner import run_requests


@pytest.fixture(scope="module")
def requests():
    by_id = {i.id: i for i in load_questionnaire(questionnaire_path())}
    # 4-point, binary, 10-point ("1" is a prefix of "10"), codes 2/1/0, 5-point, 3-point, and more
    ids = ("Q1", "Q18", "Q48", "Q122", "Q119", "Q46", "Q27", "Q57", "Q106", "Q131", "Q199")
    return build_requests([by_id[i] for i in ids], "logprob", load_prompt_set())


def scored(prober: HFProber, requests, order=None) -> dict[str, dict[str, float]]:
    prober.prepare(requests)
    return {r.item.id: prober.probe(r).distribution for r in (order or requests)}


def assert_close(a: dict, b: dict, tol: float = 1e-5) -> None:
    assert a.keys() == b.keys()
    for item_id, dist in a.items():
        assert list(dist) == list(b[item_id])
        for k, v in dist.items():
            assert v == pytest.approx(b[item_id][k], abs=tol), (item_id, k)


@pytest.fixture(scope="module")
def one_at_a_time(tiny_model, requests):
    tokenizer, model = tiny_model
    return scored(HFProber(model, tokenizer, "logprob", batch_size=1), requests)


@pytest.mark.parametrize("batch_size", [2, 4, 8, 32])
@pytest.mark.parametrize("prefix_cache", [True, False])
def test_batched_equals_one_at_a_time(tiny_model, requests, one_at_a_time, batch_size, prefix_cache):
    tokenizer, model = tiny_model
    prober = HFProber(model, tokenizer, "logprob", batch_size=batch_size, prefix_cache=prefix_cache)
    assert_close(scored(prober, requests), one_at_a_time)


def test_unpacked_path_equals_packed(tiny_model, requests, one_at_a_time):
    """Attention implementations without custom masks (flash-attention) score item by item."""
    tokenizer, model = tiny_model
    prober = HFProber(model, tokenizer, "logprob", batch_size=8)
    prober._packable = False
    assert_close(scored(prober, requests), one_at_a_time)


def test_any_probe_order_and_unprepared_requests(tiny_model, requests, one_at_a_time):
    tokenizer, model = tiny_model
    prober = HFProber(model, tokenizer, "logprob", batch_size=4)
    assert_close(scored(prober, requests, order=list(reversed(requests))), one_at_a_time)
    fresh = HFProber(model, tokenizer, "logprob", batch_size=4)  # no prepare(): batches of one
    assert_close({r.item.id: fresh.probe(r).distribution for r in requests}, one_at_a_time)


def test_token_budget_splits_batches(tiny_model, requests, one_at_a_time):
    tokenizer, model = tiny_model
    prober = HFProber(model, tokenizer, "logprob", batch_size=8)
    prober.PACK_TOKENS = 150  # about one item per pass
    calls = []
    real = prober._score
    prober._score = lambda batch: calls.append(len(batch)) or real(batch)
    assert_close(scored(prober, requests), one_at_a_time)
    assert max(calls) <= 2 and sum(calls) == len(requests)


def test_each_result_is_returned_once_and_rows_match_a_sequential_run(tiny_model, requests, tmp_path):
    """Through the runner, with threads: the same rows as one at a time, in questionnaire order."""
    tokenizer, model = tiny_model
    files = {}
    for name, batch, conc in (("seq", 1, 1), ("batched", 8, 4)):
        with ResultStore(tmp_path / name / "results.csv") as store:
            summary = run_requests(HFProber(model, tokenizer, "logprob", batch_size=batch), requests, store,
                                   concurrency=conc, progress=False)
        assert summary.ok == len(requests)
        files[name] = read_table(tmp_path / name / "results.csv").rows
    assert [r["id"] for r in files["batched"]] == [r.item.id for r in requests]
    for a, b in zip(files["seq"], files["batched"]):
        assert a["id"] == b["id"] and a["prompt_tokens"] == b["prompt_tokens"]
        da, db = json.loads(a["distribution"]), json.loads(b["distribution"])
        assert all(da[k] == pytest.approx(db[k], abs=1e-5) for k in da)


# -- verbalized: one generate call for several items ------------------------------------
@pytest.fixture(scope="module")
def verbalized_requests(requests):
    return build_requests([r.item for r in requests[:6]], "verbalized", load_prompt_set())


def generated(prober: HFProber, requests) -> list[tuple[str, int]]:
    prober.prepare(requests)
    return [(res.raw_text, res.completion_tokens) for res in (prober.probe(r) for r in requests)]


@pytest.mark.parametrize("prefix_cache", [True, False])
def test_batched_greedy_generation_equals_one_at_a_time(tiny_model, verbalized_requests, prefix_cache):
    tokenizer, model = tiny_model
    alone = generated(HFProber(model, tokenizer, "verbalized", max_new_tokens=12, batch_size=1,
                               prefix_cache=False), verbalized_requests)
    batched = HFProber(model, tokenizer, "verbalized", max_new_tokens=12, batch_size=4, prefix_cache=prefix_cache)
    batched.batch_generation = True  # off by default on the CPU
    calls = []
    real = batched._generate
    batched._generate = lambda batch, attempt: calls.append(len(batch)) or real(batch, attempt)
    assert generated(batched, verbalized_requests) == alone
    assert calls == [4, 2]
    assert (batched._prefix_cache is not None) == prefix_cache


def test_rows_stop_on_their_own(tiny_model):
    """One row's closed mapping or end of text stops that row only, at its own length."""
    from utils.probing.backends.hf.stopping import MappingClosed as _MappingClosed

    tokenizer, _ = tiny_model
    start = tokenizer("Reply:", add_special_tokens=False)["input_ids"]
    rows = [start + tokenizer(t, add_special_tokens=False)["input_ids"] for t in (" {'1': '40%'}", " {'1': '4")]
    width = max(map(len, rows))
    batch = torch.tensor([r + [0] * (width - len(r)) if i else r + [7] * (width - len(r))
                          for i, r in enumerate(rows)])
    stop = _MappingClosed(tokenizer, len(start), end_ids=[tokenizer.eos_token_id])
    assert stop(batch, None).tolist() == [True, False]
    assert stop.ends == {0: width}
    ended = torch.cat([batch, torch.tensor([[0], [tokenizer.eos_token_id]])], dim=1)
    assert stop(ended, None).tolist() == [True, True] and stop.ends == {0: width, 1: width + 1}


def test_re_asks_are_batched_too(tiny_model, verbalized_requests, tmp_path):
    """A random model writes no mapping: every item is asked twice, in two generate calls."""
    tokenizer, model = tiny_model
    prober = HFProber(model, tokenizer, "verbalized", max_new_tokens=6, batch_size=8)
    prober.batch_generation = True
    calls = []
    real = prober._generate
    prober._generate = lambda batch, attempt: calls.append((len(batch), attempt)) or real(batch, attempt)
    with ResultStore(tmp_path / "results.csv") as store:
        summary = run_requests(prober, verbalized_requests, store, max_attempts=2, progress=False)
    assert summary.unparsed == len(verbalized_requests)
    assert calls == [(len(verbalized_requests), 1), (len(verbalized_requests), 2)]
    assert all(r["attempts"] == "2" for r in read_table(tmp_path / "results.csv").rows)


def test_verbalized_is_one_at_a_time_on_the_cpu_by_default(tiny_model, verbalized_requests):
    tokenizer, model = tiny_model
    prober = HFProber(model, tokenizer, "verbalized", max_new_tokens=4)
    calls = []
    real = prober._generate
    prober._generate = lambda batch, attempt: calls.append(len(batch)) or real(batch, attempt)
    prober.prepare(verbalized_requests)
    for r in verbalized_requests:
        prober.probe(r)
    assert not prober.batch_generation and calls == [1] * len(verbalized_requests)
