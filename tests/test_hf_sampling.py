"""`--method sample` on a local model: the batched sampler against plain generation, and the
bundled model end to end (slow)."""
from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoTokenizer, DynamicCache, LlamaConfig, LlamaForCausalLM

from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.probing.backends.hf.backend import HFBackend
from utils.probing.backends.hf.branches import items_per_batch, sample_items
from utils.probing.loop import ask
from utils.probing.methods.sample import Sample, code_complete, read_code
from utils.probing.prompts import build_requests, load_prompt_set


def stops(keys):
    """The sample method's stop rule per item: a whole option code of `keys[i]`."""
    return [lambda text, k=k: code_complete(text, k) for k in keys]


@pytest.fixture(scope="module")
def untied(tiny_model_dir):
    """A 2-layer Llama with random, untied weights: its greedy answers differ from item to item
    and token to token (the tied tiny model repeats its last input token), so a wrong position,
    mask or cache row shows up as a different token."""
    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    torch.manual_seed(1)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                      tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(30)
    return tok, model


@pytest.fixture(scope="module")
def requests():
    items = load_questionnaire(questionnaire_path())
    return build_requests([items[i] for i in (0, 7, 30, 61, 100)], "sample", load_prompt_set())  # lengths differ


def greedy(model, tok, ids: list[int], steps: int) -> str:
    """The plain way: the whole prompt through `generate`, greedy, no cache shared."""
    x = torch.tensor([ids])
    out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=steps, do_sample=False,
                         temperature=None, top_p=None, top_k=None, pad_token_id=tok.pad_token_id)
    return tok.decode(out[0, len(ids):], skip_special_tokens=True)


@pytest.mark.parametrize("use_prefix", [False, True])
def test_batched_sampler_at_temperature_0_is_plain_greedy_generation(untied, requests, use_prefix):
    """Greedy rows equal `generate` on each whole prompt, token for token. Items 0 and 2 are
    given their answer's first word as a "code", so their rows stop (and leave the batch) after
    it, while the other rows go on: what is left must still be computed right."""
    tok, model = untied
    backend = HFBackend(model, tok)
    seqs = [backend.encode(r) for r in requests]
    assert len({len(s) for s in seqs}) > 1  # the gap between prefix and item is exercised
    with torch.inference_mode():
        want = [greedy(model, tok, s, 6) for s in seqs]
    assert len(set(want)) >= 3  # the model answers the items differently
    stop_early = {0: want[0].split()[0], 2: want[2].split()[0]}
    keys = [(stop_early[i],) if i in stop_early else ("never-a-code",) for i in range(len(seqs))]
    p, cache = 0, None
    if use_prefix:
        p = next(i for i in range(min(map(len, seqs))) if len({s[i] for s in seqs}) > 1)
        cache = DynamicCache()
        with torch.inference_mode():
            model(torch.tensor([seqs[0][:p]]), use_cache=True, **{backend._cache_kw: cache})
    with torch.inference_mode():
        got = sample_items(model, tok, seqs, stops(keys), samples=3, temperature=0.0, max_new_tokens=6, prefix_len=p,
                           prefix_cache=cache, pad_id=backend._pad, cache_kw=backend._cache_kw)
    for i, (g, w) in enumerate(zip(got, want)):
        if i in stop_early:  # stopped after the word and the token that ends it
            assert len(set(g.answers)) == 1 and w.startswith(g.answers[0]) and len(g.answers[0]) < len(w)
            assert g.answers[0].split()[0] == stop_early[i] and len(g.answers[0].split()) == 2
        else:
            assert g.answers == [w] * 3


def plain_sampler(model, tok, seqs, keys, samples: int, steps: int, seed: int) -> list[list[str]]:
    """The rule written plainly: every answer's next-token logits from a forward pass over its whole
    text (prompt + its answer so far, no cache, no other answer anywhere), the unfinished answers'
    tokens drawn together, item by item, from one generator."""
    gen = torch.Generator().manual_seed(seed)
    answers = {(i, b): [] for i in range(len(seqs)) for b in range(samples)}
    active = list(answers)
    for _ in range(steps):
        logits = torch.stack([model(torch.tensor([seqs[i] + answers[i, b]])).logits[0, -1] for i, b in active])
        tokens = torch.multinomial(torch.softmax(logits.float(), -1), 1, generator=gen)[:, 0].tolist()
        still = []
        for (i, b), t in zip(active, tokens):
            if t == tok.eos_token_id:
                continue
            answers[i, b].append(t)
            if not code_complete(tok.decode(answers[i, b], skip_special_tokens=True), keys[i]):
                still.append((i, b))
        active = still
        if not active:
            break
    return [[tok.decode(answers[i, b], skip_special_tokens=True) for b in range(samples)] for i in range(len(seqs))]


