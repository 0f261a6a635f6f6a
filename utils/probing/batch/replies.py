"""A backend whose replies are already here (a batch's output lines), so the method reads them
exactly as it reads a server's: the same `wire.answer`, the same reader, the same rows.

    Replies([body_q1, Failure("batch line HTTP 400: ...")]).generate(requests, how)
    -> (0, Completion(...)), (1, Failure(...))
"""
from __future__ import annotations

from collections.abc import Iterator

from utils.core.records import ProbeRequest
from utils.core.secrets import redact
from utils.probing.backends import AllAtOnce, Completion, Failure, Generate, Score
from utils.probing.backends.api import wire


class Replies(AllAtOnce):
    def __init__(self, replies: list[dict | Failure]):
        self.replies = replies

    def generate(self, requests: list[ProbeRequest], how: Generate | Score) -> Iterator[tuple[int, object]]:
        for i, (request, reply) in enumerate(zip(requests, self.replies)):
            got = reply if isinstance(reply, Failure) else wire.answer([reply], request.item.choice_keys, how)
            if isinstance(got, Failure):
                got = Failure(redact(got.reason), redact(got.raw), got.response, got.status, got.usage)
            elif isinstance(got, Completion) and isinstance(how, Generate) and len(got.texts) < how.n:
                got = Failure(f"the batch's reply holds {len(got.texts)} of the {how.n} answers asked for (n); "
                              "this server's batches do not honour n: ask without --batch", usage=got.usage)
            yield i, got

    option_logprobs = generate  # a reply is read by what `how` asked for
