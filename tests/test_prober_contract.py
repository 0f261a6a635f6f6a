"""One suite over both probers: the same request in, a well-formed result out."""
from __future__ import annotations

import openai
import pytest

from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.records import ProbeResult
from utils.probing.api_prober import APIProber
from utils.probing.hf_prober import HFProber
from utils.probing.prompts import build_requests, load_prompt_set


@pytest.fixture(params=["api", "hf"])
def make_prober(request, tiny_model):
    if request.param == "hf":
        tokenizer, model = tiny_model
        yield lambda method: HFProber(model, tokenizer, method, max_new_tokens=8)
        return
    from openai_server import FakeOpenAIServer

    with FakeOpenAIServer() as srv:
        client = openai.OpenAI(api_key="k", base_url=srv.base_url, max_retries=0)
        yield lambda method: APIProber(client, "m", method)


@pytest.mark.parametrize("item_id", ["Q1", "Q48", "Q119", "Q122"])
def test_logprob_result_is_a_distribution_over_the_items_codes(make_prober, item_id):
    item = next(i for i in load_questionnaire(questionnaire_path()) if i.id == item_id)
    req = build_requests([item], "logprob", load_prompt_set())[0]
    res = make_prober("logprob").probe(req)
    assert isinstance(res, ProbeResult) and res.item_id == item_id and res.status == "ok"
    assert list(res.distribution) == list(item.choice_keys)
    assert sum(res.distribution.values()) == pytest.approx(1.0) and min(res.distribution.values()) >= 0
    assert res.response.startswith("{") and res.raw_text


def test_verbalized_result_is_ok_or_says_why(make_prober):
    item = load_questionnaire(questionnaire_path())[0]
    req = build_requests([item], "verbalized", load_prompt_set())[0]
    res = make_prober("verbalized").probe(req)
    assert res.status in ("ok", "unparsed")
    assert (res.distribution is not None) == (res.status == "ok")
    assert res.status == "ok" or res.error
