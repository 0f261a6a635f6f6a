"""The API backend against a real HTTP server on 127.0.0.1 speaking the chat-completions protocol."""
from __future__ import annotations

import openai
import pytest
from openai_server import answer_for

from utils.core.errors import UserError
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.results.table import read_table
from utils.probing.backends import Completion, Failure, Score, Scores
from utils.probing.backends.api import wire
from utils.probing.backends.api.backend import ApiBackend, make_client, resolve_endpoint
from utils.probing.loop import ask, run_condition
from utils.probing.methods.logprob import Logprob, read_scores
from utils.probing.methods.verbalized import Verbalized, read_mapping
from utils.probing.prompts import build_requests, load_prompt_set, prompt_text
from utils.probing.results_store import ResultStore


@pytest.fixture(scope="module")
def items():
    return load_questionnaire(questionnaire_path())


def backend_for(server, **kw) -> ApiBackend:
    client = openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0, timeout=10)
    return ApiBackend(client, "test-model", backoff_s=0.01, **kw)


def one(backend, method, request):
    """The result of asking one request once."""
    [(_, result)] = ask(backend, method, [request])
    return result


def test_verbalized_answer_is_parsed(server, items):
    req = build_requests(items[:1], "verbalized", load_prompt_set())[0]
    res = one(backend_for(server), Verbalized(), req)
    expected = answer_for(prompt_text(req))
    total = sum(expected.values())
    assert res.status == "ok" and res.attempts == 1
    assert res.distribution == pytest.approx({k: v / total for k, v in expected.items()})
    assert server.requests[0]["temperature"] == 0 and server.requests[0]["model"] == "test-model"
    assert res.prompt_tokens > 0


def test_logprob_method_reads_top_logprobs(server, items):
    req = build_requests(items[:1], "logprob", load_prompt_set())[0]
    res = one(backend_for(server), Logprob(), req)
    assert res.status == "ok"
    assert server.requests[0]["logprobs"] is True and server.requests[0]["top_logprobs"] == 20
    expected = answer_for(prompt_text(req))
    total = sum(expected.values())
    assert res.distribution == pytest.approx({k: v / total for k, v in expected.items()}, abs=1e-9)


def test_unparseable_answer_is_reasked_then_recorded(server, items, tmp_path):
    bad = ("content", "I think most people value family.")
    server.script.extend([bad, bad, bad])
    reqs = build_requests(items[:1], "verbalized", load_prompt_set())
    with ResultStore(tmp_path / "results.csv") as store:
        summary = run_condition(backend_for(server), Verbalized(), reqs, store, max_attempts=3, progress=False)
        row = store.rows["Q1"]
    assert summary.unparsed == 1 and len(server.requests) == 3
    assert row["status"] == "unparsed" and row["attempts"] == "3" and row["error"] == "no_mapping"
    assert row["response"] == bad[1]
    # re-asks sample, since a greedy re-ask repeats itself
    assert [r["temperature"] for r in server.requests] == [0, 0.7, 0.7]
    # a rerun asks the failed item again and now succeeds
    with ResultStore(tmp_path / "results.csv") as store:
        summary = run_condition(backend_for(server), Verbalized(), reqs, store, progress=False)
    assert summary.ok == 1


@pytest.mark.parametrize("fault", [
    ("status", 429, {"Retry-After": "0"}),
    ("status", 429, {}),
    ("status", 500, {}),
    ("status", 503, {}),
    "drop",
])
def test_transient_faults_are_retried(server, items, fault):
    server.script.extend([fault, fault])
    req = build_requests(items[:1], "verbalized", load_prompt_set())[0]
    res = one(backend_for(server), Verbalized(), req)
    assert res.status == "ok" and len(server.requests) == 3


