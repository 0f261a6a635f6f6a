"""Which items are asked together: the batch scheduler behind the local prober.

The runner asks one item at a time (`probe(request, attempt)`, from several threads), but a
local model is fastest when it scores several items in one pass. `BatchQueue` bridges the two:
the first probe of a batch asks it, the next probes are served from memory. Which items form
the batch is decided by `pack`, a pure function of the waiting items, their sizes and the
limits, so it can be tested on fixed inputs:

    pack("A", ["B", "C", "D"], size={"A": 100, "B": 300, "C": 50, "D": 10}.get,
         max_items=8, max_tokens=450)   -> ["A", "B", "C"]   (100 + 300 + 50 = 450)
    pack("A", ["B", "C"], size={"A": 100, "B": 400, "C": 10}.get,
         max_items=8, max_tokens=450)   -> ["A"]   (C would fit, but the order is kept)

Nothing here imports torch: a batch is asked through the `ask` callable the prober passes in.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T", bound=Hashable)
R = TypeVar("R")


def pack(first: T, waiting: Iterable[T], size: Callable[[T], int], max_items: int,
         max_tokens: float = math.inf) -> list[T]:
    """`first`, then the waiting items in their order while the batch holds fewer than
    `max_items` and its total size stays within `max_tokens`. `first` always goes, whatever
    its size (a long item runs alone). The first item that does not fit ends the batch, so
    items are asked in the order they were prepared (the results file follows it)."""
    batch, total = [first], size(first)
    for nxt in waiting:
        if len(batch) >= max(1, max_items):
            break
        total += size(nxt)
        if total > max_tokens:
            break
        batch.append(nxt)
    return batch


class BatchQueue(Generic[T, R]):
    """Per attempt, the requests not asked yet (in the order `reset()` saw them), and the
    results asked in a batch but not fetched yet. One batch is asked at a time.

    Re-asks of answers that could not be parsed are queued for the next attempt, so they are
    batched too (they sample, so only the first ask must match a lone run)."""

    def __init__(self) -> None:
        self._upcoming: dict[int, dict[T, None]] = {}
        self._ready: dict[tuple[T, int], R] = {}
        self.lock = threading.Lock()  # one batch at a time; the memory above is shared

    def reset(self, requests: Iterable[T]) -> None:
        with self.lock:
            self._upcoming, self._ready = {1: dict.fromkeys(requests)}, {}

    def fetch(self, request: T, attempt: int, ask: Callable[[list[T], int], list[R]],
              choose: Callable[[T, Iterable[T]], list[T]]) -> R:
        """The result of `request`'s `attempt`: from memory, or by asking the batch
        `choose(request, waiting)` picks (it starts with `request`)."""
        with self.lock:
            result = self._ready.pop((request, attempt), None)
            if result is not None:
                return result
            waiting = self._upcoming.setdefault(attempt, {})
            waiting.pop(request, None)
            batch = choose(request, waiting.keys())
            for r in batch[1:]:
                del waiting[r]
            results = ask(batch, attempt)
            for r, res in zip(batch, results):
                if getattr(res, "status", "") == "unparsed":  # the runner will ask again
                    self._upcoming.setdefault(attempt + 1, {})[r] = None
            self._ready.update(((r, attempt), res) for r, res in zip(batch[1:], results[1:]))
            return results[0]
