"""One suite over both probers: the same request in, a well-formed result out.

Each case has one expected outcome. The verbalized cases script the answer: the local OpenAI-
protocol server replies with the given text, and the tiny local model is made to write it
(see `scripted_model.py`), so a well-formed mapping must come back `ok` with exactly its
numbers, and a reply without one `unparsed` with the reason, from both probers.
"""
from __future__ import annotations

import openai
import pytest

from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.records import ProbeResult
from utils.probing.backends.api.prober import APIProber
from utils.probing.backends.hf.prober import HFProber
from utils.probing.prompts import build_requests, load_prompt_set


@pytest.fixture(params=["api", "hf"])
def make_prober(request, tiny_model, tiny_model_dir):
    """`make(method, reply=None)`: a prober; with `reply`, its model answers exactly that."""
    if request.param == "hf":
        from scripted_model import scripted

        tokenizer, model = tiny_model

        def make_hf(method, reply=None):
            return HFProber(scripted(tiny_model_dir, reply) if reply else model, tokenizer, method, max_new_tokens=64)
        yield make_hf
        return
    from openai_server import FakeOpenAIServer

    with FakeOpenAIServer() as srv:
        client = openai.OpenAI(api_key="k", base_url=srv.base_url, max_retries=0)

        def make_api(method, reply=None):
            if reply:
                srv.script.append(("content", reply))
            return APIProber(client, "m", method)
        yield make_api


def request_for(item_id: str, method: str):
    item = next(i for i in load_questionnaire(questionnaire_path()) if i.id == item_id)
    return item, build_requests([item], method, load_prompt_set())[0]


@pytest.mark.parametrize("item_id", ["Q1", "Q48", "Q119", "Q122"])
def test_logprob_result_is_a_distribution_over_the_items_codes(make_prober, item_id):
    item, req = request_for(item_id, "logprob")
    res = make_prober("logprob").probe(req)
    assert isinstance(res, ProbeResult) and res.item_id == item_id and res.status == "ok"
    assert list(res.distribution) == list(item.choice_keys)
    assert sum(res.distribution.values()) == pytest.approx(1.0) and min(res.distribution.values()) >= 0
    assert res.response.startswith("{") and res.raw_text


def test_verbalized_mapping_is_ok_with_its_numbers(make_prober):
    reply = "{'1': '10%', '2': '20%', '3': '30%', '4': '40%'}"
    _, req = request_for("Q1", "verbalized")
    res = make_prober("verbalized", reply).probe(req)
    assert res.status == "ok" and res.error == "" and res.raw_text == reply
    assert res.distribution == pytest.approx({"1": 0.1, "2": 0.2, "3": 0.3, "4": 0.4})


def test_verbalized_without_a_mapping_is_unparsed_and_says_why(make_prober):
    _, req = request_for("Q1", "verbalized")
    res = make_prober("verbalized", "I cannot say.").probe(req)
    assert res.status == "unparsed" and res.distribution is None
    assert res.raw_text == "I cannot say." and res.error == "no_mapping"
