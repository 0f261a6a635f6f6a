"""Human answer distributions from World Values Survey microdata.

Two steps, both vectorized with numpy (no per-country, per-item filtering):

1. `prepare_long_table`: microdata (one row per respondent) -> a compact long table, one row per
   (country, item, answer code) with the unweighted and the survey-weighted count::

       wave,country_code,country,item_id,variable,option,status,count,weighted_count
       7,156,China,Q1,Q1,1,valid,2812,2790.5
       7,156,China,Q1,Q1,-1,missing,3,2.9

   `status` is `valid` for the item's options, `missing` for the negative WVS codes (don't know,
   no answer, not asked, missing) and empty cells, `other` for any other code (e.g. a volunteered
   answer a wave records but the item does not offer). Only `valid` rows enter distributions.
   Waves 5 and 6 are stored under the Wave 7 item id (`item_id` Q1, `variable` V4) through
   `dataset/questions/WV567.jsonl`, so every wave can be scored against the same model answers.

2. `load_human`: a long table (prepared here, or any table with the columns `country_code,
   item_id, option, count` and optionally `weighted_count`, e.g. another survey's aggregate)
   -> `HumanData`, whose `counts[country, item, k]` follows each item's semantic `order`,
   zero-padded to the longest item. For Q122 (order `2, 1, 0`) position 0 holds code 2.

`WV567.jsonl`, one line per item asked in waves 5, 6 and 7::

    {"id": "Q1", "variables": {"7": "Q1", "6": "V4", "5": "V4"}, "choice_keys": [...],
     "order": [...], "scale": "ordinal", "recode": {}, "note": "..."}

`recode` maps a wave to `{code in that wave: Wave 7 code}` for scales that differ; it is applied
before counting.
"""
from __future__ import annotations

import gzip
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from utils.errors import UserError
from utils.paths import QUESTIONS_DIR, REPO_ROOT
from utils.records import SurveyItem

log = logging.getLogger(__name__)

WAVE_MAP_PATH = QUESTIONS_DIR / "WV567.jsonl"
COUNTRIES_PATH = REPO_ROOT / "dataset" / "countries.json"
LONG_COLUMNS = ["wave", "country_code", "country", "item_id", "variable", "option", "status", "count",
                "weighted_count"]
# Country and weight variables of the official wave files, as downloaded.
WAVE_COLUMNS = {7: ("B_COUNTRY", "W_WEIGHT"), 6: ("V2", "V258"), 5: ("V2", "V259")}
SYNTHETIC_MARKER = "SYNTHETIC_DATA"  # a column that `dataset/make_synthetic_wvs.py` adds
# Options that state no opinion; dropped only when asked (`--drop-nonsubstantive`).
NON_SUBSTANTIVE = {"Q119": ("0",), **{f"Q{n}": ("1",) for n in range(122, 130)}}


@dataclass(frozen=True)
class WaveItem:
    """One item of the cross-wave mapping: its variable in each wave and its options."""

    id: str
    variables: dict[int, str]
    choice_keys: tuple[str, ...]
    order: tuple[str, ...]
    scale: str = "ordinal"
    recode: dict[int, dict[str, str]] = field(default_factory=dict)
    note: str = ""


def load_wave_map(path: Path = WAVE_MAP_PATH) -> list[WaveItem]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"cross-wave mapping {path} not found")
    out = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            o = json.loads(line)
            item = WaveItem(id=o["id"], variables={int(w): v for w, v in o["variables"].items()},
                            choice_keys=tuple(map(str, o["choice_keys"])), order=tuple(map(str, o["order"])),
                            scale=o.get("scale", "ordinal"), note=o.get("note", ""),
                            recode={int(w): {str(a): str(b) for a, b in m.items()}
                                    for w, m in (o.get("recode") or {}).items()})
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UserError(f"{path}, line {lineno}: not a mapping entry ({exc!r})") from None
        bad = {b for m in item.recode.values() for b in m.values()} - set(item.choice_keys)
        if sorted(item.order) != sorted(item.choice_keys) or bad:
            raise UserError(f"{path}, line {lineno}: order/recode of {item.id} must use the codes {item.choice_keys}")
        out.append(item)
    return out


def country_names(path: Path = COUNTRIES_PATH) -> dict[int, str]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {int(c["code"]): c["name"] for c in data["countries"]}


@dataclass(frozen=True)
class ItemSpec:
    """An item as read from one wave's file: its id, the column holding it and its options."""

    id: str
    variable: str
    order: tuple[str, ...]
    recode: dict[str, str] = field(default_factory=dict)


