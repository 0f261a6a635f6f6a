"""`--paper-compat`: the original release's arithmetic, slips included, shared by RQ1 and RQ2.

The default analysis (`answers`, `scoring`, `metrics`) corrects four things the original code
did; this mode does them the original way so its output can be put next to the paper's tables
digit for digit. The rules, each written where it is used:

* answers: `ast.literal_eval` of the `response` text, or, when that fails, of the text with bare
  keys quoted (`{1: 30%}` -> `{'1': '30%'}`); each value `'30%'` -> 0.30. No renormalization
  and no tolerance on the sum (`wasserstein_distance` renormalizes the weights itself). Keys keep
  their Python type: `{1: '30%'}` has the integer key 1, which never equals the code `'1'`.
* human side: unweighted respondent counts (the long table's `count`), looked up by the option's
  integer value, renormalized over the options in use.
* item score: `1 - wasserstein_distance(s, s, p_model, p_human) / (N - 1)`, one support `s`.

RQ1's and RQ2's own rules (which row of an id, which support) live in `paper_compat_rq1` and
`paper_compat_rq2`.
"""
from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import wasserstein_distance

from utils.analysis.human.human_data import note_other_wave, read_long_table
from utils.analysis.human.wave_map import country_names
from utils.core.errors import UserError
from utils.core.paths import INPUTS_DIR

OPINION = "Opinion-Dependent"
_BARE = re.compile(r"(\d+):\s*([\d.]+%)")


def read_answer(text: str, where: str = "") -> dict:
    """`"{'1': '30%', '2': '70%'}"` -> `{'1': 0.3, '2': 0.7}`; `"{1: 30%, 2: 70%}"` -> `{'1': 0.3, '2': 0.7}`
    (bare keys quoted); `"{1: '30%'}"` -> `{1: 0.3}` (an integer key stays an integer).

    A text the original code could not read either is a UserError naming `where`.
    """
    try:
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            parsed = ast.literal_eval(_BARE.sub(r"'\1': '\2'", text))
        return {k: float(v.strip("%")) / 100 for k, v in parsed.items()}
    except Exception:  # noqa: BLE001 - the original code stops here; we say where and why
        raise UserError(f"{where}: --paper-compat cannot read the answer {str(text)[:60]!r} (the original "
                        "code stops on it too); leave out --paper-compat or fix the row") from None


def release_translation_gaps(method: str, country: str, inputs_dir: Path = INPUTS_DIR) -> tuple[str, ...]:
    """The items a condition asked in `country`'s language (a `language*` method) lacks in the
    release's translated questionnaire, which the paper therefore scored without (China: Q83-Q90,
    Q125, Q148, Q234, Q240); () for conditions asked in English. From
    `inputs/analysis/release_translation_gaps.json` and `inputs/steering/*.json`."""
    def read(*parts: str) -> dict:
        path = Path(inputs_dir).joinpath(*parts)
        if not path.is_file():
            raise UserError(f"{path} not found; it is part of the project's inputs")
        return json.loads(path.read_text(encoding="utf-8"))

    spec = read("steering", "methods.json")["methods"].get(method) or {}
    if spec.get("language") != "country":
        return ()
    language = (read("steering", "countries.json")["countries"].get(country) or {}).get("language", "")
    return tuple(read("analysis", "release_translation_gaps.json")["languages"].get(language, ()))


def item_score(support, p_model, p_human) -> float:
    """`1 - W1(support; p_model, p_human) / (N - 1)` with one support for both sides.

    >>> round(item_score([1, 2, 3], [1, 0, 0], [0, 0, 1]), 4)
    0.0
    """
    n = len(support)
    try:
        return float(1.0 - wasserstein_distance(support, support, p_model, p_human) / (n - 1))
    except ValueError as exc:  # all-zero weights: the original code stops here
        raise UserError(f"--paper-compat: an item's weights cannot be scored ({exc}); an answer with all "
                        "options at 0% stops the original code too") from None


def stars(p: float) -> str:
    """`*` p < .05, `**` p < .01, `***` p < .001; '' otherwise or when p is NaN."""
    if p is None or not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def to_int(key, where: str = "") -> int:
    """The original looks human answers up by `int(option)`; a key that is not a number stops it."""
    try:
        return int(key)
    except (TypeError, ValueError):
        raise UserError(f"{where}: option key {key!r} is not a number; --paper-compat (like the original "
                        "code) needs numeric option codes") from None


@dataclass(frozen=True)
class PaperHuman:
    """Unweighted counts per (country, item, integer code), as the microdata's value counts would give.

    `counts[(156, 'Q1')] == {1: 40, 2: 30, -1: 2, ...}`; `names[156] == 'China'`.
    """

    counts: dict
    names: dict
    synthetic: bool
    wave: int | None = None

    @property
    def country_codes(self) -> list[int]:
        return sorted(self.names)

    def item(self, country: int, item: str) -> dict:
        return self.counts.get((country, item), {})

    def pooled(self, item: str) -> dict:
        """Counts of all countries added together (the notebook's whole-file value counts)."""
        total: dict = defaultdict(float)
        for c in self.names:
            for code, n in self.item(c, item).items():
                total[code] += n
        return total

    def shares(self, counts: dict, keys, where: str = "") -> list[float] | None:
        """Shares of `keys` (looked up by integer value), renormalized over them; None when none was
        answered. `shares({1: 3, 2: 1}, ['1', '2', 1])` -> `[0.4286, 0.1429, 0.4286]`."""
        n = [float(counts.get(to_int(k, where), 0)) for k in keys]
        total = sum(n)
        return None if total == 0 else [v / total for v in n]


def load_paper_human(path: Path, wave: int | None = None, expected_wave: int | None = 7) -> PaperHuman:
    """The long table's unweighted `count` per country, item and integer code (every code, the
    negative missing codes too: the original compares raw column values). A table of another
    wave than `expected_wave` is said in a note (None: any wave, as RQ3 reads three)."""
    table, meta = read_long_table(path)
    if "count" not in table.columns:
        raise UserError(f"{path} has no count column; --paper-compat counts respondents, unweighted")
    if wave is not None and "wave" in table.columns:
        table = table[table["wave"] == wave]
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
    found = wave if wave is not None else (int(waves[0]) if len(waves) == 1 else None)
    note_other_wave(path, found, expected_wave if wave is None else None)
    return PaperHuman(dict(counts), {c: known.get(c, f"country {c}") for c in codes},
                      bool(meta.get("synthetic", False)), found)
