"""`--method sample` through the API backend, against a real local HTTP server that honours `n`
(as OpenAI and vLLM do) or ignores it (as llama.cpp's server does)."""
from __future__ import annotations

import json
from collections import Counter

import openai
import pytest
from openai_server import FakeOpenAIServer, answer_for

from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.results.table import read_table
from utils.probing.backends.api import wire
from utils.probing.backends.api.backend import ApiBackend
from utils.probing.cli import api_main
from utils.probing.loop import ask
from utils.probing.methods.sample import Sample
from utils.probing.prompts import build_requests, load_prompt_set


@pytest.fixture(scope="module")
def requests():
    items = load_questionnaire(questionnaire_path())[:6]
    return build_requests(items, "sample", load_prompt_set())


class Sampler:
    """`probe(request)`: one item asked once with `samples` answers, through one backend."""

    def __init__(self, srv: FakeOpenAIServer, samples: int, concurrency: int = 1):
        client = openai.OpenAI(api_key="k", base_url=srv.base_url, max_retries=0, timeout=30)
        self.backend = ApiBackend(client, "m", concurrency=concurrency, backoff_s=0.01)
        self.method = Sample(samples=samples, temperature=1.0)

    def probe(self, request):
        [(_, result)] = ask(self.backend, self.method, [request])
        return result




def test_payload_asks_n_answers_in_the_respondent_wording(requests):
    payload = wire.payload(requests[0], "m", Sample(40, 1.0, 512).how())
    assert payload["n"] == 40 and payload["temperature"] == 1.0 and payload["max_tokens"] == 16
    assert "logprobs" not in payload
    assert "Reply with the number of the option a respondent would choose" in payload["messages"][-1]["content"]
    assert "n" not in wire.payload(requests[0], "m", Sample(1, 1.0, 512).how())


def test_a_server_that_honours_n_gets_one_request(requests):
    with FakeOpenAIServer(pick_one=True) as srv:
        result = Sampler(srv, 20).probe(requests[0])
    assert len(srv.requests) == 1 and srv.requests[0]["n"] == 20
    answers = json.loads(result.raw_text)
    assert len(answers) == 20 and result.status == "ok"
    counts = result.extra["sample_counts"]
    assert counts == {k: Counter(answers)[k] for k in requests[0].item.choice_keys}
    assert result.distribution == {k: c / 20 for k, c in counts.items()}
    assert set(answers) <= set(answer_for(srv.requests[0]["messages"][-1]["content"]))


def test_a_server_that_ignores_n_gets_one_request_per_answer_within_concurrency(requests):
    with FakeOpenAIServer(pick_one=True, honour_n=False, delay_s=0.05) as srv:
        p = Sampler(srv, 12, concurrency=3)
        first = p.probe(requests[0])
        n_first = len(srv.requests)
        second = p.probe(requests[1])
    assert n_first == 12 and srv.requests[0]["n"] == 12  # asked once with n, then 11 fan-out requests
    assert all("n" not in body for body in srv.requests[1:])  # known now: later items never send n
    assert len(srv.requests) == 24 and srv.max_in_flight == 3
    for result in (first, second):
        assert result.status == "ok" and len(json.loads(result.raw_text)) == 12
        assert sum(result.extra["sample_counts"].values()) == 12


def test_unreadable_answers_are_counted_and_below_half_is_unparsed(requests):
    with FakeOpenAIServer(pick_one=True, unreadable=0.3) as srv:
        mostly = Sampler(srv, 40).probe(requests[0])
    with FakeOpenAIServer(pick_one=True, unreadable=0.9) as srv:
        rarely = Sampler(srv, 40).probe(requests[0])
    for result in (mostly, rarely):
        answers = json.loads(result.raw_text)
        bad = sum(a == "I would rather not say." for a in answers)
        assert result.extra["n_unreadable"] == bad and sum(result.extra["sample_counts"].values()) == 40 - bad
    assert mostly.status == "ok" and 0 < mostly.extra["n_unreadable"] <= 20
    assert rarely.status == "unparsed" and rarely.extra["n_unreadable"] > 20 and rarely.distribution is None


def test_fan_out_requests_are_retried_and_a_lasting_error_fails_the_item(requests):
    with FakeOpenAIServer(pick_one=True, honour_n=False) as srv:
        srv.script.extend([None, ("status", 503, {"Retry-After": "0"})])  # 2nd request: one 503, then fine
        ok = Sampler(srv, 5).probe(requests[0])
        assert ok.status == "ok" and len(json.loads(ok.raw_text)) == 5 and len(srv.requests) == 6
        srv.script.extend([("status", 400, {})])  # not retryable: the item is an error row
        bad = Sampler(srv, 5).probe(requests[1])
    assert bad.status == "error" and "400" in bad.error


@pytest.mark.parametrize("honour_n", [True, False])
def test_prob_by_api_sample_gives_shares_in_twentieths(tmp_path, honour_n):
    """The issue's check: `--method sample --samples 20 --limit 10` gives 10 distributions, each a
    multiple of 1/20 over the readable answers (all readable here)."""
    with FakeOpenAIServer(pick_one=True, honour_n=honour_n) as srv:
        code = api_main(["--base_url", srv.base_url, "--model_name_or_path", "X", "--method", "sample",
                         "--samples", "20", "--limit", "10", "--concurrency", "4", "--results-root", str(tmp_path),
                         "--quiet"])
    assert code == 0
    assert len(srv.requests) == (10 if honour_n else 200)
    rows = read_table(tmp_path / "RQ1" / "X" / "results.csv").rows
    assert len(rows) == 10 and {r["status"] for r in rows} == {"ok"} and {r["method"] for r in rows} == {"sample"}
    for r in rows:
        dist, counts = json.loads(r["distribution"]), json.loads(r["sample_counts"])
        assert r["n_unreadable"] == "0" and sum(counts.values()) == 20 and len(json.loads(r["raw_text"])) == 20
        assert all(abs(20 * v - round(20 * v)) < 1e-9 for v in dist.values())
        assert dist == {k: c / 20 for k, c in counts.items()}
        assert r["samples"] == "20" and r["temperature"] == "1"
