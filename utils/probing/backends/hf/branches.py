"""N answers per prompt on a local model (the `sample` method): several items, one batch.

Every prompt token is computed once per batch, only the answer tokens N times, and the prompt's
key/value cache is never copied per answer:

    1. prefill  rows `[prefix (cached)] + masked pad gap + item`, one row per item
    2. sample   the first token of all N answers from the item's last logits
    3. branch   each step feeds, in the item's row, the last token of each unfinished answer side by
                side, masked and positioned as if alone (tested against `generate` at temperature 0),
                until its stop rule holds ("1" is not cut from "10") or `max_new_tokens`

    item row:  [prefix] gap | item tokens | a1 b1 c1 | a2 c2 | a3 ...     (b stopped at "2.")
    a2 sees:   prefix, item tokens, a1, itself

2 items of 100 tokens sharing a 60-token prefix, N = 40, 2-token answers: the plain way computes
80 x 100 prompt tokens and 80 x 2 steps; this, 2 x 40 prompt tokens and one step of 2 rows x 40 tokens.
Copying the cache per answer (B*N rows) moves it through memory at every step: 8 items x 20 answers
of the release's 1,000-token prompt took 71.3 s that way, 26.1 s this way (bundled model, 2 CPU
cores, `benchmarks/local_sample.py`).

Sampling is ancestral from softmax(logits / temperature), no top-k or top-p, so the shares estimate
the distribution the model would sample from.
"""
from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers import DynamicCache

from utils.probing.backends.hf.packing import additive_mask, gap_rows

ROW_BUDGET = 256  # answers (items x samples) per batch; bounds each step's input and its mask


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


def generation_eos(model) -> list[int]:
    eos = model.generation_config.eos_token_id
    return eos if isinstance(eos, (list, tuple)) else [eos] * (eos is not None)


def _next_tokens(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


PROMPT, NOBODY = -1, -2  # owners of key/value slots besides the answers' branches 0..samples-1


def _branch_step(active: list[int], new: list[list[int]], n_items: int, samples: int, pad_id: int,
                 device) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """The next input, one row per item: the last token of each of its unfinished answers side by
    side (a row with fewer is filled with pads that belong to nobody); the branch owning each new
    slot; and where each answer of `active`, in order, finds its logits in the [items, width] output."""
    per_item: list[list[int]] = [[] for _ in range(n_items)]
    for r in active:
        per_item[r // samples].append(r)
    width = max(map(len, per_item))
    ids = [[pad_id] * width for _ in range(n_items)]
    branch = [[NOBODY] * width for _ in range(n_items)]
    at_item, at_col = [], []
    for i, rs in enumerate(per_item):
        for j, r in enumerate(rs):
            ids[i][j], branch[i][j] = new[r][-1], r % samples
            at_item.append(i)
            at_col.append(j)
    t = lambda x: torch.tensor(x, device=device)  # noqa: E731
    return t(ids), t(branch), (t(at_item), t(at_col))


def _branch_mask(owner: torch.Tensor, branch: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[items, 1, new, slots] additive mask: a new token sees the prompt's slots and its own
    answer's (itself included), never another answer's, a gap or a filler."""
    theirs = owner[:, None, :]
    sees = (theirs == PROMPT) | ((theirs == branch[:, :, None]) & (branch[:, :, None] >= 0))
    return additive_mask(sees, dtype)[:, None]


def sample_items(model, tokenizer, seqs: list[list[int]], stops: list[Callable[[str], bool] | None], *, samples: int,
                 temperature: float, max_new_tokens: int, prefix_len: int = 0,
                 prefix_cache: DynamicCache | None = None, pad_id: int = 0, cache_kw: str = "past_key_values",
                 generator: torch.Generator | None = None) -> list[SampledItem]:
    """`samples` answers to each prompt of `seqs` (token ids, all starting with the `prefix_len` tokens
    `prefix_cache` holds); `stops[i]` (None: none) says when an answer to item i is whole."""
    device = next(model.parameters()).device
    p = prefix_len if prefix_cache is not None else 0
    rows, mask, _ = gap_rows(seqs, p, pad_id)
    mask = torch.tensor(mask, device=device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, p:]
    cache = copy.deepcopy(prefix_cache) if p else DynamicCache()
    if p and len(seqs) > 1:
        cache.batch_repeat_interleave(len(seqs))
    keep = "logits_to_keep" in inspect.signature(model.forward).parameters
    out = model(torch.tensor([r[p:] for r in rows], device=device), attention_mask=mask, position_ids=positions,
                use_cache=True, **{cache_kw: cache}, **({"logits_to_keep": 1} if keep else {}))
    logits = out.logits[:, -1].repeat_interleave(samples, dim=0)
    owner = torch.where(mask.bool(), PROMPT, NOBODY)  # [items, slots]: who may see each key/value slot
    lengths = torch.tensor([len(s) for s in seqs], device=device)
    n_rows = len(seqs) * samples  # one per answer, item by item: answer r is item r // samples, branch r % samples
    row_stops = [stops[r // samples] for r in range(n_rows)]
    ends = set(generation_eos(model)) | {tokenizer.eos_token_id} - {None}
    new: list[list[int]] = [[] for _ in range(n_rows)]
    active = list(range(n_rows))  # answers still being written; finished ones are no longer fed
    for step in range(max_new_tokens):
        tokens = _next_tokens(logits, temperature, generator)
        still = []
        for r, t in zip(active, tokens.tolist()):
            if t in ends:
                continue
            new[r].append(t)
            stop = row_stops[r]
            if stop is None or not stop(tokenizer.decode(new[r], skip_special_tokens=True)):
                still.append(r)
        if not still or step == max_new_tokens - 1:
            break
        active = still
        ids, branch, at = _branch_step(active, new, len(seqs), samples, pad_id, device)
        owner = torch.cat([owner, branch], dim=1)
        out = model(ids, attention_mask=_branch_mask(owner, branch, model.dtype),
                    position_ids=(lengths + step)[:, None].expand_as(ids), use_cache=True, **{cache_kw: cache},
                    **({"logits_to_keep": ids.shape[1]} if keep else {}))
        logits = out.logits[:, -ids.shape[1]:][at]
    texts = [tokenizer.decode(ids, skip_special_tokens=True) for ids in new]
    return [SampledItem(texts[i * samples:(i + 1) * samples], sum(len(ids) for ids in new[i * samples:(i + 1) * samples]))
            for i in range(len(seqs))]
