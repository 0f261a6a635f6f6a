"""The core records of a run: a survey item, a probe request and a probe result, frozen so a
result can pass between threads and to disk unchanged."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SurveyItem:
    """`choice_keys`: option codes in the order shown to the model; `order`: the semantic order
    the metric walks along, often the same."""

    id: str
    question: str
    choices: tuple[str, ...]
    choice_keys: tuple[str, ...]
    answer: str
    type: str = "Opinion-Dependent"
    scale: str = "ordinal"
    order: tuple[str, ...] = ()
    language: str = "English"


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class ProbeRequest:
    item: SurveyItem
    messages: tuple[Message, ...]
    method: str  # "verbalized", "logprob" or "sample"


@dataclass(frozen=True)
class ProbeResult:
    """What came back for one item. `distribution` is None unless `status == "ok"`."""

    item_id: str
    status: str  # "ok", "unparsed" or "error"
    distribution: dict[str, float] | None
    response: str = ""  # the answer text the distribution was read from (paper's column)
    raw_text: str = ""  # everything received: reasoning, content, or the option log-probs
    error: str = ""
    attempts: int = 1
    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    extra: dict = field(default_factory=dict)  # the `sample` method's counts: sample_counts, n_unreadable
    final: bool = False  # not to be asked again, though not ok (the paper's release accepted it)