@pytest.mark.parametrize("use_prefix", [False, True])
def test_answers_at_temperature_1_equal_a_plain_sampler(untied, requests, use_prefix):
    """Sampled answers, drawn with the same seed, equal those of `plain_sampler`: each answer is
    computed as if it were alone, though all answers of all items share one row per item. One
    answer is made to stop early, so items then feed different numbers of tokens (the fillers)."""
    tok, model = untied
    backend = HFBackend(model, tok)
    seqs = [backend.encode(r) for r in requests[:3]]
    keys = [("never-a-code",)] * 3
    with torch.inference_mode():
        first = plain_sampler(model, tok, seqs, keys, samples=4, steps=5, seed=3)
        assert all(len(set(a)) == 4 for a in first)  # the answers of an item differ from one another
        keys = [(first[0][1].split()[0],), ("never-a-code",), ("never-a-code",)]  # item 0's answer 1 stops early
        want = plain_sampler(model, tok, seqs, keys, samples=4, steps=5, seed=3)
        assert len(want[0][1].split()) == 2 and want[0][1] != first[0][1]
        p, cache = 0, None
        if use_prefix:
            p = next(i for i in range(min(map(len, seqs))) if len({s[i] for s in seqs}) > 1)
            cache = DynamicCache()
            model(torch.tensor([seqs[0][:p]]), use_cache=True, **{backend._cache_kw: cache})
        got = sample_items(model, tok, seqs, stops(keys), samples=4, temperature=1.0, max_new_tokens=5, prefix_len=p,
                           prefix_cache=cache, pad_id=backend._pad, cache_kw=backend._cache_kw,
                           generator=torch.Generator().manual_seed(3))
    assert [g.answers for g in got] == want


def test_sampling_follows_the_models_distribution(untied, requests):
    """First tokens drawn at temperature 1 over many rows match softmax of the plain logits
    (a loose bound: 1000 draws, total variation under 0.1)."""
    tok, model = untied
    backend = HFBackend(model, tok)
    ids = backend.encode(requests[0])
    with torch.inference_mode():
        probs = torch.softmax(model(torch.tensor([ids])).logits[0, -1].float(), -1)
        got = sample_items(model, tok, [ids], stops([("x",)]), samples=1000, temperature=1.0, max_new_tokens=1,
                           pad_id=backend._pad, cache_kw=backend._cache_kw,
                           generator=torch.Generator().manual_seed(0))[0]
    firsts = [tok(a, add_special_tokens=False)["input_ids"][:1] for a in got.answers]
    seen = torch.zeros_like(probs)
    for f in firsts:
        if f:
            seen[f[0]] += 1
    top = probs.topk(5).indices
    assert probs[top].sum() > 0.3  # the check below means something
    assert (seen[top] / len(firsts) - probs[top]).abs().sum() < 0.1


def test_backend_batches_items_and_keeps_every_answer(untied, requests):
    tok, model = untied
    assert items_per_batch(8, 40) == 6 and items_per_batch(2, 40) == 2
    backend = HFBackend(model, tok, batch_size=3)
    backend.prepare(list(requests))
    method = Sample(samples=7)
    assert list(backend.batches(requests, method.how(1))) == [[0, 1, 2], [3, 4]]
    results = [res for _, res in ask(backend, method, requests)]
    for r, res in zip(requests, results):
        answers = json.loads(res.raw_text)
        assert len(answers) == 7 and res.item_id == r.item.id
        assert sum(res.extra["sample_counts"].values()) + res.extra["n_unreadable"] == 7
        assert res.status == "unparsed"  # random weights name no option
    assert results[0].latency_s == pytest.approx(results[1].latency_s)  # asked in one batch, time shared


@pytest.mark.slow
def test_bundled_model_end_to_end(tmp_path):
    """`prob_by_llm.py --method sample` with the bundled SmolLM2-135M-Instruct: distributions in
    steps of 1/readable answers, answers that name options, and the counts in the row."""
    from utils.core.results.table import read_table
    from utils.probing.cli import local_main

    assert local_main(["--method", "sample", "--samples", "8", "--limit", "3", "--results-root", str(tmp_path),
                       "--quiet", "--max-attempts", "1"]) == 0
    rows = read_table(tmp_path / "RQ1" / "SmolLM2-135M-Instruct" / "results.csv").rows
    assert [r["id"] for r in rows] == ["Q1", "Q2", "Q3"]
    # seed 0 (the default) draws the same answers every run (each batch from its own seed, loop.batch_seed):
    # at least half of each item's 8 answers name an option
    assert [r["status"] for r in rows] == ["ok", "ok", "ok"]
    for r in rows:
        answers, counts = json.loads(r["raw_text"]), json.loads(r["sample_counts"])
        readable = sum(counts.values())
        assert len(answers) == 8 and readable + int(r["n_unreadable"]) == 8
        assert (r["status"] == "ok") == (2 * readable >= 8)  # ok when at least half were readable
        if r["status"] == "ok":
            dist = json.loads(r["distribution"])
            assert dist == pytest.approx({k: c / readable for k, c in counts.items()})
            keys = [k.strip("' ") for k in r["choice_keys"].strip("[]").split(",")]
            readable_answers = [a for a in answers if read_code(a, keys) is not None]
            assert len(readable_answers) == readable  # the row's counts are the answers' codes
        # each answer is cut at MAX_ANSWER_TOKENS (16) tokens, never a paragraph of --max-new-tokens
        assert all(len(a) <= 16 * 8 for a in answers), max(answers, key=len)
