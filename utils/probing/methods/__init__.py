"""The elicitation methods: how an answer distribution is read from a model, as small strategies
over a backend's two primitives, the same for every backend.

    verbalized   generate one text; read the mapping it writes     (the paper's method)
    logprob      option_logprobs; renormalize over the item's codes
    sample       generate N short answers; the shares of the codes they name

`how(attempt)` is what one ask of a batch needs (a re-ask of `verbalized` samples at the retry
temperature); `ask` yields each request's `ProbeResult` as answers arrive. Batches and re-asks are
the run loop's.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict
from typing import Protocol

from utils.core.records import ProbeRequest, ProbeResult, SurveyItem
from utils.probing.backends import Backend, Failure, Generate, Score


class Method(Protocol):
    name: str
    temperature: float  # of the first ask (0: greedy); what `--repeats` needs above 0

    def how(self, attempt: int) -> Generate | Score: ...

    def ask(self, backend: Backend, requests: list[ProbeRequest],
            attempt: int) -> Iterator[tuple[int, ProbeResult]]: ...


def failed(item: SurveyItem, f: Failure) -> ProbeResult:
    return ProbeResult(item.id, f.status, None, response=f.response, raw_text=f.raw, error=f.reason, **asdict(f.usage))


def distribution_text(dist: Mapping[str, float]) -> str:
    """`{"1": 0.6123, "2": 0.3877}` -> `{'1': '61.23%', '2': '38.77%'}`: the verbalized form, which
    `logprob` and `sample` rows keep as their `response`, so one parser re-reads every file."""
    return "{" + ", ".join(f"'{k}': '{100 * v:.2f}%'" for k, v in dist.items()) + "}"
