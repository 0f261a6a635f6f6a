"""`verbalized`: the model writes the distribution, `{'1': '30%', '2': '70%'}` (the paper's method).

The reader is ours, `read_mapping` (which never evaluates a reply), or the release's acceptance rule
under `--protocol release`. An answer stops once its mapping is closed after any reasoning, since a
model that thinks first may write braces while it reasons:

    "Sure: {'1': '40%', '2': '60%'}"      -> closed
    "<think>maybe {'1': 1} ... "          -> not closed (still thinking)

Re-asks sample at `retry_temperature`: a greedy re-ask would write the same unreadable text again.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace

from utils.core.parsing import parse_distribution
from utils.core.records import ProbeRequest, ProbeResult, SurveyItem
from utils.probing.backends import Backend, Completion, Failure, Generate, StopRule
from utils.probing.methods import failed

Reader = Callable[[SurveyItem, Completion], ProbeResult]


def read_mapping(item: SurveyItem, reply: Completion) -> ProbeResult:
    """Our reading: the mapping in the answer text; reasoning is kept in `raw_text`, not read."""
    content = reply.texts[0] or ""
    if not content and reply.refusal:  # a server's structured refusal: no content at all
        return ProbeResult(item.id, "unparsed", None, raw_text=f"[refusal] {reply.refusal}", error="refusal")
    parsed = parse_distribution(content, item.choice_keys)
    return ProbeResult(item.id, "ok" if parsed.ok else "unparsed", parsed.distribution, response=content,
                       raw_text=f"<think>{reply.reasoning}</think>{content}" if reply.reasoning else content,
                       error="" if parsed.ok else parsed.status)


def mapping_closed(request: ProbeRequest, text: str) -> bool:
    tail = text.rsplit("</think>", 1)[-1]
    return "<think>" not in tail and "{" in tail and "}" in tail[tail.index("{"):]


@dataclass(frozen=True)
class Verbalized:
    temperature: float = 0.0
    retry_temperature: float = 0.7
    max_tokens: int | None = 512
    read: Reader = read_mapping
    stop: StopRule | None = mapping_closed  # None: generate to the token bound or the end of text
    name: str = "verbalized"

    def how(self, attempt: int) -> Generate:
        return Generate(1, self.temperature if attempt == 1 else self.retry_temperature, self.max_tokens, self.stop)

    def ask(self, backend: Backend, requests: list[ProbeRequest], attempt: int) -> Iterator[tuple[int, ProbeResult]]:
        for i, got in backend.generate(requests, self.how(attempt)):
            item = requests[i].item
            yield i, failed(item, got) if isinstance(got, Failure) else \
                replace(self.read(item, got), **asdict(got.usage))