def wave_items(wave: int, items: list[SurveyItem], wave_map: list[WaveItem]) -> list[ItemSpec]:
    """Items to read from a wave's file. Wave 7: the questionnaire's items plus the mapping's
    (Q151); waves 5 and 6: the mapping's items under their V-names."""
    if wave not in WAVE_COLUMNS:
        raise UserError(f"wave must be one of {sorted(WAVE_COLUMNS)}, not {wave}")
    if wave == 7:
        specs = [ItemSpec(it.id, it.id, it.order) for it in items]
        known = {it.id for it in items}
        return specs + [ItemSpec(w.id, w.variables[7], w.order, w.recode.get(7, {}))
                        for w in wave_map if w.id not in known]
    return [ItemSpec(w.id, w.variables[wave], w.order, w.recode.get(wave, {})) for w in wave_map]


# ---------------------------------------------------------------- reading microdata

def _header(path: Path) -> tuple[list[str], str]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as fh:
            first = fh.readline()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    sep = max([",", ";", "\t"], key=first.count)
    if not first.strip() or first.count(sep) == 0:
        raise UserError(f"cannot read {path}: its first line is not a CSV header (expected , ; or tab separators)")
    return [h.strip().strip('"').strip("'") for h in first.rstrip("\r\n").split(sep)], sep


def _match(available: list[str], wanted: list[str], path: Path) -> dict[str, str]:
    """Requested name -> name in the file, ignoring case; a one-line error names what is missing."""
    by_upper = {a.upper(): a for a in available}
    missing = [w for w in wanted if w.upper() not in by_upper]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise UserError(f"{path} has no column {', '.join(missing[:5])}{more}; is this the right wave's file?")
    return {w: by_upper[w.upper()] for w in wanted}


def file_columns(path: Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"input file {path} not found")
    if path.suffix.lower() == ".dta":
        try:
            with pd.read_stata(path, iterator=True) as reader:
                return list(reader.variable_labels())
        except Exception as exc:  # noqa: BLE001 - pandas raises many types for a damaged file
            raise UserError(f"cannot read {path} as a Stata file: {exc}") from None
    return _header(path)[0]


def read_microdata(path: Path, columns: list[str]) -> pd.DataFrame:
    """Only `columns` of a WVS file (CSV with , ; or tab, optionally .gz, or Stata .dta),
    as floats named as requested (NaN for empty or non-numeric cells)."""
    path = Path(path)
    names = _match(file_columns(path), columns, path)
    use = list(dict.fromkeys(names.values()))
    try:
        if path.suffix.lower() == ".dta":
            df = pd.read_stata(path, columns=use, convert_categoricals=False)
        else:
            df = pd.read_csv(path, sep=_header(path)[1], usecols=use, encoding="utf-8-sig",
                             encoding_errors="replace", low_memory=False)
    except Exception as exc:  # noqa: BLE001 - any parser failure is one line naming the file
        raise UserError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    out = {}
    for w, a in names.items():
        col = df[a]
        if not pd.api.types.is_numeric_dtype(col):  # text cells somewhere in the column: look closer
            out[w] = pd.to_numeric(col, errors="coerce")
            text = col.astype(str).str.strip()
            bad = (out[w].isna() & col.notna() & (text != "") & (text.str.upper() != "NA")).mean()
            if len(col) and bad > 0.5:
                raise UserError(f"{path}: column {a} holds text, not numeric codes; "
                                "use the numeric CSV or the .dta release")
        else:
            out[w] = col
    return pd.DataFrame(out, index=df.index).astype(float)


# ---------------------------------------------------------------- counting

