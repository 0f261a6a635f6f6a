"""Small checks of a study file's values; each failure is a one-line `UserError` naming the key."""
from __future__ import annotations

from typing import Any

from utils.core.errors import UserError
from utils.core.flag_parser import suggest


def known(table: dict, allowed, where: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        allowed_txt = ", ".join(sorted(allowed)) or "nothing"
        raise UserError(f"unknown key(s) {', '.join(unknown)} in {where}{suggest(unknown[0], allowed)}; "
                        f"allowed: {allowed_txt}")


def table(data: dict, key: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise UserError(f"{key} must be a table ([{key}]), not {type(value).__name__}")
    return value


def as_list(value: Any, where: str) -> list:
    """A non-empty list of [[where]] tables."""
    if value is None:
        raise UserError(f"no {where}: add at least one [[{where}]] table")
    if not isinstance(value, list) or not value:
        raise UserError(f"{where} must be a list ([[{where}]] tables)")
    return value


def text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"{where} must be a non-empty string, not {value!r}")
    return value


def choice(value: Any, valid: list[str], where: str, allow_all: bool = True,
            all_means: list[str] | None = None) -> tuple[str, ...]:
    """A name or list of names, in any case; "all" -> every valid value, or `all_means` (as
    `--steering_method all` means the paper's five)."""
    if allow_all and value == "all":
        return tuple(valid if all_means is None else all_means)
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        alt = ' (or "all")' if allow_all else ""
        raise UserError(f"{where} must be a name or a list of names{alt}, not {value!r}")
    by_lower = {v.lower(): v for v in valid}
    unknown = [v for v in items if v.lower() not in by_lower]
    if unknown:
        raise UserError(f"{where}: unknown {', '.join(map(repr, unknown))}; choose from {', '.join(valid)}")
    return tuple(dict.fromkeys(by_lower[v.lower()] for v in items))
