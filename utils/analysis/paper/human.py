"""The paper's human side: unweighted respondent counts per country, item and integer code, looked
up by `int(option)`, every code kept (negative missing codes too: the original compares raw values).

    >>> h = PaperHuman({(156, "Q1"): {1: 3.0, 2: 1.0, -1: 5.0}}, {156: "China"}, synthetic=True)
    >>> h.shares(h.item(156, "Q1"), ["1", "2", 1])
    [0.42857142857142855, 0.14285714285714285, 0.42857142857142855]
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from utils.core.human.human_data import read_long_table
from utils.core.human.wave_map import country_names
from utils.core.errors import UserError


def to_int(key, where: str = "") -> int:
    """The original looks human answers up by `int(option)`; a key that is not a number stops it."""
    try:
        return int(key)
    except (TypeError, ValueError):
        raise UserError(f"{where}: option key {key!r} is not a number; --paper-compat (like the original "
                        "code) needs numeric option codes") from None


@dataclass(frozen=True)
class PaperHuman:
    """`counts[(156, 'Q1')] == {1: 40, 2: 30, -1: 2, ...}`; `names[156] == 'China'`."""

    counts: dict
    names: dict
    synthetic: bool
    wave: int | None = None

    @property
    def country_codes(self) -> list[int]:
        return sorted(self.names)

    @property
    def country_names(self) -> tuple[str, ...]:
        return tuple(self.names[c] for c in self.country_codes)

    def item(self, country: int, item: str) -> dict:
        return self.counts.get((country, item), {})

    def pooled(self, item: str) -> dict:
        """Counts of all countries added together (the notebook's whole-file value counts)."""
        total = Counter()
        for c in self.names:
            total.update(self.item(c, item))
        return total

    def shares(self, counts: dict, keys, where: str = "") -> list[float] | None:
        """Shares of `keys` (by integer value), renormalized over them; None when none was answered."""
        n = [float(counts.get(to_int(k, where), 0)) for k in keys]
        total = sum(n)
        return None if total == 0 else [v / total for v in n]

    def dists(self, questions: dict[str, list[str]], country: int | None) -> dict[str, dict]:
        """id -> {code: share} for one country (None: all pooled); items nobody answered left out."""
        out = {}
        for q, keys in questions.items():
            shares = self.shares(self.pooled(q) if country is None else self.item(country, q), keys, q)
            if shares is not None:
                out[q] = dict(zip(keys, shares))
        return out


def load_paper_human(path: Path) -> PaperHuman:
    """The long table's unweighted `count` per country, item and integer code."""
    table, meta = read_long_table(path)
    if "count" not in table.columns:
        raise UserError(f"{path} has no count column; --paper-compat counts respondents, unweighted")
    table = table[table["count"].notna()]
    code = pd.to_numeric(table["option"].astype(str).str.strip(), errors="coerce")
    table = table.assign(code=code)[code.notna() & (code == code.round())]
    grouped = table.groupby([table["country_code"].astype(int), table["item_id"].astype(str),
                             table["code"].astype(int)])["count"].sum()
    counts: dict = defaultdict(dict)
    for (c, item, k), n in grouped.items():
        counts[(int(c), item)][int(k)] = float(n)
    known = country_names()
    if "country" in table.columns:
        first = table.drop_duplicates("country_code")
        known.update(zip(first["country_code"].astype(int), first["country"].astype(str)))
    codes = sorted({c for c, _ in counts})
    waves = sorted(table["wave"].dropna().unique()) if "wave" in table.columns else []
    return PaperHuman(dict(counts), {c: known.get(c, f"country {c}") for c in codes},
                      bool(meta.get("synthetic", False)), int(waves[0]) if len(waves) == 1 else None)
