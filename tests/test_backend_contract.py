"""One suite over both backends: the same requests in, results of the same shape out.

Each case has one expected outcome. The verbalized cases script the answer: the local OpenAI-
protocol server replies with the given text, and the tiny local model is made to write it
(see `scripted_model.py`), so a well-formed mapping must come back `ok` with exactly its numbers,
and a reply without one `unparsed` with the reason, from both backends alike.
"""
from __future__ import annotations

import json

import openai
import pytest

from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.probing.backends import Completion, Generate, Score, Scores
from utils.probing.backends.api.backend import ApiBackend
from utils.probing.backends.hf.backend import HFBackend
from utils.probing.loop import ask
from utils.probing.methods.logprob import Logprob
from utils.probing.methods.sample import Sample
from utils.probing.methods.verbalized import Verbalized
from utils.probing.prompts import build_requests, load_prompt_set

IDS = ("Q1", "Q48", "Q119", "Q122")  # 4-point, 10-point ("1" is a prefix of "10"), 5-point, codes 2/1/0


@pytest.fixture(scope="module")
def items():
    by_id = {i.id: i for i in load_questionnaire(questionnaire_path())}
    return [by_id[i] for i in IDS]


@pytest.fixture(params=["api", "hf"])
def make_backend(request, tiny_model, tiny_model_dir):
    """`make(reply=None)`: a backend; with `reply`, its model answers exactly that, every time."""
    if request.param == "hf":
        from scripted_model import scripted

        tokenizer, model = tiny_model
        yield lambda reply=None: HFBackend(scripted(tiny_model_dir, reply) if reply else model, tokenizer)
        return
    from openai_server import FakeOpenAIServer

    with FakeOpenAIServer(pick_one=True) as srv:
        client = openai.OpenAI(api_key="k", base_url=srv.base_url, max_retries=0)

        def make_api(reply=None):
            if reply:
                srv.script.extend([("content", reply)] * 20)
            return ApiBackend(client, "m", concurrency=3)
        yield make_api


def results(backend, method, requests, max_attempts=1) -> list:
    got = dict(ask(backend, method, requests, max_attempts))
    return [got[r] for r in requests]


def test_batches_cover_every_request_once_in_order(make_backend, items):
    backend = make_backend()
    requests = build_requests(items, "logprob", load_prompt_set())
    backend.prepare(requests)
    for how in (Score(0.0, 512), Generate(1, 0.0, 8), Generate(5, 1.0, 4)):
        runs = list(backend.batches(requests, how))
        assert [i for run in runs for i in run] == list(range(len(requests))) and all(runs)


def test_each_primitive_answers_each_request_once(make_backend, items):
    backend = make_backend()
    requests = build_requests(items, "logprob", load_prompt_set())
    backend.prepare(requests)
    scored = dict(backend.option_logprobs(requests, Score(0.0, 512)))
    assert sorted(scored) == list(range(len(requests)))
    assert all(isinstance(s, Scores) and list(s.scores) == list(r.item.choice_keys)
               for r, s in ((requests[i], s) for i, s in scored.items()))
    written = dict(backend.generate(requests, Generate(3, 1.0, 4)))
    assert sorted(written) == list(range(len(requests)))
    assert all(isinstance(c, Completion) and len(c.texts) == 3 for c in written.values())


def test_logprob_result_is_a_distribution_over_the_items_codes(make_backend, items):
    requests = build_requests(items, "logprob", load_prompt_set())
    for req, res in zip(requests, results(make_backend(), Logprob(), requests)):
        assert res.item_id == req.item.id and res.status == "ok" and res.attempts == 1
        assert list(res.distribution) == list(req.item.choice_keys)
        assert sum(res.distribution.values()) == pytest.approx(1.0) and min(res.distribution.values()) >= 0
        assert res.response.startswith("{") and json.loads(res.raw_text)["option_logprobs"]


def test_verbalized_mapping_is_ok_with_its_numbers(make_backend, items):
    reply = "{'1': '10%', '2': '20%', '3': '30%', '4': '40%'}"
    req = build_requests(items[:1], "verbalized", load_prompt_set())[0]
    [res] = results(make_backend(reply), Verbalized(max_tokens=64), [req])
    assert res.status == "ok" and res.error == "" and res.raw_text == reply and res.response == reply
    assert res.distribution == pytest.approx({"1": 0.1, "2": 0.2, "3": 0.3, "4": 0.4})


def test_verbalized_without_a_mapping_is_unparsed_and_asked_again(make_backend, items):
    req = build_requests(items[:1], "verbalized", load_prompt_set())[0]
    [res] = results(make_backend("I cannot say."), Verbalized(max_tokens=64), [req], max_attempts=2)
    assert res.status == "unparsed" and res.distribution is None and res.attempts == 2
    assert res.raw_text == "I cannot say." and res.error == "no_mapping"


def test_sample_keeps_every_answer_and_counts_them(make_backend, items):
    requests = build_requests(items[:2], "sample", load_prompt_set())
    for req, res in zip(requests, results(make_backend(), Sample(samples=6, temperature=1.0), requests)):
        answers, counts = json.loads(res.raw_text), res.extra["sample_counts"]
        assert len(answers) == 6 and list(counts) == list(req.item.choice_keys)
        assert sum(counts.values()) + res.extra["n_unreadable"] == 6
        assert res.status == ("ok" if 2 * sum(counts.values()) >= 6 else "unparsed")


@pytest.mark.parametrize("reply", ["{'1': '10%', '2': '20%', '3': '30%', '4': '40%'}", "I cannot say.",
                                   "<think>hmm {'1': 1}</think>{'1': '70%', '2': '30%'}"])
def test_both_backends_read_a_reply_alike(tiny_model, tiny_model_dir, items, reply):
    """The same reply from a server and from a local model is the same row, field for field
    (but for timing and token counts, which each backend measures its own way)."""
    from openai_server import FakeOpenAIServer
    from scripted_model import scripted

    req = build_requests(items[:1], "verbalized", load_prompt_set())[0]
    method = Verbalized(max_tokens=64)
    [local] = results(HFBackend(scripted(tiny_model_dir, reply), tiny_model[0]), method, [req], max_attempts=2)
    with FakeOpenAIServer() as srv:
        srv.script.extend([("content", reply)] * 2)
        [served] = results(ApiBackend(openai.OpenAI(api_key="k", base_url=srv.base_url, max_retries=0), "m"),
                           method, [req], max_attempts=2)
    fields = ("item_id", "status", "distribution", "response", "raw_text", "error", "attempts", "extra", "final")
    assert {f: getattr(local, f) for f in fields} == {f: getattr(served, f) for f in fields}
