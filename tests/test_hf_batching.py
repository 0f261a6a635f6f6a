"""Batched logprob scoring (items packed into one forward pass) equals scoring one item at a time."""
from __future__ import annotations

import json

import pytest
import torch

from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.results.table import read_table
from utils.probing.backends.hf.backend import HFBackend, StopWhen
from utils.probing.loop import ask, run_condition
from utils.probing.methods.logprob import Logprob
from utils.probing.methods.verbalized import Verbalized, mapping_closed
from utils.probing.prompts import build_requests, load_prompt_set
from utils.probing.results_store import ResultStore


@pytest.fixture(scope="module")
def requests():
    by_id = {i.id: i for i in load_questionnaire(questionnaire_path())}
    # 4-point, binary, 10-point ("1" is a prefix of "10"), codes 2/1/0, 5-point, 3-point, and more
    ids = ("Q1", "Q18", "Q48", "Q122", "Q119", "Q46", "Q27", "Q57", "Q106", "Q131", "Q199")
    return build_requests([by_id[i] for i in ids], "logprob", load_prompt_set())


def scored(backend: HFBackend, requests, order=None) -> dict[str, dict[str, float]]:
    backend.prepare(requests)
    return {r.item.id: res.distribution for r, res in ask(backend, Logprob(), order or requests)}


def assert_close(a: dict, b: dict, tol: float = 1e-5) -> None:
    assert a.keys() == b.keys()
    for item_id, dist in a.items():
        assert list(dist) == list(b[item_id])
        for k, v in dist.items():
            assert v == pytest.approx(b[item_id][k], abs=tol), (item_id, k)


@pytest.fixture(scope="module")
def one_at_a_time(tiny_model, requests):
    tokenizer, model = tiny_model
    return scored(HFBackend(model, tokenizer, batch_size=1), requests)


@pytest.mark.parametrize("batch_size", [2, 4, 8, 32])
@pytest.mark.parametrize("prefix_cache", [True, False])
def test_batched_equals_one_at_a_time(tiny_model, requests, one_at_a_time, batch_size, prefix_cache):
    tokenizer, model = tiny_model
    backend = HFBackend(model, tokenizer, batch_size=batch_size, prefix_cache=prefix_cache)
    assert_close(scored(backend, requests), one_at_a_time)


