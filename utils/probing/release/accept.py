"""Which answers the paper's release accepts, per backend: our own statement of its rule.

The release re-asks an item until its matcher returns a string, and stores that string as the
answer. This module says, for a reply text, what the release would store, or why it would ask
again. It is written from the rule, not from the release's code, and tests compare it with the
release's own functions (loaded from a checkout at run time) on thousands of generated replies.

A *mapping* is `{` then one or more entries `KEY : 'NUMBER%'` then `}`, with any whitespace around
the parts and an optional comma after each entry. NUMBER is digits with an optional `.digits`;
KEY is `'digits'` (API), or digits with an optional quote on either side (local). "Digits" and
"whitespace" are Unicode's (what Python's `\\d` and `\\s` match). The release then evaluates the
mapping as a Python literal, so a mapping Python cannot read (entries without a comma between
them, a quote on one side only, a no-break space, a key `07`) makes the release's matcher raise;
here that is "not accepted", with the reason.

API replies (`accept_api`): the text after the first `marker` (the release splits on it) up to the
next, else the whole reply. Accepted, in this order:
  1. the first mapping in the text, if its shares add up to within 50 points of 100%
     (`{'1': '60%', '2': '60%'}` sums to 120%: accepted as written, unnormalized);
     a first mapping outside that tolerance is refused without looking further;
  2. if there is no mapping, the text with every `DIGITS:` + whitespace + `NUMBER%` (NUMBER: digits
     and dots) rewritten as `'DIGITS': 'NUMBER%'`, searched again
     (`{1:60%, 2: 40%}` -> `{'1': '60%', '2': '40%'}`);
  3. if still none, the whole text as a Python literal: a dict of percent strings within the
     tolerance is stored as the whole text (`{"1": "60%", "2": "40%"}`); other literals are
     refused (an empty one), or make the release raise (a number, a list, unparseable text).

Local replies (`accept_local`, the decoded text stripped): `%}` becomes `%'}`, and an ASCII digit
not after `%` gets a `%` before a following `'}` or `',` (`{'1': '60', '2': '40'}` -> percent
strings). The first mapping is then accepted: as written within the tolerance, else rescaled to
sum to 100% with two decimals (`{'1': '20.00%', ...}`); all shares zero makes the release raise.
"""
from __future__ import annotations

import ast
import contextlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass

TOLERANCE = 0.5  # |sum of shares - 1| must be below this
PYTHON_SPACE = frozenset(" \t\n\r\f")  # the whitespace Python's tokenizer takes inside brackets
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)%'")
_BARE_PAIR = re.compile(r"(\d+):\s*([\d.]+%)")  # API step 2: `1:  60%` -> `'1': '60%'`
_UNMARKED = re.compile(r"(?<!%)([0-9])(?='[},])")  # local: `60'}` / `60',` -> `60%'}` / `60%',`


@dataclass(frozen=True)
class Acceptance:
    """`text` is what the release stores (None: it asks again); `reason` says why not."""

    text: str | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.text is not None


@dataclass(frozen=True)
class _Mapping:
    start: int
    end: int
    entries: tuple[tuple[object, str], ...]  # (key as Python would read it, NUMBER)
    readable: bool  # whether Python can evaluate text[start:end]


def _spaces(text: str, i: int) -> tuple[int, bool]:
    """Skip Unicode whitespace from `i`; also say whether all of it is Python's."""
    python = True
    while i < len(text) and text[i].isspace():
        python = python and text[i] in PYTHON_SPACE
        i += 1
    return i, python


def _digits(text: str, i: int) -> int:
    while i < len(text) and text[i].isdecimal():
        i += 1
    return i


def _mapping_at(text: str, start: int, loose_keys: bool) -> _Mapping | None:
    """The mapping that starts at `text[start] == "{"`, or None."""
    i, entries, readable, comma = start + 1, [], True, True
    while True:
        j, ok = _spaces(text, i)
        open_quote = loose_keys and j < len(text) and text[j] == "'" or not loose_keys
        if open_quote:
            if j >= len(text) or text[j] != "'":
                break
            j += 1
        k = _digits(text, j)
        if k == j:
            break
        key = text[j:k]
        close_quote = k < len(text) and text[k] == "'" and (loose_keys or open_quote)
        if not loose_keys and not close_quote:
            break
        m, ok2 = _spaces(text, k + close_quote)
        if m >= len(text) or text[m] != ":":
            break
        n, ok3 = _spaces(text, m + 1)
        if text[n:n + 1] != "'":
            break
        number = _NUMBER.match(text, n + 1)
        if not number:
            break
        p, ok4 = _spaces(text, number.end())
        has_comma = text[p:p + 1] == ","
        quoted = open_quote and close_quote
        if not quoted:
            python_key = key.isascii() and (key.lstrip("0") == key or set(key) == {"0"})
            readable = readable and open_quote == close_quote and python_key
        readable = readable and comma and ok and ok2 and ok3 and ok4
        entries.append((key if quoted else int(key) if key.isascii() else key, number.group(1)))
        comma, i = has_comma, p + has_comma
    if not entries:
        return None
    end, ok = _spaces(text, i)
    if text[end:end + 1] != "}":
        return None
    return _Mapping(start, end + 1, tuple(entries), readable and ok)