def count_codes(country: np.ndarray, values: np.ndarray, weights: np.ndarray | None = None):
    """Count every answer code per (country, item) in one `np.bincount`.

    country [n], values [n, I] (integer codes, NaN for empty), weights [n] ->
    (country codes [C], answer codes [V] as strings, counts [C, I, V], weighted [C, I, V]).
    Empty cells get the code "NA".

    >>> c, v, n, w = count_codes(np.array([4, 4, 8]), np.array([[1.], [2.], [np.nan]]))
    >>> c.tolist(), v, n[:, 0].tolist()
    ([4, 8], ['1', '2', 'NA'], [[1, 1, 0], [0, 0, 1]])
    """
    values = np.asarray(values, dtype=float)
    n, n_items = values.shape
    nan = np.isnan(values)
    finite = values[~nan]
    if finite.size and not np.all(finite == np.round(finite)):
        raise UserError("answer codes must be whole numbers; found fractional values")
    lo = int(finite.min()) if finite.size else 0
    hi = int(finite.max()) if finite.size else 0
    idx = np.where(nan, hi - lo + 1, values - lo).astype(np.int64)  # NaN -> one slot past the top
    present = np.bincount(idx.ravel(), minlength=hi - lo + 2) > 0
    v_slots = np.flatnonzero(present)
    lookup = np.cumsum(present) - 1  # slot -> position among the codes present (a gather, not a search)
    v_idx = lookup[idx]
    v_names = [str(s + lo) if s <= hi - lo else "NA" for s in v_slots]
    c_codes, c_idx = np.unique(np.asarray(country), return_inverse=True)
    n_c, n_v = len(c_codes), len(v_slots)
    flat = ((c_idx[:, None] * n_items + np.arange(n_items)) * n_v + v_idx).ravel()
    size = n_c * n_items * n_v
    counts = np.bincount(flat, minlength=size).reshape(n_c, n_items, n_v)
    if weights is None:
        weighted = counts.astype(float)
    else:
        w = np.repeat(np.asarray(weights, dtype=float), n_items)
        weighted = np.bincount(flat, weights=w, minlength=size).reshape(n_c, n_items, n_v)
    return c_codes, v_names, counts, weighted


def _apply_recodes(values: np.ndarray, specs: list[ItemSpec]) -> np.ndarray:
    for j, spec in enumerate(specs):
        if spec.recode:
            col = values[:, j].copy()
            for src, dst in spec.recode.items():
                col[values[:, j] == float(src)] = float(dst)
            values[:, j] = col
    return values


def prepare_long_table(df: pd.DataFrame, wave: int, specs: list[ItemSpec], country_col: str,
                       weight_col: str | None, names: dict[int, str] | None = None) -> pd.DataFrame:
    """Microdata with the named columns -> the long table (see the module docstring)."""
    names = country_names() if names is None else names
    keep = df[country_col].notna()
    if not keep.all():
        log.warning("%d respondents without a country code left out", int((~keep).sum()))
        df = df[keep]
    weights = None
    if weight_col is not None:
        weights = df[weight_col].to_numpy(dtype=float)
        if np.isnan(weights).any():
            log.warning("%d respondents without a weight get weight 0", int(np.isnan(weights).sum()))
            weights = np.nan_to_num(weights)
    values = _apply_recodes(df[[s.variable for s in specs]].to_numpy(dtype=float, copy=True), specs)
    c_codes, v_names, counts, weighted = count_codes(df[country_col].to_numpy(dtype=np.int64), values, weights)
    ci, ii, vi = np.nonzero(counts)
    options = np.array(v_names, dtype=object)[vi]
    # rank[j, v]: position of answer code v in item j's semantic order, -1 if not an option
    rank = np.array([[s.order.index(v) if v in s.order else -1 for v in v_names] for s in specs]).reshape(
        len(specs), len(v_names))
    status_rank = rank[ii, vi]
    numeric = np.array([float(o) if o != "NA" else -1.0 for o in v_names])[vi]
    status = np.where(status_rank >= 0, "valid", np.where(numeric < 0, "missing", "other"))
    table = pd.DataFrame({
        "wave": wave,
        "country_code": c_codes[ci].astype(int),
        "country": [names.get(int(c), f"country {int(c)}") for c in c_codes[ci]],
        "item_id": np.array([s.id for s in specs], dtype=object)[ii],
        "variable": np.array([s.variable for s in specs], dtype=object)[ii],
        "option": options,
        "status": status,
        "count": counts[ci, ii, vi],
        "weighted_count": np.round(weighted[ci, ii, vi], 6),
        "_item": ii,
        "_rank": np.where(status_rank >= 0, status_rank, 1000 + numeric),
    })
    table = table.sort_values(["country_code", "_item", "_rank"], kind="stable")
    return table.drop(columns=["_item", "_rank"]).reset_index(drop=True)


def meta_path(table_path: Path) -> Path:
    return Path(table_path).with_suffix(".meta.json")


