"""Flags people can guess: both spellings (the paper's `--base_url`, our `--results-root`), names in
any case, a suggestion for a near miss, and any mistake one line (exit 2), not the usage text.

    >>> p = FlagParser()
    >>> _ = p.add_argument("--steering_method")
    >>> p.parse_args(["--steering-method", "persona"]).steering_method
    'persona'
    >>> choice_of(["verbalized", "logprob"], "method")("LogProb")
    'logprob'
"""
from __future__ import annotations

import argparse
import difflib
import itertools
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any

from utils.core.secrets import redact


def spellings(flag: str) -> list[str]:
    """`--base_url` -> [`--base_url`, `--base-url`]; short and one-word flags stay as they are."""
    if not flag.startswith("--"):
        return [flag]
    body = flag[2:]
    other = body.replace("_", "-") if "_" in body else body.replace("-", "_")
    return [flag] if other == body else [flag, "--" + other]


def suggest(text: str, valid: Iterable[str]) -> str:
    """` (did you mean X?)` for the closest valid name, matched without regard to case; else ""."""
    lowered = {v.lower(): v for v in valid}
    close = difflib.get_close_matches(text.lower(), list(lowered), n=1, cutoff=0.75)
    return f" (did you mean {lowered[close[0]]}?)" if close else ""


def match_name(text: str, valid: Iterable[str], what: str, extra: str = "") -> str:
    """Matched in any case; else a ValueError with a suggestion:

    >>> match_name("japan", ["Japan", "Korea"], "country")
    'Japan'
    >>> match_name("Japn", ["Japan", "Korea"], "country")
    Traceback (most recent call last):
    ValueError: unknown country 'Japn' (did you mean Japan?); choose one of: Japan, Korea
    """
    valid = list(valid)
    for v in valid:
        if v.lower() == text.strip().lower():
            return v
    raise ValueError(f"unknown {what} {text!r}{suggest(text, valid)}; choose one of: {', '.join(valid)}{extra}")


def choice_of(valid: Iterable[str], what: str) -> Callable[[str], str]:
    """A flag's type: any case in, the canonical name out (see `match_name`)."""
    valid = list(valid)

    def parse(text: str) -> str:
        return match_name(text, valid, what)
    parse.__name__ = what  # argparse names the type in some messages
    return parse


def _keeping_message(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """Show a type's ValueError as it is, not argparse's "invalid <type> value"."""
    def wrapped(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    wrapped.__name__ = getattr(parse, "__name__", "value")
    return wrapped


def unknown_flags(argv: list[str], known: Iterable[str]) -> list[str]:
    """Unknown long flags in `argv` before a bare `--`, names only, so no value (a key) is echoed.

    >>> unknown_flags(["--Config=x.toml", "--dry-run", "--", "--Free"], ["--config", "--dry-run"])
    ['--Config']
    """
    known = set(known)
    names = (token.split("=", 1)[0] for token in itertools.takewhile(lambda t: t != "--", argv))
    return [name for name in names if name.startswith("--") and len(name) > 2 and name not in known]


class _HelpFormatter(argparse.HelpFormatter):
    """`--base_url, --base-url URL` rather than the metavar repeated after each spelling."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings or action.nargs == 0:
            return super()._format_action_invocation(action)
        metavar = self._format_args(action, self._get_default_metavar_for_optional(action))
        return f"{', '.join(action.option_strings)} {metavar}"


class FlagParser(argparse.ArgumentParser):
    """Both spellings of every long flag; errors as one line naming the nearest flag; no abbreviations,
    else `--api-key sk-...` would pass for `--api-key-env` and the key land in run_meta.json."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def add_argument(self, *names, **kwargs):
        if callable(kwargs.get("type")) and not isinstance(kwargs["type"], type):  # int, float, Path keep argparse's
            kwargs["type"] = _keeping_message(kwargs["type"])
        if names and all(n.startswith("-") for n in names):  # dest comes from the first long flag, as before
            names = tuple(dict.fromkeys(s for n in names for s in spellings(n) if s not in self._option_string_actions))
        return super().add_argument(*names, **kwargs)

    def parse_args(self, args=None, namespace=None):
        """Name an unknown flag before a missing required one: the missing flag is usually the misspelled one."""
        argv = sys.argv[1:] if args is None else list(args)
        unknown = unknown_flags(argv, self._option_string_actions)
        if unknown:
            self.error(f"unrecognized arguments: {' '.join(unknown)}")
        return super().parse_args(argv, namespace)

    def error(self, message: str):
        unknown = re.match(r"unrecognized arguments: (\S+)", message)
        if unknown:
            flag = unknown.group(1).split("=")[0]
            message += suggest(flag, [o for o in self._option_string_actions if o.startswith("--")])
        self.exit(2, redact(f"error: {message} (see --help)\n"))
