"""Which items are asked together, and how a batch becomes one model input: pure functions over token ids.

    pack("A", ["B", "C", "D"], size={"A": 100, "B": 300, "C": 50, "D": 10}.get,
         max_items=8, max_tokens=450)   -> ["A", "B", "C"]   (100 + 300 + 50 = 450)
    pack("A", ["B", "C"], size={"A": 100, "B": 400, "C": 10}.get,
         max_items=8, max_tokens=450)   -> ["A"]   (C would fit, but the order is kept)

logprob (`packed_layout`): each item's own tokens (past the cached prefix), then each option code's
tokens, end to end in one sequence; `sees` and the position ids let each token see exactly what it
would see in the item's own prompt. With a 2-token prefix, item A = [5, 6], codes "1" = [1], "10" = [1, 0]:

    [prefix (cached)] | item A | A:"1" | A:"2" | A:"1","0" | item B | B:"1" | B:"2"
    A:"2" sees: prefix, item A, itself     (not A:"1", not item B)

    packed_layout([([9, 9, 5, 6], [[1], [1, 0]])], prefix_len=2)
    tokens    [5, 6, 1, 1, 0]     positions [2, 3, 4, 4, 5]
    read_at   [1, 2, 3, 4]        (last item token, then every code token)
    items     [(1, [[2], [3, 4]])]
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import torch


T = TypeVar("T")


def pack(first: T, waiting: Iterable[T], size: Callable[[T], int], max_items: int,
         max_tokens: float = math.inf) -> list[T]:
    """The waiting items in order while they fit in `max_items` and `max_tokens`; the first that does
    not fit ends the batch. `first` always goes, whatever its size (a long item runs alone)."""
    batch, total = [first], size(first)
    for nxt in waiting:
        if len(batch) >= max(1, max_items):
            break
        total += size(nxt)
        if total > max_tokens:
            break
        batch.append(nxt)
    return batch


@dataclass(frozen=True)
class PackedLayout:
    tokens: list[int]
    positions: list[int]
    sees: torch.Tensor  # [n, prefix_len + n] bool: row token sees column token (prefix columns first)
    read_at: list[int]  # positions whose logits are read, in order
    items: list[tuple[int, list[list[int]]]]  # per item: (its last token, per code: positions of its tokens)


def packed_layout(items: list[tuple[list[int], list[list[int]]]], prefix_len: int) -> PackedLayout:
    """`items`: per item, (its full token ids, the token ids of each option code)."""
    tokens: list[int] = []
    pos: list[int] = []
    owner: list[int] = []
    group: list[int] = []
    read_at: list[int] = []
    layout = []
    for i, (ids, codes) in enumerate(items):
        own = ids[prefix_len:]
        tokens += own
        pos += range(prefix_len, len(ids))
        owner += [i] * len(own)
        group += [-1] * len(own)
        last = len(tokens) - 1
        spans = []
        for j, code in enumerate(codes):
            spans.append(list(range(len(tokens), len(tokens) + len(code))))
            tokens += code
            pos += range(len(ids), len(ids) + len(code))
            owner += [i] * len(code)
            group += [j] * len(code)
        read_at += [last] + [a for span in spans for a in span]
        layout.append((last, spans))
    n = len(tokens)
    own_t, grp_t, idx = torch.tensor(owner), torch.tensor(group), torch.arange(n)
    # token a sees token b: same item, b not after a, and b is an item token or in a's own code
    sees = ((own_t[:, None] == own_t[None, :]) & (idx[None, :] <= idx[:, None])
            & ((grp_t[None, :] == -1) | (grp_t[None, :] == grp_t[:, None])))
    if prefix_len:
        sees = torch.cat([torch.ones(n, prefix_len, dtype=torch.bool), sees], dim=1)
    return PackedLayout(tokens, pos, sees, read_at, layout)


def additive_mask(sees: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The float mask models take: 0 where a token may look, the dtype's minimum elsewhere."""
    return torch.zeros(sees.shape, dtype=dtype, device=sees.device).masked_fill_(~sees, torch.finfo(dtype).min)


def gap_rows(seqs: list[list[int]], prefix_len: int, pad: int) -> tuple[list[list[int]], list[list[int]], int]:
    """Rows `prefix + pad gap + item`, so one copy of the prefix cache serves all rows; returns
    (rows, mask, width), new tokens starting at prefix_len + width.

        gap_rows([[7, 7, 1], [7, 7, 1, 2, 3]], 2, pad=0)
        -> ([[7, 7, 0, 0, 1], [7, 7, 1, 2, 3]], [[1, 1, 0, 0, 1], [1, 1, 1, 1, 1]], 3)
    """
    p = prefix_len
    width = max(len(s) for s in seqs) - p
    rows = [s[:p] + [pad] * (width + p - len(s)) + s[p:] for s in seqs]
    mask = [[1] * p + [0] * (width + p - len(s)) + [1] * (len(s) - p) for s in seqs]
    return rows, mask, width


def shared_prefix_len(seqs: list[list[int]], least: int = 8) -> int:
    """Length of the longest token prefix every sequence shares, leaving each at least one own
    token; 0 when it is shorter than `least` (not worth a cache).

        shared_prefix_len([[1, 2, 3, 4], [1, 2, 3, 5, 6]], least=2) -> 3
    """
    if len(seqs) < 2:
        return 0
    n = min(len(s) for s in seqs) - 1
    for s in seqs[1:]:
        n = next((i for i in range(n) if s[i] != seqs[0][i]), n)
    return n if n >= least else 0


def ends_answer_mask(flags: list[bool], n_out: int) -> torch.Tensor:
    """`flags`, per vocabulary token True when it cannot continue an option code (`" "`, `"."`, not `"0"`), sized
    to the model's `n_out` output rows; padded rows past the vocabulary never end an answer."""
    mask = torch.tensor(flags, dtype=torch.bool)
    if n_out > len(flags):
        mask = torch.cat([mask, torch.zeros(n_out - len(flags), dtype=torch.bool)])
    return mask[:n_out]


def code_scores(lay: PackedLayout, codes: list[list[list[int]]], keys: list[list[str]], logp: torch.Tensor,
                stop: list[float]) -> list[dict[str, float]]:
    """Per item, each code's log-score from the packed pass: log P(its tokens) + log P(the
    answer ends after it). `logp[r]` and `stop[r]` belong to position `lay.read_at[r]`."""
    rows = {a: r for r, a in enumerate(lay.read_at)}
    out = []
    for item_keys, item_codes, (last, spans) in zip(keys, codes, lay.items):
        scores = {}
        for key, code, at in zip(item_keys, item_codes, spans):
            before = [last] + at[:-1]  # the position whose logits predict each code token
            scores[key] = sum(logp[rows[b], t].item() for b, t in zip(before, code)) + stop[rows[at[-1]]]
        out.append(scores)
    return out
