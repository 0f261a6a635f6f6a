"""The core records that flow through a run: a survey item, a probe request and a probe result.

They are frozen dataclasses so that a result can be handed between threads and written to
disk without anyone changing it on the way.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SurveyItem:
    """One questionnaire item, e.g. Q1 with keys ("1", "2", "3", "4").

    `choice_keys` are the WVS option codes in the order shown to the model; `order` is the
    semantic (ordinal) order the metric walks along, by default the same as shown.
    """

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
    """Everything a backend needs to ask one item: the rendered chat and the options to score."""

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
