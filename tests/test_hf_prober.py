"""The local prober on a tiny real Llama (random weights, real tokenizer and chat template)."""
from __future__ import annotations

import math

import pytest
import torch

from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.probing.backends.hf.prober import HFProber
from utils.probing.prompts import build_requests, load_prompt_set


@pytest.fixture(scope="module")
def items():
    its = load_questionnaire(questionnaire_path())
    by_id = {i.id: i for i in its}
    # 4-point, binary, 10-point ("1" is a prefix of "10"), and codes 2/1/0
    return [by_id[i] for i in ("Q1", "Q18", "Q48", "Q122")]


def naive_log_scores(model, tokenizer, ids: list[int], keys) -> dict[str, float]:
    """Independent reading: each option as a complete answer, full sequence, no cache."""
    ends = torch.tensor([not (tokenizer.decode([i])[:1].isalnum()) for i in range(len(tokenizer))])
    out = {}
    for key in keys:
        key_ids = tokenizer(key, add_special_tokens=False)["input_ids"]
        seq = torch.tensor([ids + key_ids])
        with torch.no_grad():
            logp = torch.log_softmax(model(seq).logits[0].float(), -1)
        total = sum(logp[len(ids) - 1 + j, t].item() for j, t in enumerate(key_ids))
        total += torch.logsumexp(logp[-1][: len(ends)][ends], 0).item()
        out[key] = total
    return out


@pytest.mark.parametrize("use_cache", [True, False])
def test_logprob_matches_naive_full_sequence(tiny_model, items, use_cache):
    tokenizer, model = tiny_model
    requests = build_requests(items, "logprob", load_prompt_set())
    prober = HFProber(model, tokenizer, "logprob", prefix_cache=use_cache)
    prober.prepare(requests)
    assert (prober._prefix_cache is not None) == use_cache
    for req in requests:
        res = prober.probe(req)
        assert res.status == "ok" and list(res.distribution) == list(req.item.choice_keys)
        naive = naive_log_scores(model, tokenizer, prober.encode(req), req.item.choice_keys)
        top = max(naive.values())
        z = sum(math.exp(v - top) for v in naive.values())
        for k, p in res.distribution.items():
            assert p == pytest.approx(math.exp(naive[k] - top) / z, abs=1e-4)
        assert sum(res.distribution.values()) == pytest.approx(1.0, abs=1e-9)


def test_ten_and_one_are_distinct_answers(tiny_model, items):
    """'1' followed by '0' is the answer 10, not 1: the mass must not be counted twice."""
    tokenizer, model = tiny_model
    req = build_requests([items[2]], "logprob", load_prompt_set())[0]
    assert len(tokenizer("10", add_special_tokens=False)["input_ids"]) == 2  # split into "1", "0"
    res = HFProber(model, tokenizer, "logprob").probe(req)
    assert res.distribution["1"] != pytest.approx(res.distribution["10"])


def test_verbalized_is_bounded_and_recorded(tiny_model, tiny_model_dir, items):
    """A model that writes no mapping and never stops: generation ends at the bound, the row says why."""
    from scripted_model import scripted

    tokenizer, _ = tiny_model
    words = " ".join(["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                      "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen"])
    assert len(tokenizer(words, add_special_tokens=False)["input_ids"]) > 12
    req = build_requests(items[:1], "verbalized", load_prompt_set())[0]
    res = HFProber(scripted(tiny_model_dir, words), tokenizer, "verbalized", max_new_tokens=12).probe(req)
    first12 = tokenizer.decode(tokenizer(words, add_special_tokens=False)["input_ids"][:12])
    assert res.completion_tokens == 12 and res.raw_text == first12
    assert res.status == "unparsed" and res.distribution is None and res.error == "no_mapping"


def test_verbalized_stops_when_mapping_closes(tiny_model):
    from utils.probing.backends.hf.stopping import MappingClosed as _MappingClosed

    tokenizer, _ = tiny_model
    prefix = tokenizer("Reply:", add_special_tokens=False)["input_ids"]

    def closed(text: str) -> bool:
        ids = prefix + tokenizer(text, add_special_tokens=False)["input_ids"]
        return _MappingClosed(tokenizer, len(prefix))(torch.tensor([ids]), None)

    assert not closed(" {'1': '40%', '2'")
    assert closed(" {'1': '40%', '2': '60%'}")
    assert not closed(" <think>{'1': '40%'} maybe")
    assert closed(" <think>hmm</think>{'1': '100%'}")


def test_verbalized_prefix_cache_gives_the_same_greedy_text(tiny_model, items):
    tokenizer, model = tiny_model
    requests = build_requests(items[:2], "verbalized", load_prompt_set())
    cached = HFProber(model, tokenizer, "verbalized", max_new_tokens=10)
    cached.prepare(requests)
    assert cached._prefix_cache is not None
    plain = HFProber(model, tokenizer, "verbalized", max_new_tokens=10, prefix_cache=False)
    for req in requests:
        assert cached.probe(req).raw_text == plain.probe(req).raw_text
