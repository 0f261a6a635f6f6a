"""Faults from the server, injected by the real HTTP test server (`tests/openai_server.py`).

Transient faults (429 with and without Retry-After, 500, 503, timeouts, dropped connections) are
retried with bounded back-off; every other fault (invalid JSON, a body that is not a chat
completion, 4xx, refusals, empty or null content, an exception inside the backend) becomes that
item's recorded row with its reason while the run goes on, and a rerun asks exactly those
items again. Figures for the README's "Reliability" section are collected in `FIGURES` and
written to $RELIABILITY_FIGURES when set (see `tests/reliability_figures.py`).
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import openai
import pytest
from openai_server import FakeOpenAIServer
from reliability_figures import report_figures

from utils.core.errors import UserError
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.results.table import read_table
from utils.probing.backends.api.backend import ApiBackend, _retry_after_s
from utils.probing.prompts import build_requests, load_prompt_set
from utils.probing.results_store import ResultStore
from utils.probing.loop import ask, run_condition
from utils.probing.methods.verbalized import Verbalized

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "code" / "RQ1" / "prob_by_api.py"
FIGURES: Counter = Counter()


_report = report_figures("faults", FIGURES)


@pytest.fixture(scope="module")
def requests():
    items = load_questionnaire(questionnaire_path())
    return build_requests(items[:12], "verbalized", load_prompt_set())


def backend_for(server, timeout=10.0, **kw) -> ApiBackend:
    client = openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0, timeout=timeout)
    return ApiBackend(client, "test-model", backoff_s=0.01, **kw)


def run_requests(backend, requests, store, max_attempts=3, **kw):
    return run_condition(backend, Verbalized(), requests, store, max_attempts=max_attempts, **kw)


def one(backend, request):
    [(_, result)] = ask(backend, Verbalized(), [request])
    return result


TRANSIENT = {
    "429 Retry-After": ("status", 429, {"Retry-After": "0"}),
    "429 retry-after-ms": ("status", 429, {"retry-after-ms": "10"}),
    "429 bare": ("status", 429, {}),
    "500": ("status", 500, {}),
    "502": ("status", 502, {}),
    "503": ("status", 503, {}),
    "timeout": ("sleep", 1.0),
    "dropped connection": "drop",
}


@pytest.mark.parametrize("name", list(TRANSIENT))
def test_transient_fault_is_retried_and_the_answer_kept(server, requests, tmp_path, name):
    server.script.extend([TRANSIENT[name]] * 2)
    with ResultStore(tmp_path / "results.csv") as store:
        summary = run_requests(backend_for(server, timeout=0.4), requests[:1], store, progress=False)
        row = store.rows["Q1"]
    assert summary.ok == 1 and row["status"] == "ok" and len(server.requests) == 3
    FIGURES["faults injected"] += server.faults_served
    FIGURES["faults survived by retry"] += server.faults_served
    FIGURES["runs completed"] += 1


@pytest.mark.parametrize("fault", [("status", 503, {}), ("sleep", 1.0), "drop"], ids=["503", "timeout", "drop"])
def test_retries_are_bounded_then_recorded_and_the_run_goes_on(server, requests, tmp_path, fault):
    server.script.extend([fault] * 3)  # Q1 fails 3 times = 1 ask + 2 retries; Q2 is fine
    with ResultStore(tmp_path / "results.csv") as store:
        summary = run_requests(backend_for(server, timeout=0.4, max_retries=2), requests[:2], store, progress=False)
        rows = dict(store.rows)
    assert rows["Q1"]["status"] == "error" and rows["Q1"]["error"] and rows["Q2"]["status"] == "ok"
    assert summary.errors == 1 and len(server.requests) == 4
    FIGURES["faults injected"] += server.faults_served
    FIGURES["items recorded as error after bounded retries"] += 1
    FIGURES["runs completed"] += 1


def test_backoff_grows_is_capped_and_honours_the_server(server, requests, monkeypatch):
    waits: list[float] = []
    server.script.extend([("status", 503, {})] * 6)
    backend = backend_for(server, max_retries=6)
    # back-off waits on the backend's stop event (a stop ends them at once): record them instead
    monkeypatch.setattr(backend, "_stop", SimpleNamespace(wait=waits.append, is_set=lambda: False))
    backend.backoff_s, backend.max_backoff_s = 1.0, 8.0
    assert one(backend, requests[0]).status == "ok"
    assert len(waits) == 6
    for n, w in enumerate(waits):  # 1, 2, 4, 8, 8, 8 s with jitter in [0.5, 1]
        assert min(2 ** n, 8) * 0.5 <= w <= min(2 ** n, 8)
    assert waits[3] > waits[0]

    class R:
        def __init__(self, headers):
            self.headers = headers
    assert _retry_after_s(R({"retry-after": "7"})) == 7
    assert _retry_after_s(R({"retry-after-ms": "250"})) == 0.25
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 < _retry_after_s(R({"retry-after": later})) <= 31
    assert _retry_after_s(R({"retry-after": "soon"})) is None and _retry_after_s(R({})) is None
    waits.clear()
    server.script.append(("status", 429, {"Retry-After": "3600"}))
    assert one(backend, requests[0]).status == "ok" and waits == [8.0]  # capped by max_backoff_s
    FIGURES["faults injected"] += server.faults_served
    FIGURES["faults survived by retry"] += server.faults_served


# Faults that retrying will not fix: each becomes the item's row, with its reason.
RECORDED = {
    "invalid JSON body": ("invalid_json", "error", "not valid JSON"),
    "400": (("status", 400, {}), "error", "400"),
    "401": (("status", 401, {}), "error", "401"),
    "404": (("status", 404, {}), "error", "404"),
    "422": (("status", 422, {}), "error", "422"),
    "no choices": (("body", {"id": "x", "choices": []}), "error", "no choices"),
    "choices null": (("body", {"id": "x", "choices": None}), "error", "no choices"),
    "choices not a list": (("body", {"choices": "x"}), "error", "no choices"),
    "choice null": (("body", {"choices": [None]}), "error", "no message"),
    "message null": (("body", {"choices": [{"message": None}]}), "error", "no message"),
    "body is a list": (("body", []), "error", "not a chat completion"),
    "body is a string": (("body", "hello"), "error", "not a chat completion"),
    "content null": (("body", {"choices": [{"message": {"role": "assistant", "content": None}}]}), "unparsed", "empty"),
    "content a number": (("body", {"choices": [{"message": {"content": 5}}]}), "unparsed", "no_mapping"),
    "structured refusal": (("body", {"choices": [{"message": {"content": None, "refusal": "I can't."}}]}),
                           "unparsed", "refusal"),
    "refusal in plain text": (("content", "I'm sorry, but I can't help with that."), "unparsed", "no_mapping"),
    "empty content": (("content", ""), "unparsed", "empty"),
}


def test_every_other_fault_is_recorded_and_a_rerun_asks_only_those(server, requests, tmp_path):
    """One fault per item, all in one run (with 4 in flight): no fault stops the run."""
    names = list(RECORDED)
    reqs = build_requests(load_questionnaire(questionnaire_path())[: len(names) + 3], "verbalized",
                          load_prompt_set())
    by_id = {r.item.id: name for name, r in zip(names, reqs)}
    # Faults are served in arrival order, so run one at a time for an exact pairing: every item
    # once (the last 3 answered as they should be), then the unparsed ones again, twice over...
    server.script.extend([RECORDED[name][0] for name in names] + [None] * 3)
    unparsed = [RECORDED[name][0] for name in names if RECORDED[name][1] == "unparsed"]
    server.script.extend(unparsed * 2)
    path = tmp_path / "results.csv"
    with ResultStore(path) as store:
        summary = run_requests(backend_for(server), reqs, store, max_attempts=3, progress=False)
        rows = dict(store.rows)
    for item_id, name in by_id.items():
        _, status, reason = RECORDED[name]
        assert rows[item_id]["status"] == status, name
        assert reason in rows[item_id]["error"], (name, rows[item_id]["error"])
    assert summary.ok == 3 and summary.ok + summary.unparsed + summary.errors == len(reqs)
    injected = server.faults_served
    # ...and the rerun, with 4 in flight, asks exactly the items that failed, once each.
    before = len(server.requests)
    with ResultStore(path) as store:
        summary = run_requests(backend_for(server, concurrency=4), reqs, store, progress=False)
    assert summary.skipped == 3 and summary.ok == len(names)
    asked = [json.dumps(r["messages"]) for r in server.requests[before:]]
    assert len(asked) == len(names) and len(set(asked)) == len(names)
    assert [r["id"] for r in read_table(path).rows] == [r.item.id for r in reqs]
    assert all(r["status"] == "ok" for r in read_table(path).rows)
    FIGURES["faults injected"] += injected
    FIGURES["items recorded with their reason"] += len(names)
    FIGURES["fault kinds recorded as a row"] = len(RECORDED)
    FIGURES["runs completed"] += 2


def flaky(backend: ApiBackend, requests, bad: set[str], exc: Exception) -> ApiBackend:
    """The backend, its client raising `exc` for the items in `bad` (a bug, an OOM, a library error)."""
    questions = {r.messages[-1].content: r.item.id for r in requests}
    create = backend.client.chat.completions.create

    def maybe_raise(**payload):
        if questions.get(payload["messages"][-1]["content"]) in bad:
            raise exc
        return create(**payload)
    backend.client = SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=maybe_raise)),
                                     base_url=backend.client.base_url)
    return backend


@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize("exc", [RuntimeError("CUDA out of memory"), KeyError("logprobs"), ValueError("x")],
                         ids=["RuntimeError", "KeyError", "ValueError"])
def test_an_unexpected_exception_is_one_items_error(server, requests, tmp_path, concurrency, exc):
    backend = flaky(backend_for(server, concurrency=concurrency), requests, {"Q2", "Q5"}, exc)
    with ResultStore(tmp_path / "results.csv") as store:
        summary = run_requests(backend, requests, store, progress=False)
        rows = dict(store.rows)
    assert summary.errors == 2 and summary.ok == len(requests) - 2
    assert rows["Q2"]["status"] == "error" and type(exc).__name__ in rows["Q2"]["error"]
    with ResultStore(tmp_path / "results.csv") as store:  # the rerun asks only Q2 and Q5
        summary = run_requests(backend_for(server), requests, store, progress=False)
    assert summary.skipped == len(requests) - 2 and summary.ok == 2
    FIGURES["faults injected"] += 2
    FIGURES["items recorded with their reason"] += 2
    FIGURES["runs completed"] += 2


def test_api_response_validation_error_is_recorded(server, requests, monkeypatch):
    """The openai client raises APIResponseValidationError when a reply does not match its schema
    (strict validation). The error is built around a real HTTP response from the real test server,
    taken from the client itself, so it holds whatever request/response types the installed
    `openai` uses (a hand-made stand-in broke when openai began reading `response.request.headers`)."""
    backend = backend_for(server)
    raw = backend.client.chat.completions.with_raw_response.create(
        model="test-model", messages=[{"role": "user", "content": "Options:\n1. a\n2. b"}])
    assert raw.http_response.request is not None  # a real response knows its request

    def invalid(**payload):
        raise openai.APIResponseValidationError(response=raw.http_response, body={"x": 1},
                                                message="Data does not match schema")
    monkeypatch.setattr(backend.client.chat.completions, "create", invalid)
    res = one(backend, requests[0])
    assert res.status == "error" and "APIResponseValidationError" in res.error
    FIGURES["faults injected"] += 1
    FIGURES["items recorded with their reason"] += 1


def test_a_user_error_stops_the_run_and_asks_nothing_more(server, requests, tmp_path):
    backend = flaky(backend_for(server), requests, {"Q3"}, UserError("configuration is wrong"))
    with ResultStore(tmp_path / "results.csv") as store:
        with pytest.raises(UserError):
            run_requests(backend, requests, store, progress=False)
        assert set(store.rows) == {"Q1", "Q2"}  # rows before it are kept


def test_storm_of_faults_through_the_script(tmp_path):
    """The RQ1 API script on all 145 items (the 144 and Q151), 8 in flight, with a random fault on about a
    third of the requests: the run completes, every item has its row, and a rerun leaves 145 of 145 ok."""
    rng = random.Random(2026)
    kinds = list(TRANSIENT.values()) + [f for f, _, _ in RECORDED.values()]
    args = [sys.executable, str(API), "--model_name_or_path", "m", "--results-root", str(tmp_path), "--quiet",
            "--concurrency", "8", "--max-retries", "3", "--timeout", "0.5"]
    results = tmp_path / "RQ1" / "m" / "results.csv"
    with FakeOpenAIServer() as srv:
        args += ["--base_url", srv.base_url]
        srv.script.extend(rng.choice(kinds) if rng.random() < 0.35 else None for _ in range(200))
        # Entries are served in arrival order, so the first request, whichever item it is, gets a
        # fault that is recorded as an error and not asked again: run 1 ends with a failed row (exit 1)
        assert srv.script[0] in [f for f, status, _ in RECORDED.values() if status == "error"]
        first = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        injected = srv.faults_served
        rows = read_table(results).rows
        assert first.returncode == 1, first.stderr
        assert sorted(r["id"] for r in rows) == sorted({r["id"] for r in rows}) and len(rows) == 145
        failed = [r for r in rows if r["status"] != "ok"]
        assert all(r["error"] for r in failed)
        srv.script.clear()
        before = len(srv.requests)
        second = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert second.returncode == 0, second.stderr
        assert len(srv.requests) - before == len(failed)  # only the failed items were asked again
    final = read_table(results).rows
    ok_before = {r["id"]: r for r in rows if r["status"] == "ok"}
    assert len(final) == 145 and all(r["status"] == "ok" for r in final)
    assert all(ok_before[r["id"]] == r for r in final if r["id"] in ok_before)  # no answer lost or changed
    FIGURES["storm: requests in run 1"] = before
    FIGURES["storm: faults injected"] = injected
    FIGURES["storm: items failed in run 1, asked again on rerun"] = len(failed)
    FIGURES["storm: items ok after rerun"] = sum(r["status"] == "ok" for r in final)
    FIGURES["faults injected"] += injected
    FIGURES["runs completed"] += 2
    FIGURES["answers lost"] += len(ok_before) - sum(ok_before[r["id"]] == r for r in final if r["id"] in ok_before)
