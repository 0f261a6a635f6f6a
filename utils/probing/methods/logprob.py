"""`logprob`: option probabilities from the model's next-token log-probabilities.

A code's probability is that of writing it as the whole answer: its tokens, then a token that cannot
continue a code (`backends.continues_code`), since codes span tokens and prefix each other ("1", "10"):

    P("1" as the answer) = P("1") * P(next token is not a letter or digit | "1")
    P("10")              = P("1") * P("0" | "1") * P(next is not a letter or digit | "10")

The events are disjoint, so renormalized over the item's codes they form a proper distribution.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass

from utils.core.records import ProbeRequest, ProbeResult, SurveyItem
from utils.probing.backends import Backend, Failure, Score, Scores
from utils.probing.methods import distribution_text, failed


def normalize_log_scores(log_scores: Mapping[str, float], keys: Sequence[str]) -> dict[str, float]:
    """Softmax over the item's codes: `{"1": -0.1, "2": -2.4}` -> `{"1": 0.909, "2": 0.091}`."""
    finite = [log_scores[k] for k in keys if math.isfinite(log_scores.get(k, -math.inf))]
    if not finite:
        raise ValueError("no option code received any probability")
    top = max(finite)
    weights = {k: math.exp(log_scores[k] - top) if math.isfinite(log_scores.get(k, -math.inf)) else 0.0
               for k in keys}
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}


def read_scores(item: SurveyItem, got: Scores | Failure) -> ProbeResult:
    if isinstance(got, Failure):
        return failed(item, got)
    try:
        dist = normalize_log_scores(got.scores, item.choice_keys)
    except ValueError:
        return ProbeResult(item.id, "unparsed", None, response=got.content,
                           raw_text=json.dumps({"content": got.content, "top_logprobs": got.listed}),
                           error="no option code among the top log-probabilities", **asdict(got.usage))
    kept = {k: round(v, 6) for k, v in got.scores.items() if math.isfinite(v)}  # each code's log-score
    return ProbeResult(item.id, "ok", dist, response=distribution_text(dist),
                       raw_text=json.dumps({"content": got.content, "option_logprobs": kept}), **asdict(got.usage))


@dataclass(frozen=True)
class Logprob:
    """`temperature` and `max_tokens` matter to a server only, which reads the scores from the first
    tokens it writes (a re-ask, at `retry_temperature`, may take another path through them)."""

    temperature: float = 0.0
    retry_temperature: float = 0.7
    max_tokens: int | None = 512
    name: str = "logprob"

    def how(self, attempt: int) -> Score:
        return Score(self.temperature if attempt == 1 else self.retry_temperature, self.max_tokens)

    def ask(self, backend: Backend, requests: list[ProbeRequest], attempt: int) -> Iterator[tuple[int, ProbeResult]]:
        for i, got in backend.option_logprobs(requests, self.how(attempt)):
            yield i, read_scores(requests[i].item, got)
