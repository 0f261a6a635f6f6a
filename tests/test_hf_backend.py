"""The local backend on a tiny real Llama (random weights, real tokenizer and chat template)."""
from __future__ import annotations

import math

import pytest
import torch

from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.probing.backends import Generate
from utils.probing.backends.hf.backend import HFBackend, StopWhen
from utils.probing.loop import ask
from utils.probing.methods.logprob import Logprob
from utils.probing.methods.verbalized import Verbalized, mapping_closed
from utils.probing.prompts import build_requests, load_prompt_set


def one(backend, method, request):
    """The result of asking one request once."""
    [(_, result)] = ask(backend, method, [request])
    return result


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
    backend = HFBackend(model, tokenizer, prefix_cache=use_cache)
    backend.prepare(requests)
    assert (backend._prefix_cache is not None) == use_cache
    for req, res in ask(backend, Logprob(), requests):
        assert res.status == "ok" and list(res.distribution) == list(req.item.choice_keys)
        naive = naive_log_scores(model, tokenizer, backend.encode(req), req.item.choice_keys)
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
    res = one(HFBackend(model, tokenizer), Logprob(), req)
    assert res.distribution["1"] != pytest.approx(res.distribution["10"])


def test_verbalized_is_bounded_and_recorded(tiny_model, tiny_model_dir, items):
    """A model that writes no mapping and never stops: generation ends at the bound, the row says why."""
    from scripted_model import scripted

    tokenizer, _ = tiny_model
    words = " ".join(["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                      "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen"])
    assert len(tokenizer(words, add_special_tokens=False)["input_ids"]) > 12
    req = build_requests(items[:1], "verbalized", load_prompt_set())[0]
    res = one(HFBackend(scripted(tiny_model_dir, words), tokenizer), Verbalized(max_tokens=12), req)
    first12 = tokenizer.decode(tokenizer(words, add_special_tokens=False)["input_ids"][:12])
    assert res.completion_tokens == 12 and res.raw_text == first12
    assert res.status == "unparsed" and res.distribution is None and res.error == "no_mapping"


def test_verbalized_stops_when_mapping_closes(tiny_model):
    tokenizer, _ = tiny_model
    prefix = tokenizer("Reply:", add_special_tokens=False)["input_ids"]

    def closed(text: str) -> bool:
        ids = prefix + tokenizer(text, add_special_tokens=False)["input_ids"]
        return StopWhen(tokenizer, len(prefix), rules=[lambda t: mapping_closed(None, t)])(torch.tensor([ids]), None)

    assert not closed(" {'1': '40%', '2'")
    assert closed(" {'1': '40%', '2': '60%'}")
    assert not closed(" <think>{'1': '40%'} maybe")
    assert closed(" <think>hmm</think>{'1': '100%'}")


def test_verbalized_prefix_cache_gives_the_same_greedy_text(tiny_model, items):
    tokenizer, model = tiny_model
    requests = build_requests(items[:2], "verbalized", load_prompt_set())
    cached = HFBackend(model, tokenizer)
    cached.prepare(requests)
    assert cached._prefix_cache is not None
    plain = HFBackend(model, tokenizer, prefix_cache=False)
    method = Verbalized(max_tokens=10)
    assert [res.raw_text for _, res in ask(cached, method, requests)] == \
        [res.raw_text for _, res in ask(plain, method, requests)]


def test_draws_come_from_the_backends_own_seed_not_torchs_global_state(tiny_model_dir, items):
    """Sampled answers (verbalized at a temperature, and n answers per prompt) depend on the
    backend's seed only: the same seed draws the same again, whatever torch's global state,
    and the global state is left as it was."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).eval()
    with torch.no_grad():  # flat logits: samples differ from draw to draw
        model.lm_head.weight.mul_(0.05)
    requests = build_requests(items[:2], "verbalized", load_prompt_set())
    backend = HFBackend(model, tokenizer)
    method = Verbalized(temperature=1.0, max_tokens=6)

    def drawn(seed: int, global_seed: int) -> list[str]:
        torch.manual_seed(global_seed)
        before = torch.get_rng_state()
        backend.seed(seed)
        texts = [res.raw_text for _, res in ask(backend, method, requests)]
        texts += [c.texts for _, c in backend.generate(requests, Generate(3, 1.0, 4))]
        assert torch.equal(torch.get_rng_state(), before)  # the global state is not touched
        return texts

    assert drawn(0, global_seed=1) == drawn(0, global_seed=2)
    assert drawn(0, global_seed=1) != drawn(5, global_seed=1)