def _first_mapping(text: str, loose_keys: bool) -> _Mapping | None:
    start = text.find("{")
    while start != -1:
        found = _mapping_at(text, start, loose_keys)
        if found:
            return found
        start = text.find("{", start + 1)
    return None


def _shares(entries) -> dict[object, float]:
    """Percent values by key as a dict literal keeps them: the last value of a repeated key."""
    out: dict[object, float] = {}
    for key, number in entries:
        out[key] = float(number)
    return out


def _within(percents) -> bool:
    return abs(sum([v / 100 for v in percents]) - 1.0) < TOLERANCE


def _sum_reason(percents) -> str:
    return f"shares add up to {sum(percents):g}%, outside the release's tolerance (50% to 150%, exclusive)"


UNREADABLE = "the release's matcher raises on this mapping (Python cannot read it as a dict literal)"


def accept_api(reply: str | None, marker: str | None) -> Acceptance:
    """What the release stores for an API reply `reply` (its message content)."""
    if reply is None:
        return Acceptance(None, "the reply has no text; the release's matcher raises on it")
    text = reply.split(marker, 2)[1] if marker and marker in reply else reply
    for candidate in (text, _BARE_PAIR.sub(lambda m: f"'{m[1]}': '{m[2]}'", text)):
        found = _first_mapping(candidate, loose_keys=False)
        if found:
            if not found.readable:
                return Acceptance(None, UNREADABLE)
            shares = _shares(found.entries)
            if not _within(shares.values()):
                return Acceptance(None, _sum_reason(shares.values()))
            return Acceptance(candidate[found.start:found.end])
    return _whole_literal(text)


def _whole_literal(text: str) -> Acceptance:
    try:
        value = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return Acceptance(None, "no mapping of option numbers to percentages; the release's matcher raises "
                                "on text that is not a Python literal")
    if not value:
        return Acceptance(None, "no mapping of option numbers to percentages (an empty literal)")
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return Acceptance(None, "a Python literal that is not a dict of percent strings; the release's "
                                "matcher raises on it")
    try:
        percents = [float(v.strip("%")) for v in value.values()]
    except ValueError:
        return Acceptance(None, "a dict whose values are not numbers; the release's matcher raises on it")
    if not _within(percents):
        return Acceptance(None, _sum_reason(percents))
    return Acceptance(text)


def accept_local(reply: str) -> Acceptance:
    """What the release stores for a local model's decoded reply."""
    text = _UNMARKED.sub(r"\1%", reply.strip().replace("%}", "%'}"))
    found = _first_mapping(text, loose_keys=True)
    if found is None:
        return Acceptance(None, "no mapping of option numbers to percentages")
    if not found.readable:
        return Acceptance(None, UNREADABLE)
    shares = _shares(found.entries)
    if _within(shares.values()):
        return Acceptance(text[found.start:found.end])
    total = sum(shares.values())
    if total == 0:
        return Acceptance(None, "all shares are zero; the release's matcher raises on it")
    return Acceptance(str({k: f"{v / total * 100:.2f}%" for k, v in shares.items()}))


def accepted_shares(accepted: str) -> dict[str, float]:
    """The percent shares of an accepted answer by option code, as written (not normalized).

    >>> accepted_shares("{'1': '60%', 2: '60.5%'}")
    {'1': 60.0, '2': 60.5}
    """
    value = ast.literal_eval(accepted)
    return {str(k): float(str(v).strip("%")) for k, v in value.items()}


# replies on which our rule and a release's matcher must agree, at least one per branch of the rule
PROBES = ("{'1': '40%', '2': '60%'}", "x {'1': '40%', '2': '61%'} y", "{'1': '90%', '2': '90%'}",
          "{'1': '20%', '2': '20%'}", "{1: 40%, 2: 60%}", '{"1": "40%", "2": "60%"}', "{}",
          "{1: '40%', 2: '60'}", "{'1': '40', '2': '60'}", "{'1': '10%', '2': '10%'}", "no answer",
          "{'1':'40%'\n,'2':'60.5%',}", "{'1': '0%'}", "{'1': '40%' '2': '60%'}", "{'1':\xa0'100%'}")


def disagreement(match: Callable[[str], str | None], accept: Callable[[str], Acceptance],
                 marker: str | None) -> str | None:
    """The first of `PROBES` on which a release's `match` (given the text its backend passes it)
    and our `accept` (given the whole reply) store different answers; None when they agree."""
    for probe in PROBES:
        reply = f"{marker}{probe}" if marker else probe
        with contextlib.redirect_stdout(io.StringIO()):  # its local matcher prints what it refuses
            try:
                expected = match(probe if marker else reply.strip())
            except Exception:  # noqa: BLE001 - a matcher that raises has not accepted
                expected = None
        if accept(reply).text != expected:
            return probe
    return None
