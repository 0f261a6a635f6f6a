"""A prepared long table of human answers -> `HumanData` for analysis.

Any table with `country_code, item_id, option` and `count`, `weighted_count` or `share` works.
`counts[country, item, k]` follows each item's semantic `order`, zero-padded: for Q122 (order
`2, 1, 0`) position 0 holds code 2. Shares (`dataset/import_shares.py`) are relative weights within
a country and item, codes outside the item invalid: (0.6, 0.3) with n = 1000 and a missing-code
row 0.1 give counts (600, 300) and 100 invalid. Without `n` the counts are the shares, and what
needs respondents (split-half ceiling, pooled population) is left out, never made up.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from utils.core.groups import ALL, WHOLE
from utils.core.human.microdata import table_meta
from utils.core.human.wave_map import NON_SUBSTANTIVE, WAVE_COLUMNS, country_names
from utils.core.errors import UserError
from utils.core.paths import not_found, repo_hint
from utils.core.survey.data import code_text

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class HumanData:
    country_codes: np.ndarray  # [C]
    country_names: tuple[str, ...]
    item_ids: tuple[str, ...]
    orders: tuple[tuple[str, ...], ...]
    counts: np.ndarray  # [C, I, K] valid answers (weighted if weights == "survey")
    n_invalid: np.ndarray  # [C, I] missing or other answers, same weighting
    weights: str = "none"
    wave: int | None = None
    synthetic: bool = False
    source: str = ""
    has_respondents: np.ndarray | None = None  # [C, I] shares tables: n known; None: counts table
    group: tuple[str, str] = WHOLE  # (group_var, group) these counts are of; (all, all): whole countries
    respondents: np.ndarray | None = None  # [C] unweighted respondents (n for shares); None: unknown

    @property
    def n_options(self) -> np.ndarray:
        return np.array([len(o) for o in self.orders])

    def shares(self) -> np.ndarray:
        """[C, I, K] distributions; NaN rows where a country has no valid answer to an item."""
        total = self.counts.sum(-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, self.counts / np.where(total > 0, total, 1), np.nan)

    def select(self, country_codes) -> HumanData:
        pos = {int(c): i for i, c in enumerate(self.country_codes)}
        idx = [pos[int(c)] for c in country_codes if int(c) in pos]
        return HumanData(self.country_codes[idx], tuple(self.country_names[i] for i in idx), self.item_ids,
                         self.orders, self.counts[idx], self.n_invalid[idx], self.weights, self.wave,
                         self.synthetic, self.source,
                         None if self.has_respondents is None else self.has_respondents[idx], self.group,
                         None if self.respondents is None else self.respondents[idx])


def microdata_hint(path: Path, columns: list[str], force: bool = False) -> str:
    """The hint to run prepare_wvs.py when `columns` look like a raw wave file's (B_COUNTRY, V2, Q1, ...),
    the likeliest reason a table lacks our columns; else ''.

    >>> microdata_hint(Path("WVS7.csv"), ["B_COUNTRY", "W_WEIGHT", "Q1", "Q2"])[:40]
    '; this looks like WVS microdata (one row'
    """
    names = {str(c).strip().upper() for c in columns}
    waves = [w for w, (country, _) in sorted(WAVE_COLUMNS.items(), reverse=True) if country in names]
    questions = sum(1 for c in names if re.fullmatch(r"[QV]\d+[A-Z]?", c))
    if not (force or waves or questions >= 5):
        return ""
    wave = "7" if 7 in waves else "<5 or 6>" if waves else "<5, 6 or 7>"
    return (f"; this looks like WVS microdata (one row per respondent), which dataset/prepare_wvs.py turns into "
            f"that table: run python dataset/prepare_wvs.py --wave {wave} --input {path} and pass the table it "
            "writes (dataset/human/WV<wave>.csv) as --human")


def read_long_table(path: Path, group: tuple[str, str] | None = WHOLE) -> tuple[pd.DataFrame, dict]:
    """A long table and its `<name>.meta.json` ({} if none); only `group`'s rows (None: every row)."""
    path = Path(path)
    if not path.is_file():
        synthetic = path.with_name(f"{path.stem}_synthetic{path.suffix}")
        if repo_hint(path):  # a relative path that exists from the repository root
            raise UserError(not_found(path, "human data"))
        hint = (f"; {synthetic} holds synthetic data: pass it as --human to try the pipeline" if synthetic.is_file()
                else " (or dataset/make_synthetic_wvs.py to try the pipeline without WVS data)")
        raise UserError(f"{not_found(path, 'human data')}; run dataset/prepare_wvs.py first{hint}")
    if path.suffix.lower() == ".dta":
        raise UserError(f"cannot read human data {path}: a Stata file is WVS microdata, not the long table the "
                        f"analysis reads{microdata_hint(path, [], force=True)}")
    try:
        table = pd.read_csv(path, dtype={"option": str, "item_id": str, "country": str, "variable": str,
                                         "group_var": str, "group": str})
    except pd.errors.EmptyDataError:
        raise UserError(f"human data {path} is empty (not even a header); prepare it again with "
                        "python dataset/prepare_wvs.py --wave 7 --input <WVS file>") from None
    except Exception as exc:  # noqa: BLE001 - any parser failure is one line naming the file
        raise UserError(f"cannot read human data {path}: {str(exc).splitlines()[0]}") from None
    missing = [c for c in ("country_code", "item_id", "option") if c not in table.columns]
    if not {"count", "weighted_count", "share"} & set(table.columns):
        missing.append("count")
    if missing:
        raise UserError(f"{path} lacks column(s) {', '.join(missing)}; a human table needs "
                        "country_code, item_id, option and count (or weighted_count, or share)"
                        + microdata_hint(path, list(table.columns)))
    return (table if group is None else select_group(table, group, path)), table_meta(path)