def test_a_model_without_masked_attention_is_switched_to_it(tiny_model_dir, requests, one_at_a_time):
    """Packed scoring needs a custom mask, which flash-attention takes not: such a model is asked
    with torch's sdpa, and scores as any other."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).eval()
    model.config._attn_implementation = "flash_attention_2"  # as loaded with it (not installed here)
    backend = HFBackend(model, AutoTokenizer.from_pretrained(str(tiny_model_dir)), batch_size=8)
    assert model.config._attn_implementation == "sdpa"
    assert_close(scored(backend, requests), one_at_a_time)


def test_any_order_and_unprepared_requests(tiny_model, requests, one_at_a_time):
    tokenizer, model = tiny_model
    backend = HFBackend(model, tokenizer, batch_size=4)
    assert_close(scored(backend, requests, order=list(reversed(requests))), one_at_a_time)
    fresh = HFBackend(model, tokenizer, batch_size=4)  # no prepare(): no prefix cache
    assert_close({r.item.id: res.distribution for r, res in ask(fresh, Logprob(), requests)}, one_at_a_time)


def test_token_budget_splits_batches(tiny_model, requests, one_at_a_time):
    tokenizer, model = tiny_model
    backend = HFBackend(model, tokenizer, batch_size=8)
    backend.PACK_TOKENS = 150  # about one item per pass
    calls = []
    real = backend._score
    backend._score = lambda batch: calls.append(len(batch)) or real(batch)
    assert_close(scored(backend, requests), one_at_a_time)
    assert max(calls) <= 2 and sum(calls) == len(requests)


def test_each_result_is_returned_once_and_rows_match_a_sequential_run(tiny_model, requests, tmp_path):
    """Through the run loop: the same rows batched as one at a time, in questionnaire order."""
    tokenizer, model = tiny_model
    files = {}
    for name, batch in (("seq", 1), ("batched", 8)):
        with ResultStore(tmp_path / name / "results.csv") as store:
            summary = run_condition(HFBackend(model, tokenizer, batch_size=batch), Logprob(), requests, store,
                                    progress=False)
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


def generated(backend: HFBackend, requests) -> list[tuple[str, int]]:
    backend.prepare(requests)
    return [(res.raw_text, res.completion_tokens) for _, res in ask(backend, Verbalized(max_tokens=12), requests)]


@pytest.mark.parametrize("prefix_cache", [True, False])
def test_batched_greedy_generation_equals_one_at_a_time(tiny_model, verbalized_requests, prefix_cache):
    tokenizer, model = tiny_model
    alone = generated(HFBackend(model, tokenizer, batch_size=1, prefix_cache=False), verbalized_requests)
    batched = HFBackend(model, tokenizer, batch_size=4, prefix_cache=prefix_cache)
    batched.batch_generation = True  # off by default on the CPU
    calls = []
    real = batched._generate
    batched._generate = lambda batch, how: calls.append(len(batch)) or real(batch, how)
    assert generated(batched, verbalized_requests) == alone
    assert calls == [4, 2]
    assert (batched._prefix_cache is not None) == prefix_cache


def test_rows_stop_on_their_own(tiny_model):
    """One row's closed mapping or end of text stops that row only, at its own length."""
    tokenizer, _ = tiny_model
    start = tokenizer("Reply:", add_special_tokens=False)["input_ids"]
    rows = [start + tokenizer(t, add_special_tokens=False)["input_ids"] for t in (" {'1': '40%'}", " {'1': '4")]
    width = max(map(len, rows))
    batch = torch.tensor([r + [0] * (width - len(r)) if i else r + [7] * (width - len(r))
                          for i, r in enumerate(rows)])
    closed = [lambda t: mapping_closed(None, t)] * 2
    stop = StopWhen(tokenizer, len(start), end_ids=[tokenizer.eos_token_id], rules=closed)
    assert stop(batch, None).tolist() == [True, False]
    assert stop.ends == {0: width}
    ended = torch.cat([batch, torch.tensor([[0], [tokenizer.eos_token_id]])], dim=1)
    assert stop(ended, None).tolist() == [True, True] and stop.ends == {0: width, 1: width + 1}


def test_re_asks_are_batched_too(tiny_model, verbalized_requests, tmp_path):
    """A random model writes no mapping: every item is asked twice, in two generate calls, the
    second at the retry temperature."""
    tokenizer, model = tiny_model
    backend = HFBackend(model, tokenizer, batch_size=8)
    backend.batch_generation = True
    calls = []
    real = backend._generate
    backend._generate = lambda batch, how: calls.append((len(batch), how.temperature)) or real(batch, how)
    with ResultStore(tmp_path / "results.csv") as store:
        summary = run_condition(backend, Verbalized(max_tokens=6), verbalized_requests, store, max_attempts=2,
                                progress=False)
    assert summary.unparsed == len(verbalized_requests)
    assert calls == [(len(verbalized_requests), 0.0), (len(verbalized_requests), 0.7)]
    assert all(r["attempts"] == "2" for r in read_table(tmp_path / "results.csv").rows)


def test_verbalized_is_one_at_a_time_on_the_cpu_by_default(tiny_model, verbalized_requests):
    tokenizer, model = tiny_model
    backend = HFBackend(model, tokenizer)
    calls = []
    real = backend._generate
    backend._generate = lambda batch, how: calls.append(len(batch)) or real(batch, how)
    backend.prepare(verbalized_requests)
    list(ask(backend, Verbalized(max_tokens=4), verbalized_requests))
    assert not backend.batch_generation and calls == [1] * len(verbalized_requests)
