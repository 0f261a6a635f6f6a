"""What asks a model: one interface for an OpenAI-compatible server (`api/`) and a local Hugging
Face model (`hf/`). Every backend has every method, so nothing above asks which abilities it has:

    prepare(requests)                 HF: tokenize, cache the shared prompt prefix; API: nothing
    batches(requests, how)            the groups to ask: HF packed; API all at once (`--concurrency`)
    generate(requests, Generate)      -> (index, Completion | Failure): `n` answers per prompt
    option_logprobs(requests, Score)  -> (index, Scores | Failure): a log-score per option code
    seed(n)                           draw from seed n from now on (a generator of its own)
    stop()                            send nothing more (Ctrl-C, SIGTERM)

Both primitives yield `(index into requests, what came back)` as answers arrive, so the run loop
writes each row as soon as it is there.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from utils.core.records import ProbeRequest
from utils.core.secrets import redact

def continues_code(token_text: str) -> bool:
    """True when a token would extend an option code (`"0"` after `"1"`), False when it ends the
    answer (`" "`, `"."`, `"\\n"`): what `option_logprobs` means by a code as the whole answer."""
    return bool(token_text) and token_text[0].isalnum()


StopRule = Callable[[ProbeRequest, str], bool]  # True once the text written so far is a whole answer


@dataclass(frozen=True)
class Generate:
    """`n` answers per prompt at `temperature` (0: greedy), each at most `max_tokens` (None: the server's
    limit), stopped early once `stop` says it is whole."""

    n: int
    temperature: float
    max_tokens: int | None
    stop: StopRule | None = None


@dataclass(frozen=True)
class Score:
    """Read each option code's log-probability as the whole answer. A server reads them from the
    first tokens it writes, at `temperature`, so a re-ask can sample another path."""

    temperature: float
    max_tokens: int | None


@dataclass(frozen=True)
class Usage:
    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class Completion:
    """What a model wrote: `n` texts (None: a server sent no content at all), and for a server
    its reasoning (`reasoning_content`) and a structured refusal, both outside the texts."""

    texts: tuple[str | None, ...]
    usage: Usage = Usage()
    reasoning: str = ""
    refusal: str = ""


@dataclass(frozen=True)
class Scores:
    """Log-score of each option code (-inf: not among what the server listed), with the text the
    server wrote and what it listed at the first position (kept in a row that reads no code)."""

    scores: dict[str, float]
    usage: Usage = Usage()
    content: str = ""
    listed: dict[str, float] | None = None


@dataclass(frozen=True)
class Failure:
    """No answer: the request failed (`error`), or a reply holds none (`unparsed`, asked again)."""

    reason: str
    raw: str = ""
    response: str = ""
    status: str = "error"
    usage: Usage = Usage()


def unexpected(exc: Exception) -> Failure:
    """What a request or batch raised that no rule expects, as its recorded `error` (never
    retried, never hidden; `--log-level DEBUG` logs the traceback where it is caught)."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    return Failure(redact(f"unexpected {type(exc).__name__}: {first}")[:500])


class Backend(Protocol):
    def prepare(self, requests: list[ProbeRequest]) -> None: ...

    def batches(self, requests: list[ProbeRequest], how: Generate | Score) -> Iterator[list[int]]: ...

    def generate(self, requests: list[ProbeRequest], how: Generate) -> Iterator[tuple[int, Completion | Failure]]: ...

    def option_logprobs(self, requests: list[ProbeRequest], how: Score) -> Iterator[tuple[int, Scores | Failure]]: ...

    def seed(self, n: int) -> None: ...

    def stop(self) -> None: ...


class AllAtOnce:
    """What a backend that sends each request whole needs of the interface (a server, a batch's
    replies): nothing to prepare, one batch of everything, no seed (a server draws as it does:
    a `--repeats` row's `seed` stays empty), nothing to stop."""

    def prepare(self, requests: list[ProbeRequest]) -> None:
        pass

    def batches(self, requests: list[ProbeRequest], how: Generate | Score) -> Iterator[list[int]]:
        if requests:
            yield list(range(len(requests)))

    def seed(self, n: int) -> None:
        pass

    def stop(self) -> None:
        pass
