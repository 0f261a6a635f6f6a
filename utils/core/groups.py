"""Respondent groups within a country (sex, age band, ...), as data in `inputs/groups/groups.json`
(docs/groups.md). A variable names its column per wave and its groups, by codes or a closed range::

    age: Q262 (wave 7), groups 18-29 = [18, 29], 30-49 = [30, 49], 50+ = [50, inf)
    assign([17, 18, 35, 70, -2, nan], age) -> [-1, 0, 1, 2, -1, -1]

A missing or negative value, or one in no group, is in no group (still counted for the whole
country, whose long-table rows carry `all` as `group_var` and `group`: `WHOLE`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.core.errors import UserError
from utils.core.paths import INPUTS_DIR, read_json

GROUPS_PATH = INPUTS_DIR / "groups" / "groups.json"
ALL = "all"
WHOLE = (ALL, ALL)  # (group_var, group) of the whole-country rows


@dataclass(frozen=True)
class Group:
    """The answer codes in it, or the closed range [lo, hi] of values."""

    label: str
    codes: tuple[float, ...] = ()
    lo: float = -math.inf
    hi: float = math.inf

    def contains(self, values: np.ndarray) -> np.ndarray:
        """NaN and negative values (WVS missing codes) are in no group."""
        with np.errstate(invalid="ignore"):
            valid = np.isfinite(values) & (values >= 0)
            inside = np.isin(values, self.codes) if self.codes else (values >= self.lo) & (values <= self.hi)
        return valid & inside


@dataclass(frozen=True)
class GroupVar:
    """Its column per wave, why a wave lacks it, and its groups in order."""

    name: str
    description: str
    columns: dict[int, str]
    unavailable: dict[int, str]
    groups: tuple[Group, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(g.label for g in self.groups)

    def column(self, wave: int) -> str | None:
        return self.columns.get(wave)

    def assign(self, values: np.ndarray) -> np.ndarray:
        """[n] values -> [n] group index (position in `groups`), -1 for no group.

        >>> sex = GroupVar("sex", "", {7: "Q260"}, {}, (Group("male", (1,)), Group("female", (2,))))
        >>> sex.assign(np.array([1, 2, -1, 3, np.nan])).tolist()
        [0, 1, -1, -1, -1]
        """
        values = np.asarray(values, dtype=np.float64)
        out = np.full(values.shape, -1, dtype=np.int64)
        for k, g in reversed(list(enumerate(self.groups))):  # the first group that contains a value wins
            out[g.contains(values)] = k
        return out


def load_group_vars(path: Path = GROUPS_PATH) -> dict[str, GroupVar]:
    """A malformed entry is a one-line `UserError` naming it."""
    try:
        data = read_json(path, "it defines the respondent groups (docs/groups.md)")["variables"]
    except (KeyError, TypeError) as exc:
        raise UserError(f"{path}: not a group definition file ({exc!r}); it needs a 'variables' object") from None
    out = {}
    for name, v in data.items():
        try:
            groups = tuple(Group(str(g["label"]), tuple(float(c) for c in g.get("codes", ())),
                                 float(g.get("min", -math.inf)), float(g.get("max", math.inf)))
                           for g in v["groups"])
            var = GroupVar(name, str(v.get("description", "")), {int(w): str(c) for w, c in v["columns"].items()},
                           {int(w): str(r) for w, r in v.get("unavailable", {}).items()}, groups)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UserError(f"{path}: group variable {name!r} is malformed ({exc!r}); it needs 'columns' "
                            "(wave -> column) and 'groups' (each a 'label' with 'codes' or 'min'/'max')") from None
        labels = var.labels
        if not groups or len(set(labels)) != len(labels) or ALL in labels or ALL == name:
            raise UserError(f"{path}: group variable {name!r} needs distinct group labels other than {ALL!r}")
        out[name] = var
    return out


def parse_group_vars(text: str, known: dict[str, GroupVar]) -> list[GroupVar]:
    """'sex,age' -> those variables in the given order; an unknown name says which exist."""
    names = [t.strip() for t in str(text).split(",") if t.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise UserError(f"unknown group variable {', '.join(unknown) or repr(text)}; "
                        f"known: {', '.join(known)} (inputs/groups/groups.json)")
    return [known[n] for n in dict.fromkeys(names)]


def parse_group(text: str, known: dict[str, GroupVar]) -> tuple[str, str]:
    """'age=18-29' -> ('age', '18-29'); an unknown variable or label says which exist."""
    var, sep, label = str(text).partition("=")
    var, label = var.strip(), label.strip()
    if not sep or not var or not label:
        raise UserError(f"a group is VARIABLE=LABEL, e.g. age=18-29, not {text!r}; "
                        f"variables: {', '.join(known)}")
    gv = parse_group_vars(var, known)[0]
    if label not in gv.labels:
        raise UserError(f"group variable {var} has no group {label!r}; its groups: {', '.join(gv.labels)}")
    return var, label
