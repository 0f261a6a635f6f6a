"""`sample`: ask one item N times as one respondent and count the codes picked.

A model can know a distribution without being able to sample from it (Meister et al. 2024), and
Argyle et al. (2023) simulate respondents by sampling; this asks the logprob prompt N times at a
sampling temperature and reads each answer as one option code:

    answers = ["2", "1", "Option 2.", "I cannot answer", "10"]   keys 1..10
    read_code: "2", "1", "2", None, "10"       (whole codes: "10" is not "1")
    counts   = {"1": 1, "2": 2, "10": 1, ...0}   n_unreadable = 1
    distribution = {"1": 0.25, "2": 0.5, "10": 0.25, ...0}   shares of the 4 readable answers
    status = "ok" (4 of 5 readable; at least half must be)

The row keeps the answers (`raw_text`), `sample_counts` and `n_unreadable`, so a study can be re-read
with another reader without asking again.
"""
from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

from utils.core.records import ProbeRequest, ProbeResult
from utils.probing.backends import Backend, Failure, Generate
from utils.probing.methods import distribution_text, failed

DEFAULT_SAMPLES = 40
DEFAULT_TEMPERATURE = 1.0
MAX_ANSWER_TOKENS = 16  # a code and what ends it ("3." or "The answer is 3."); generation stops there
_WORD = re.compile(r"[^\W_]+")  # runs of letters and digits: "Option 10." -> "Option", "10"


def _first_code(text: str, keys: Sequence[str]) -> tuple[str, bool] | None:
    """(the first whole code in the answer part of `text`, whether more text follows it)."""
    tail = (text or "").rsplit("</think>", 1)[-1]
    if "<think>" in tail:
        return None
    tail = unicodedata.normalize("NFKC", tail)
    wanted = set(keys)
    for m in _WORD.finditer(tail):
        if m.group() in wanted:
            return m.group(), m.end() < len(tail)
    return None


def read_code(text: str, keys: Sequence[str]) -> str | None:
    """The first whole option code in `text`, or None when there is none.

    >>> read_code("10", ["1", "10"]), read_code("Option 3.", ["1", "2", "3"]), read_code("yes", ["1"])
    ('10', '3', None)

    Reasoning (`<think>...</think>`) is skipped (unclosed: no answer yet); full-width digits read as ASCII.
    """
    found = _first_code(text, keys)
    return found[0] if found else None


def code_complete(text: str, keys: Sequence[str]) -> bool:
    """True once a partial answer holds a code followed by what ends it: "1" may still become "10", "1." not.

    >>> code_complete("1", ["1", "10"]), code_complete("10", ["1", "10"]), code_complete("1.", ["1"])
    (False, False, True)
    """
    found = _first_code(text, keys)
    return bool(found and found[1])


@dataclass(frozen=True)
class SampleSummary:
    counts: dict[str, int]  # every key of the item, in its order, with 0 for codes never picked
    n_unreadable: int
    distribution: dict[str, float] | None  # shares of the readable answers; None if none was readable

    @property
    def n_readable(self) -> int:
        return sum(self.counts.values())

    @property
    def ok(self) -> bool:
        """At least half of the answers name an option (and at least one does)."""
        return self.n_readable > 0 and 2 * self.n_readable >= self.n_readable + self.n_unreadable


def shares(counts: dict[str, int], keys: Sequence[str]) -> dict[str, float] | None:
    """`{"1": 3, "2": 1}` over keys 1..3 -> `{"1": 0.75, "2": 0.25, "3": 0.0}`; None if all are 0."""
    total = sum(counts.get(k, 0) for k in keys)
    return {k: counts.get(k, 0) / total for k in keys} if total else None


def summarize(answers: Sequence[str], keys: Sequence[str]) -> SampleSummary:
    counts = dict.fromkeys(keys, 0)
    unreadable = 0
    for text in answers:
        code = read_code(text, keys)
        if code is None:
            unreadable += 1
        else:
            counts[code] += 1
    return SampleSummary(counts, unreadable, shares(counts, keys))


def sample_result(item_id: str, answers: Sequence[str], keys: Sequence[str], **fields) -> ProbeResult:
    """The row of an item asked `len(answers)` times; `fields`: latency and token counts."""
    s = summarize(answers, keys)
    error = "" if s.ok else f"only {s.n_readable} of {len(answers)} answers name an option (need half)"
    return ProbeResult(item_id, "ok" if s.ok else "unparsed", s.distribution if s.ok else None,
                       response=distribution_text(s.distribution) if s.distribution else "",
                       raw_text=json.dumps(list(answers), ensure_ascii=False), error=error,
                       extra={"sample_counts": s.counts, "n_unreadable": s.n_unreadable}, **fields)


def code_stop(request: ProbeRequest, text: str) -> bool:
    return code_complete(text, request.item.choice_keys)


@dataclass(frozen=True)
class Sample:
    """`samples` answers at `temperature`, each at most `MAX_ANSWER_TOKENS`; a re-ask draws anew, at the same one."""

    samples: int = DEFAULT_SAMPLES
    temperature: float = DEFAULT_TEMPERATURE
    max_tokens: int | None = 512
    name: str = "sample"

    def how(self, attempt: int = 1) -> Generate:
        return Generate(self.samples, self.temperature, min(self.max_tokens or MAX_ANSWER_TOKENS, MAX_ANSWER_TOKENS),
                        code_stop)

    def ask(self, backend: Backend, requests: list[ProbeRequest], attempt: int) -> Iterator[tuple[int, ProbeResult]]:
        for i, got in backend.generate(requests, self.how(attempt)):
            item = requests[i].item
            yield i, failed(item, got) if isinstance(got, Failure) else \
                sample_result(item.id, [t or "" for t in got.texts], item.choice_keys, **asdict(got.usage))
