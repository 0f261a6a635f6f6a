"""Which answers the paper's release accepts: its own matcher, called as its backend calls it.

The release asks an item again until its matcher (`match_api_str` in its API scripts, `match_llm_str`
for local models, both in its utils/common.py) returns a string, and stores that string as the answer.
`--protocol release` calls that very function from the user's checkout, so what is accepted is the
release's rule by construction (docs/probing.md says it in words). A matcher that raises (it evaluates
the reply as a Python literal) has not accepted: the release's loop would stop there, ours asks again.
"""
from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field

from utils.core.errors import UserError
from utils.probing.release.loader import COMMON, ReleaseCheckout

MATCHERS = {"api": "match_api_str", "local": "match_llm_str"}


@dataclass(frozen=True)
class Acceptance:
    """`text` is what the release stores (None: it asks again); `reason` says why not."""

    text: str | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.text is not None


@dataclass(frozen=True)
class Matcher:
    """The release's matcher for one backend, given the text that backend hands it: an API reply
    after its first `marker` (the whole reply where there is none), a local reply stripped."""

    match: Callable[[str], str | None] = field(repr=False)
    backend: str
    marker: str | None = None

    def __call__(self, reply: str | None) -> Acceptance:
        if reply is None:
            return Acceptance(None, "the reply has no text")
        if self.backend == "local":
            text = reply.strip()
        else:
            text = reply.split(self.marker, 2)[1] if self.marker and self.marker in reply else reply
        try:
            stored = self.match(text)
        except Exception as exc:  # noqa: BLE001 - whatever the release's matcher raises, it has not accepted
            return Acceptance(None, f"the release's matcher raises {type(exc).__name__} on it")
        if stored is None:
            return Acceptance(None, "the release's matcher finds no mapping of option numbers to percentages "
                                    "within its tolerance (shares adding up to 50% to 150%)")
        return Acceptance(stored)


def release_matcher(checkout: ReleaseCheckout, backend: str, marker: str | None = None) -> Matcher:
    """The checkout's matcher for `backend`, run in its own copy of the release's module, whose `print`
    (the local matcher prints every reply it refuses) writes nothing."""
    name = MATCHERS[backend]
    match = getattr(checkout.module({"print": lambda *args, **kwargs: None}), name, None)
    if match is None:
        raise UserError(f"{checkout.path(COMMON)} defines no {name}; is it the paper's release?")
    return Matcher(match, backend, marker)


def accepted_shares(accepted: str) -> dict[str, float]:
    """The percent shares of an accepted answer by option code, as written (not normalized).

    >>> accepted_shares("{'1': '60%', 2: '60.5%'}")
    {'1': 60.0, '2': 60.5}
    """
    value = ast.literal_eval(accepted)
    return {str(k): float(str(v).strip("%")) for k, v in value.items()}