def table_groups(table: pd.DataFrame) -> dict[str, list[str]]:
    """{group_var: [groups in the table's order]}; {} without groups."""
    if "group_var" not in table.columns:
        return {}
    pairs = table.loc[table["group_var"] != ALL, ["group_var", "group"]].drop_duplicates()
    return {v: list(g["group"]) for v, g in pairs.groupby("group_var", sort=False)}


def select_group(table: pd.DataFrame, group: tuple[str, str], path: Path) -> pd.DataFrame:
    """The rows of one (group_var, group); an absent variable or group says which exist."""
    var, label = group
    if "group_var" not in table.columns:
        if (var, label) == WHOLE:
            return table
        raise UserError(f"{path} has no group rows; prepare it with python dataset/prepare_wvs.py --groups {var}")
    found = table_groups(table)
    if var != ALL and var not in found:
        raise UserError(f"{path} has no group variable {var}; it has: {', '.join(found) or 'none'} "
                        f"(prepare it with dataset/prepare_wvs.py --groups {var})")
    if var != ALL and label not in found[var]:
        raise UserError(f"{path} has no group {var}={label}; its {var} groups: {', '.join(found[var])}")
    return table[(table["group_var"] == var) & (table["group"] == label)]


def load_human(path: Path, item_ids: list[str], orders: list[tuple[str, ...]], weights: str = "none",
               wave: int | None = None, group: tuple[str, str] = WHOLE) -> HumanData:
    """`weights` "none" counts respondents (the paper), "survey" uses the WVS weights; `group`, e.g.
    ("age", "18-29"), takes that group's rows in each country that has it."""
    table, meta = read_long_table(path, group)
    column = {"none": "count", "survey": "weighted_count"}.get(weights)
    if column is None:
        raise UserError(f"--weights must be none or survey, not {weights!r}")
    shares = "share" in table.columns and not {"count", "weighted_count"} & set(table.columns)
    if shares:
        if weights != "none":
            raise UserError(f"{path} gives shares, which carry their source's own weighting; use --weights none")
        table = _shares_as_counts(table, path)
    if column not in table.columns:
        raise UserError(f"{path} has no {column} column; use --weights {'survey' if weights == 'none' else 'none'}")
    if wave is not None and "wave" in table.columns:
        table = table[table["wave"] == wave]
    table = table[table[column].notna()]
    country = table["country_code"].to_numpy(dtype=np.int64)
    codes = pd.Index(np.unique(country))
    c_idx = codes.get_indexer(country)
    i_idx = pd.Index(item_ids).get_indexer(table["item_id"].astype(str))
    # Clean the few distinct codes once ('1.0' -> '1': other tools may write floats); a row's position is
    # then a lookup in [item, code] (-1: not an option).
    o_idx, o_codes = pd.factorize(table["option"])
    cleaned = [code_text(c) for c in o_codes]
    position = np.array([[order.index(c) if c in order else -1 for c in cleaned] for order in orders],
                        dtype=np.int64).reshape(len(orders), len(cleaned))
    asked = i_idx >= 0
    k = np.where(asked & (o_idx >= 0), position[i_idx, o_idx], -1)
    value = table[column].to_numpy(dtype=float)
    n_c, n_i, n_k = len(codes), len(item_ids), max(len(o) for o in orders)
    ok, other = asked & (k >= 0), asked & (k < 0)
    counts = np.bincount((c_idx[ok] * n_i + i_idx[ok]) * n_k + k[ok], weights=value[ok],
                         minlength=n_c * n_i * n_k).reshape(n_c, n_i, n_k)

    def per_cell(rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """[C, I] sums of `weights` over the `rows` chosen."""
        cell = c_idx[rows] * n_i + i_idx[rows]
        return np.bincount(cell, weights=weights[rows], minlength=n_c * n_i).reshape(n_c, n_i)

    invalid = per_cell(other, value)
    has_n = respondents = None  # respondents [C]: None if unknown
    if shares:  # a cell has respondents if its rows give n; a country as many as its largest n
        has_n = per_cell(asked, table["_with_n"].to_numpy(float)) > 0
        if "n" in table.columns:
            n = pd.to_numeric(table["n"], errors="coerce").groupby(table["country_code"].to_numpy()).max()
            respondents = n.reindex(np.asarray(codes)).to_numpy(dtype=float)
    elif "count" in table.columns:  # the most answers (valid or not) to one item: everyone answers every item
        respondents = per_cell(asked, np.nan_to_num(table["count"].to_numpy(float))).max(1) if n_i else np.zeros(n_c)
    absent = [i for i, n in zip(item_ids, counts.sum((0, 2))) if n == 0]
    if absent:
        log.warning("%s: no answers for %d item(s): %s", path, len(absent), ", ".join(absent[:10]))
    known = country_names()
    if "country" in table.columns:
        first = table.drop_duplicates("country_code")
        known.update(zip(first["country_code"].astype(int), first["country"].astype(str)))
    names = tuple(known.get(int(c), f"country {c}") for c in codes)
    waves = sorted(table["wave"].dropna().unique()) if "wave" in table.columns else []
    return HumanData(np.asarray(codes, dtype=int), names, tuple(item_ids), tuple(map(tuple, orders)), counts,
                     invalid, weights, wave if wave is not None else (int(waves[0]) if len(waves) == 1 else None),
                     bool(meta.get("synthetic", False)), str(path), has_n, tuple(group), respondents)


def wave_note(path: Path, found: int | None, expected: int | None = 7) -> str:
    """A note when a table of wave `found` is read where `expected` is meant: only the shared items
    would be compared, without a word. `expected` None: any wave (RQ3)."""
    if expected is None or found is None or found == expected:
        return ""
    return (f"{path} holds Wave {found} answers, not Wave {expected}'s: only the items that wave shares with Wave "
            f"{expected} are compared; pass a Wave {expected} table for RQ1 and RQ2 (rq3_temporal.py compares waves)")


def _shares_as_counts(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """count = n * share / (the cell's sum of shares), or the relative share without `n` (`_with_n` False)."""
    table = table[table["share"].notna()].copy()
    share = pd.to_numeric(table["share"], errors="coerce")
    if share.isna().any() or (share < 0).any():
        raise UserError(f"{path}: share must be a number >= 0 in every row")
    cell = [table["country_code"], table["item_id"].astype(str)] + ([table["wave"]] if "wave" in table.columns else [])
    total = share.groupby(cell).transform("sum")
    n = pd.to_numeric(table["n"], errors="coerce").groupby(cell).transform("max") if "n" in table.columns \
        else pd.Series(np.nan, index=table.index)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["count"] = np.where(total > 0, share / total.where(total > 0, 1), 0.0) * n.fillna(1.0)
    table["_with_n"] = n.notna()
    return table


def keep_mask(item_ids: tuple[str, ...], orders: tuple[tuple[str, ...], ...], n_k: int) -> np.ndarray:
    """[I, K] True for substantive options (everything but `NON_SUBSTANTIVE`); padding is False."""
    mask = np.zeros((len(item_ids), n_k), dtype=bool)
    for i, (item, order) in enumerate(zip(item_ids, orders)):
        drop = NON_SUBSTANTIVE.get(item, ())
        mask[i, :len(order)] = [o not in drop for o in order]
    return mask
