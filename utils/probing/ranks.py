"""Data-parallel local probing under PyTorch's launcher: the processes of one run and what they share.

`torchrun` (or `accelerate launch`) starts N copies of the script, each told its place through
`WORLD_SIZE`, `RANK` and `LOCAL_RANK`. Items are split on the backend's own batch boundaries, so every
batch is the one a single process would ask, and its numbers are the same bit for bit:

    pending Q1..Q20, batches [Q1..Q8] [Q9..Q16] [Q17..Q20], 2 ranks
    rank 0 asks [Q1..Q8];  rank 1 asks [Q9..Q16] [Q17..Q20]        (`Shard.items` over batches)
    step 1: rank 0 [Q1..Q8],  rank 1 [Q9..Q16]   -> gathered to rank 0, which writes 16 rows
    step 2: rank 0 nothing,   rank 1 [Q17..Q20]  -> gathered to rank 0, which writes 4 rows

Only rank 0 opens, reads and writes the results file; what it learns (the plans, the items left) it
`share`s, so a refusal stops every rank. The gloo process group (it carries only small Python
objects) lives in `process_group`, opened by the script's edge; `Ranks` holds no torch state.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

from utils.core.results.spec import Shard

T = TypeVar("T")


@dataclass(frozen=True)
class Ranks:
    """This process's place among the `world` processes of one run (rank 0 writes)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_environ(cls, env: Mapping[str, str] = os.environ) -> "Ranks":
        """From the launcher's variables; a plain `python script.py` is one process.

        >>> Ranks.from_environ({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"})
        Ranks(rank=1, world=2, local_rank=1)
        """
        world = int(env.get("WORLD_SIZE") or 1)
        rank = int(env.get("RANK") or 0)
        if not 0 <= rank < world:
            raise ValueError(f"RANK={rank} is not below WORLD_SIZE={world}")
        return cls(rank, world, int(env.get("LOCAL_RANK") or rank))

    @property
    def first(self) -> bool:
        """The rank that reads and writes the results files and prints."""
        return self.rank == 0

    def part(self, batches: list[T]) -> list[T]:
        """This rank's contiguous run of `batches` (counts differ by at most one)."""
        return Shard(self.rank + 1, self.world).items(batches)

    def steps(self, n: int) -> int:
        """Rounds of gathering for `n` batches: the most any rank asks, ceil(n / world), as `part`'s counts
        differ by at most one."""
        return -(-n // self.world)

    def share(self, make: Callable[[], T]) -> T:
        """`make()` on rank 0, its value on every rank. What it raises is raised on rank 0;
        the other ranks exit with code 2 (rank 0 says why), instead of waiting for it forever."""
        if self.world == 1:
            return make()
        import torch.distributed as dist

        box: list = [None]
        if self.first:
            try:
                box = [(True, make())]
            except BaseException as exc:  # noqa: BLE001 - raised again here, once the others know
                dist.broadcast_object_list([(False, None)], src=0)
                raise exc
        dist.broadcast_object_list(box, src=0)
        ok, value = box[0]
        if not ok:
            raise SystemExit(2)
        return value

    def gather(self, mine: T) -> list[T]:
        """Every rank's `mine`, in rank order, on rank 0; an empty list on the others."""
        if self.world == 1:
            return [mine]
        import torch.distributed as dist

        out: list | None = [None] * self.world if self.first else None
        dist.gather_object(mine, out, dst=0)
        return out or []


ALONE = Ranks()


@contextlib.contextmanager
def process_group(ranks: Ranks) -> Iterator[None]:
    """The gloo process group of a launched run, for as long as the run lasts (nothing alone)."""
    if ranks.world == 1:
        yield
        return
    import torch.distributed as dist

    dist.init_process_group("gloo", rank=ranks.rank, world_size=ranks.world)
    try:
        yield
    finally:
        dist.destroy_process_group()