def write_long_table(table: pd.DataFrame, path: Path, meta: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    meta_path(path).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- loading for analysis

@dataclass(frozen=True, eq=False)
class HumanData:
    """Answer counts per country and item, options in semantic order (zero-padded)."""

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

    @property
    def n_options(self) -> np.ndarray:
        return np.array([len(o) for o in self.orders])

    def shares(self) -> np.ndarray:
        """[C, I, K] distributions; NaN rows where a country has no valid answer to an item."""
        total = self.counts.sum(-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, self.counts / np.where(total > 0, total, 1), np.nan)

    def pooled(self) -> np.ndarray:
        """[I, K] answers of all countries added together (the world population)."""
        return self.counts.sum(0)

    def select(self, country_codes) -> HumanData:
        pos = {int(c): i for i, c in enumerate(self.country_codes)}
        idx = [pos[int(c)] for c in country_codes if int(c) in pos]
        return HumanData(self.country_codes[idx], tuple(self.country_names[i] for i in idx), self.item_ids,
                         self.orders, self.counts[idx], self.n_invalid[idx], self.weights, self.wave,
                         self.synthetic, self.source)


def read_long_table(path: Path) -> tuple[pd.DataFrame, dict]:
    """A long table and its metadata (`<name>.meta.json` beside it, if any)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"human data {path} not found; run dataset/prepare_wvs.py first "
                        "(or dataset/make_synthetic_wvs.py to try the pipeline without WVS data)")
    try:
        table = pd.read_csv(path, dtype={"option": str, "item_id": str, "country": str, "variable": str})
    except Exception as exc:  # noqa: BLE001 - any parser failure is one line naming the file
        raise UserError(f"cannot read human data {path}: {str(exc).splitlines()[0]}") from None
    missing = [c for c in ("country_code", "item_id", "option") if c not in table.columns]
    if missing or not {"count", "weighted_count"} & set(table.columns):
        raise UserError(f"{path} lacks column(s) {', '.join(missing or ['count'])}; a human table needs "
                        "country_code, item_id, option and count (or weighted_count)")
    mp = meta_path(path)
    meta = json.loads(mp.read_text(encoding="utf-8")) if mp.is_file() else {}
    return table, meta


def load_human(path: Path, item_ids: list[str], orders: list[tuple[str, ...]], weights: str = "none",
               wave: int | None = None) -> HumanData:
    """Long table -> `HumanData` for the given items (in their semantic order), in one pass.

    weights: "none" counts respondents (the paper); "survey" uses the WVS weights.
    """
    table, meta = read_long_table(path)
    column = {"none": "count", "survey": "weighted_count"}.get(weights)
    if column is None:
        raise UserError(f"--weights must be none or survey, not {weights!r}")
    if column not in table.columns:
        raise UserError(f"{path} has no {column} column; use --weights {'survey' if weights == 'none' else 'none'}")
    if wave is not None and "wave" in table.columns:
        table = table[table["wave"] == wave]
    table = table[table[column].notna()]
    codes = pd.Index(sorted(table["country_code"].astype(int).unique()))
    c_idx = codes.get_indexer(table["country_code"].astype(int))
    i_idx = pd.Index(item_ids).get_indexer(table["item_id"].astype(str))
    keys = pd.Index([f"{i}\x1f{o}" for i, order in zip(item_ids, orders) for o in order])
    k_pos = np.array([k for order in orders for k in range(len(order))])
    hit = keys.get_indexer(table["item_id"].astype(str) + "\x1f" + _clean_codes(table["option"]))
    value = table[column].to_numpy(dtype=float)
    n_k = max(len(o) for o in orders)
    counts = np.zeros((len(codes), len(item_ids), n_k))
    invalid = np.zeros((len(codes), len(item_ids)))
    ok, other = (i_idx >= 0) & (hit >= 0), (i_idx >= 0) & (hit < 0)
    np.add.at(counts, (c_idx[ok], i_idx[ok], k_pos[hit[ok]]), value[ok])
    np.add.at(invalid, (c_idx[other], i_idx[other]), value[other])
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
                     bool(meta.get("synthetic", False)), str(path))


def _clean_codes(options: pd.Series) -> pd.Series:
    """'1.0' -> '1', ' 2' -> '2': aggregated tables written by other tools may carry floats."""
    s = options.astype(str).str.strip()
    num = pd.to_numeric(s, errors="coerce")
    whole = num.notna() & (num == num.round())
    return s.where(~whole, num.round().astype("Int64").astype(str))


def keep_mask(item_ids: tuple[str, ...], orders: tuple[tuple[str, ...], ...], n_k: int) -> np.ndarray:
    """[I, K] True for substantive options (everything but `NON_SUBSTANTIVE`); padding is False."""
    mask = np.zeros((len(item_ids), n_k), dtype=bool)
    for i, (item, order) in enumerate(zip(item_ids, orders)):
        drop = NON_SUBSTANTIVE.get(item, ())
        mask[i, :len(order)] = [o not in drop for o in order]
    return mask