def test_retries_are_bounded_and_recorded(server, items):
    server.script.extend([("status", 503, {})] * 10)
    req = build_requests(items[:1], "verbalized", load_prompt_set())[0]
    res = one(backend_for(server, max_retries=2), Verbalized(), req)
    assert res.status == "error" and "503" in res.error and len(server.requests) == 3


def test_client_errors_are_not_retried(server, items):
    server.script.append(("status", 400, {}))
    req = build_requests(items[:1], "verbalized", load_prompt_set())[0]
    res = one(backend_for(server), Verbalized(), req)
    assert res.status == "error" and "400" in res.error and len(server.requests) == 1


def test_concurrent_run_equals_sequential(server, items, tmp_path):
    reqs = build_requests(items[:30], "verbalized", load_prompt_set())
    rows = {}
    for conc in (1, 8):
        with ResultStore(tmp_path / f"c{conc}" / "results.csv") as store:
            run_condition(backend_for(server, concurrency=conc), Verbalized(), reqs, store, progress=False)
        rows[conc] = [(r["id"], r["distribution"], r["response"])
                      for r in read_table(tmp_path / f"c{conc}" / "results.csv").rows]
    assert rows[1] == rows[8] and len(rows[1]) == 30


def test_pure_payload_and_reply_functions(items):
    req = build_requests(items[:1], "logprob", load_prompt_set())[0]
    payload = wire.payload(req, "m", Score(0.0, 512))
    assert payload["max_tokens"] == 3 and payload["logprobs"] is True and payload["top_logprobs"] == 20
    body = {"choices": [{"message": {"content": "1"}, "logprobs": {"content": [
        {"token": "1", "logprob": -0.5, "top_logprobs": [
            {"token": "1", "logprob": -0.5}, {"token": " 2", "logprob": -1.5}, {"token": "Yes", "logprob": -2.0}]}]}}]}
    got = wire.scores(body, req.item.choice_keys, 0.0)
    assert isinstance(got, Scores) and got.content == "1"
    dist = read_scores(req.item, got).distribution
    assert dist["3"] == 0 and dist["4"] == 0
    assert dist["1"] / dist["2"] == pytest.approx(2.718281828, rel=1e-6)
    no_lp = wire.scores({"choices": [{"message": {"content": "1"}}]}, req.item.choice_keys, 0.0)
    assert isinstance(no_lp, Failure) and no_lp.status == "unparsed" and "no logprobs" in no_lp.reason
    assert read_scores(req.item, no_lp).response == "1"


def test_reasoning_content_is_kept_but_not_parsed(items):
    body = {"choices": [{"message": {"content": "{'1': '50%', '2': '50%'}",
                                     "reasoning_content": "maybe {'1': '100%'}"}}]}
    reply = wire.completion([body], 1, 0.0)
    assert reply == Completion(("{'1': '50%', '2': '50%'}",), reply.usage, reasoning="maybe {'1': '100%'}")
    res = read_mapping(items[0], reply)
    assert res.distribution == {"1": 0.5, "2": 0.5, "3": 0.0, "4": 0.0}
    assert res.raw_text.startswith("<think>maybe") and res.response == "{'1': '50%', '2': '50%'}"


def test_a_refusal_is_unparsed_with_its_text(items):
    reply = wire.completion([{"choices": [{"message": {"content": None, "refusal": "I can't help."}}]}], 1, 0.0)
    res = read_mapping(items[0], reply)
    assert (res.status, res.error, res.raw_text, res.response) == ("unparsed", "refusal", "[refusal] I can't help.", "")


def test_endpoints_and_missing_key(monkeypatch):
    assert resolve_endpoint("deepseek-reasoner", None, None).api_key_env == "DEEPSEEK_API_KEY"
    assert resolve_endpoint("gpt-4o", None, None).base_url is None
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(UserError, match="OPENAI_API_KEY"):
        make_client(resolve_endpoint("gpt-4o", None, None))
    # a self-hosted server may run without a key
    make_client(resolve_endpoint("local", "http://127.0.0.1:1/v1", None))
