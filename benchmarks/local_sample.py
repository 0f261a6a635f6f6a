"""The `sample` part of bench_local.py: N answers per item, batched, against N separate generations.

Naive: for each item, `samples` separate `model.generate` calls on the whole prompt, sampling at
temperature 1 (no top-k, no top-p), each stopped by the same rule as ours (a whole option code
written, end of text, or 16 new tokens). Ours: `HFBackend` asked by `Sample`, which computes each
prompt once per batch of items and samples all answers of all items together, as branches of
their items' rows, feeding an answer no more once it is finished (utils/probing/backends/hf/branches.py). Both read the answers with the same reader.

The answers are random, so the two ways cannot be compared answer by answer; the table shows how
many answers named an option and the total variation distance between the two ways' pooled
shares (small when both sample the same distribution; it shrinks with more samples).
Each repeat times both ways anew; `ratio` is the median of naive seconds / ours seconds.
"""
from __future__ import annotations

import json
import statistics
import time

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from utils.probing.backends.hf.backend import HFBackend
from utils.probing.loop import ask
from utils.probing.backends.hf.branches import items_per_batch
from utils.probing.prompts import build_requests, load_prompt_set
from utils.probing.methods.sample import MAX_ANSWER_TOKENS, Sample, code_complete, summarize


class _CodeWritten(StoppingCriteria):
    """One row: stop once the new text holds a whole option code (ours' rule)."""

    def __init__(self, tokenizer, start: int, keys):
        self.tokenizer, self.start, self.keys = tokenizer, start, keys

    def __call__(self, input_ids, scores, **kwargs) -> torch.Tensor:
        text = self.tokenizer.decode(input_ids[0, self.start:], skip_special_tokens=True)
        return torch.tensor([code_complete(text, self.keys)], device=input_ids.device)


def naive_sample(model, tokenizer, prober: HFBackend, requests, samples: int) -> list[list[str]]:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out = []
    for r in requests:
        ids = torch.tensor([prober.encode(r)], device=model.device)
        stop = StoppingCriteriaList([_CodeWritten(tokenizer, ids.shape[1], r.item.choice_keys)])
        answers = []
        for _ in range(samples):
            gen = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=MAX_ANSWER_TOKENS,
                                 do_sample=True, temperature=1.0, top_k=0, top_p=1.0, pad_token_id=pad,
                                 stopping_criteria=stop)
            answers.append(tokenizer.decode(gen[0, ids.shape[1]:], skip_special_tokens=True))
        out.append(answers)
    return out


def _pooled(answer_lists, requests) -> tuple[dict[str, float], int, int]:
    """Shares of each (item, code) over all readable answers; readable and total counts."""
    counts, readable, total = {}, 0, 0
    for answers, r in zip(answer_lists, requests):
        s = summarize(answers, r.item.choice_keys)
        counts.update({(r.item.id, k): c for k, c in s.counts.items()})
        readable, total = readable + s.n_readable, total + len(answers)
    return {k: c / max(readable, 1) for k, c in counts.items()}, readable, total


def bench_sample(model, tokenizer, items, n_items: int, samples: int, repeats: int, batch_size: int) -> float:
    """Print the sample table; return the median ratio of naive seconds to ours."""
    requests = build_requests(items[::max(1, len(items) // n_items)][:n_items], "sample", load_prompt_set())
    prober = HFBackend(model, tokenizer, batch_size=batch_size)
    rows, ratios = [], []
    for rep in range(repeats):
        torch.manual_seed(rep)
        start = time.perf_counter()
        naive = naive_sample(model, tokenizer, prober, requests, samples)
        naive_s = time.perf_counter() - start
        ours_backend = HFBackend(model, tokenizer, batch_size=batch_size)
        start = time.perf_counter()
        ours_backend.prepare(requests)
        results = [res for _, res in ask(ours_backend, Sample(samples), requests)]
        ours_s = time.perf_counter() - start
        ours = [json.loads(res.raw_text) for res in results]
        (pn, rn, tn), (po, ro, to) = _pooled(naive, requests), _pooled(ours, requests)
        tvd = 0.5 * sum(abs(pn.get(k, 0) - po.get(k, 0)) for k in set(pn) | set(po))
        rows.append((rep + 1, naive_s, rn, tn, ours_s, ro, to, tvd))
        ratios.append(naive_s / ours_s)
        print(f"sample repeat {rep + 1}/{repeats}: naive {naive_s:.1f} s, ours {ours_s:.1f} s", flush=True)
    print(f"\nsample: {len(requests)} items x {samples} answers at temperature 1, {repeats} repeat(s); "
          f"ours asks up to {items_per_batch(batch_size, samples)} items per batch")
    print("| repeat | naive: N generate calls per item, s | answers naming an option | ours: batched, s | "
          "answers naming an option | ratio | TVD naive vs ours |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for rep, naive_s, rn, tn, ours_s, ro, to, tvd in rows:
        print(f"| {rep} | {naive_s:.1f} | {rn}/{tn} | {ours_s:.1f} | {ro}/{to} | {naive_s / ours_s:.1f} | {tvd:.3f} |")
    ratio = statistics.median(ratios)
    print(f"sample ratio (median of {repeats}): {ratio:.1f}; goal (>= 5x): {'met' if ratio >= 5 else 'NOT met'}")
    return ratio

