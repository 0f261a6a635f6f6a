"""An analysis' own options as a frozen dataclass of `option(default, help, ...)` fields, turned into
flags (`cli.add_options`: `n_boot` -> `--n-boot`) or read from a study file's mapping (`options_from`):

    >>> @dataclass(frozen=True)
    ... class Opts:
    ...     n_boot: int = option(1000, "bootstrap resamples (default 1000)")
    >>> options_from(Opts, {"n_boot": 200}, "[x]")
    Opts(n_boot=200)
    >>> options_from(Opts, {"nboot": 200}, "[x]")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    utils.core.errors.UserError: [x]: 'nboot' is not an option of this analysis (did you mean n_boot?); ...

`ours_only` marks an option the paper's rules cannot take: refused under `--paper-compat` unless at
its default, and left at it by the study's paper pass.
"""
from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from utils.core.errors import UserError
from utils.core.flag_parser import suggest


def option(default, help: str, *, ours_only: bool = False, **flag) -> Any:  # noqa: A002 - argparse's word
    """A field: its default, its help text and argparse settings (`choices`, `metavar`, `nargs`)."""
    return field(default=default, metadata={"help": help, "ours_only": ours_only, **flag})


@dataclass(frozen=True)
class NoOptions:
    """An analysis with no options of its own."""


def field_types(cls) -> dict[str, tuple[type, bool]]:
    """field name -> (its value type, whether it is a tuple of them); `X | None` counts as X."""
    out = {}
    for name, hint in typing.get_type_hints(cls).items():
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        many = typing.get_origin(hint) is tuple
        out[name] = (typing.get_args(hint)[0] if many else hint, many)
    return out


def options_from(cls, values: Mapping[str, Any], where: str, owner: str = "this analysis"):
    """The record from plain (TOML) values; a bad key, type or choice is a one-line UserError naming `where`."""
    kinds, known = field_types(cls), [f.name for f in fields(cls)]
    out = {}
    for key, value in values.items():
        if key not in known:
            raise UserError(f"{where}: {key!r} is not an option of {owner}{suggest(key, known)}; its options: "
                            f"{', '.join(known) or 'none'}")
        kind, many = kinds[key]
        try:
            out[key] = tuple(coerce(kind, v) for v in ([value] if isinstance(value, str) else value)) if many \
                else coerce(kind, value)
        except (TypeError, ValueError):
            what = f"{'a list of ' if many else ''}{kind.__name__}"
            raise UserError(f"{where}: {key} takes {what}, not {value!r}") from None
        choices = cls.__dataclass_fields__[key].metadata.get("choices")
        if choices and out[key] not in choices:
            raise UserError(f"{where}: {key} takes {', '.join(choices)}, not {value!r}{suggest(str(value), choices)}")
    return cls(**out)


def coerce(kind: type, value):
    """A TOML value as `kind`: `coerce(float, 0)` -> 0.0, `coerce(str, ["a", "b"])` -> "a,b"; a bool
    for a number (or the reverse), or any value `kind` cannot take, is a TypeError."""
    if kind is str and isinstance(value, list):
        return ",".join(map(str, value))
    if kind is bool and not isinstance(value, bool) or kind in (int, float) and isinstance(value, bool):
        raise TypeError(kind)
    return kind(value) if kind in (int, float, str, Path) else value


def paper_problem(options) -> str:
    """The `ours_only` options set away from their defaults, as a one-line refusal ("" if none)."""
    moved = [f"--{f.name.replace('_', '-')}" + ("" if isinstance(v, bool) else f" {v}") for f in fields(options)
             if f.metadata.get("ours_only") and (v := getattr(options, f.name)) != f.default]
    return f"--paper-compat reproduces the paper's arithmetic and cannot be combined with {', '.join(moved)}" \
        if moved else ""


def for_paper(options):
    """`options` with the `ours_only` ones at their defaults (the study's paper pass)."""
    return replace(options, **{f.name: f.default for f in fields(options) if f.metadata.get("ours_only")})

