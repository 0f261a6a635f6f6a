"""Reading the Python text that survey releases store in CSV cells, without evaluating any of it.

`eval` would run whatever a file holds; this knows strings, numbers (`nan` too), lists, tuples and
dicts, and nothing else:

    >>> parse_literal("{1.0: 'Very safe', 99.0: \\"Don't know\\"}")
    {1.0: 'Very safe', 99.0: "Don't know"}
    >>> parse_literal("defaultdict(<class 'list'>, {'Belgium': [0.19, 0.43, 0.38]})")
    {'Belgium': [0.19, 0.43, 0.38]}
"""
from __future__ import annotations

import codecs
import re

_TOKEN = re.compile(r"""\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
                    r"|(?P<num>[-+]?(?:nan|inf|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))"
                    r"|(?P<punct>[\[\](){}:,]))", re.S)
_DEFAULTDICT = re.compile(r"^\s*defaultdict\(<class '\w+'>,\s*(.*)\)\s*$", re.S)
_CLOSE = {"[": "]", "(": ")", "{": "}"}


def parse_literal(text: str):
    """A ValueError says where the text stops making sense."""
    m = _DEFAULTDICT.match(text)
    tokens = _tokens(m.group(1) if m else text)
    value, end = _value(tokens, 0)
    if end != len(tokens):
        raise ValueError(f"unexpected {tokens[end][1]!r} after the value")
    return value


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text.rstrip()):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot read {text[pos:pos + 20].strip()!r}")
        out.append((m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
    return out


def _value(tokens, i):
    if i >= len(tokens):
        raise ValueError("the text ends too early")
    kind, text = tokens[i]
    if kind == "str":  # backslashreplace keeps non-Latin-1 letters intact through unicode_escape
        return codecs.decode(text[1:-1].encode("latin-1", "backslashreplace"), "unicode_escape"), i + 1
    if kind == "num":
        return float(text) if re.search(r"[.eEn]", text) else int(text), i + 1
    if text not in _CLOSE:
        raise ValueError(f"unexpected {text!r}")
    close, items, i = _CLOSE[text], [], i + 1
    while i < len(tokens) and tokens[i][1] != close:
        key, i = _value(tokens, i)
        if text == "{":
            if i >= len(tokens) or tokens[i][1] != ":":
                raise ValueError("a dict entry lacks its ':'")
            value, i = _value(tokens, i + 1)
            key = (key, value)
        items.append(key)
        if i < len(tokens) and tokens[i][1] == ",":
            i += 1
        elif i < len(tokens) and tokens[i][1] != close:
            raise ValueError(f"expected ',' or {close!r}, not {tokens[i][1]!r}")
    if i >= len(tokens):
        raise ValueError(f"{text!r} is never closed")
    return (dict(items) if text == "{" else tuple(items) if text == "(" else items), i + 1
