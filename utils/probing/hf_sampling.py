"""The `sample` method on a local model: N answers per item, several items, one batch.

Asking an item N times the plain way runs its whole prompt through the model N times. Here
every prompt token is computed once per batch of items, and only the few answer tokens N
times:

    1. prefill  rows `[prefix (cached)] + pad gap + item`, one row per item (B rows); the gap
                evens out the items' lengths and is masked out, as in verbalized batching
    2. expand   the key/value cache and the last logits, each row N times (B*N rows)
    3. sample   one token for every row still writing per step, at `temperature`; a row
                leaves the batch once it has written a whole option code (a code followed by
                something that cannot continue it, so "1" is not cut from "10") or ended; at
                most `max_new_tokens` steps

A worked example: 2 items of 100 prompt tokens sharing a 60-token prefix, N = 40, answers of
2 tokens ("3" then end of turn): the plain way computes 80 x 100 prompt tokens and 80 x 2
answer steps; this computes 2 x 40 prompt tokens, then 2 steps of 80 rows.

Sampling is ancestral from softmax(logits / temperature), with no top-k or top-p, so the
shares estimate the distribution the model would sample from.
"""
from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import DynamicCache

from utils.probing.sampling import code_complete

ROW_BUDGET = 256  # rows (items x samples) per batch; bounds the repeated key/value cache's memory


def items_per_batch(batch_size: int, samples: int, row_budget: int = ROW_BUDGET) -> int:
    """Items asked together: at most `batch_size`, and at most `row_budget` rows in all.

    >>> items_per_batch(8, 40), items_per_batch(8, 10), items_per_batch(8, 1000)
    (6, 8, 1)
    """
    return max(1, min(batch_size, row_budget // max(1, samples)))


@dataclass(frozen=True)
class SampledItem:
    answers: list[str]
    completion_tokens: int


def _eos_ids(model, tokenizer) -> set[int]:
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, (list, tuple)) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def _next_tokens(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


def sample_items(model, tokenizer, seqs: list[list[int]], keys: list[Sequence[str]], *, samples: int,
                 temperature: float, max_new_tokens: int, prefix_len: int = 0,
                 prefix_cache: DynamicCache | None = None, pad_id: int = 0, cache_kw: str = "past_key_values",
                 generator: torch.Generator | None = None) -> list[SampledItem]:
    """`samples` answers to each prompt of `seqs` (token ids, all starting with the
    `prefix_len` tokens that `prefix_cache` holds when given), from one prefill and one
    sampling loop over all rows."""
    device = next(model.parameters()).device
    p = prefix_len if prefix_cache is not None else 0
    width = max(len(s) for s in seqs) - p
    rows = [[pad_id] * (width + p - len(s)) + s[p:] for s in seqs]
    mask = torch.tensor([[1] * p + [0] * (width + p - len(s)) + [1] * (len(s) - p) for s in seqs], device=device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, p:]
    cache = copy.deepcopy(prefix_cache) if p else DynamicCache()
    if p and len(seqs) > 1:
        cache.batch_repeat_interleave(len(seqs))
    keep = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    out = model(torch.tensor(rows, device=device), attention_mask=mask, position_ids=positions, use_cache=True,
                **{cache_kw: cache}, **keep)
    logits = out.logits[:, -1].repeat_interleave(samples, dim=0)
    cache.batch_repeat_interleave(samples)
    mask = mask.repeat_interleave(samples, dim=0)
    pos = torch.tensor([len(s) for s in seqs], device=device).repeat_interleave(samples)
    n_rows = len(seqs) * samples
    row_keys = [keys[r // samples] for r in range(n_rows)]
    ends = _eos_ids(model, tokenizer)
    new: list[list[int]] = [[] for _ in range(n_rows)]
    active = list(range(n_rows))  # rows still writing; finished rows leave the batch
    for step in range(max_new_tokens):
        tokens = _next_tokens(logits, temperature, generator)
        still = []
        for i, (r, t) in enumerate(zip(active, tokens.tolist())):
            if t in ends:
                continue
            new[r].append(t)
            if not code_complete(tokenizer.decode(new[r], skip_special_tokens=True), row_keys[r]):
                still.append(i)
        if not still or step == max_new_tokens - 1:
            break
        if len(still) < len(active):
            keep_rows = torch.tensor(still, device=device)
            cache.batch_select_indices(keep_rows)
            mask, pos, tokens = mask[keep_rows], pos[keep_rows], tokens[keep_rows]
            active = [active[i] for i in still]
        mask = torch.cat([mask, mask.new_ones(len(active), 1)], dim=1)
        out = model(tokens[:, None], attention_mask=mask, position_ids=pos[:, None], use_cache=True,
                    **{cache_kw: cache}, **keep)
        pos = pos + 1
        logits = out.logits[:, -1]
    texts = [tokenizer.decode(ids, skip_special_tokens=True) for ids in new]
    return [SampledItem(texts[i * samples:(i + 1) * samples], sum(len(ids) for ids in new[i * samples:(i + 1) * samples]))
            for i in range(len(seqs))]
