"""WVS microdata (one row per respondent) -> a long table, one row per (country, item, answer code)
with the unweighted and the survey-weighted count::

    wave,country_code,country,group_var,group,item_id,variable,option,status,count,weighted_count
    7,156,China,all,all,Q1,Q1,1,valid,2812,2790.5
    7,156,China,all,all,Q1,Q1,-1,missing,3,2.9

`status`: `valid` (the item's options; only these enter distributions), `missing` (negative WVS
codes, empty cells) or `other` (a code the item does not offer). `group_var`/`group` are `all` for
the whole country, else a group's rows, counted over its respondents only. Waves 5 and 6 are
stored under the Wave 7 item id (`item_id` Q1, `variable` V4), so every wave scores against the
same model answers.
"""
from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from utils.core.groups import ALL, GroupVar
from utils.core.human.wave_map import ItemSpec, country_names
from utils.core.errors import UserError
from utils.core.paths import not_found

log = logging.getLogger(__name__)


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


def _match(available: list[str], wanted: list[str], path: Path, hint: str) -> dict[str, str]:
    """Requested name -> name in the file, ignoring case."""
    by_upper = {str(a).strip().upper(): a for a in available}
    missing = [w for w in wanted if w.upper() not in by_upper]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise UserError(f"{path} has no column {', '.join(missing[:5])}{more}; {hint}")
    return {w: by_upper[w.upper()] for w in wanted}


def file_columns(path: Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise UserError(not_found(path, "input file"))
    if path.suffix.lower() == ".sav":
        return list(_spss(path).read_sav(str(path), metadataonly=True)[1].column_names)
    if path.suffix.lower() == ".dta":
        try:
            with pd.read_stata(path, iterator=True) as reader:
                return list(reader.variable_labels())
        except Exception as exc:  # noqa: BLE001 - pandas raises many types for a damaged file
            raise UserError(f"cannot read {path} as a Stata file: {exc}") from None
    return _header(path)[0]


def _spss(path: Path):
    try:
        import pyreadstat  # optional: only SPSS files need it
    except ModuleNotFoundError:
        raise UserError(f"reading {path} (SPSS) needs the pyreadstat package: pip install pyreadstat, "
                        "or save the file as .csv or .dta") from None
    return pyreadstat


def read_columns(path: Path, columns: list[str], hint: str) -> pd.DataFrame:
    """`columns` of a microdata file (CSV, Stata or SPSS) as they are found, text kept, named as asked;
    a column the file lacks (in any case) is a UserError ending in `hint`."""
    path = Path(path)
    names = _match(file_columns(path), list(dict.fromkeys(columns)), path, hint)
    df = _read_columns(path, list(dict.fromkeys(names.values())), None)
    return pd.DataFrame({w: df[a] for w, a in names.items()}, index=df.index)


EXACT_INT = 2**24  # float32 holds every whole number up to here exactly


def read_microdata(path: Path, columns: list[str], exact: tuple[str, ...] = ()) -> pd.DataFrame:
    """Only `columns` of a WVS file (CSV with , ; or tab, optionally .gz, or Stata .dta), NaN for
    empty or non-numeric cells. Codes are read as float32 (half the memory, exact below 2**24; larger
    codes are read again as float64); the `exact` columns (the survey weight) as float64."""
    path = Path(path)
    names = _match(file_columns(path), columns, path, "is this the right wave's file?")
    use = list(dict.fromkeys(names.values()))
    wide = {names[c] for c in exact if c in names}
    dtypes = {a: np.float64 if a in wide else np.float32 for a in use}
    df = _read_columns(path, use, dtypes)
    out = {}
    for w, a in names.items():
        col = _coerce(df[a], a, path)
        if dtypes[a] == np.float32 and np.nanmax(np.abs(col.to_numpy(dtype=np.float64)), initial=0.0) >= EXACT_INT:
            dtypes[a] = np.float64
            if col.dtype == np.float32:  # rounded while parsing: parse this column again
                col = _coerce(_read_columns(path, [a], {a: np.float64})[a], a, path)
        out[w] = col.astype(dtypes[a])
    return pd.DataFrame(out, index=df.index)


def _read_columns(path: Path, use: list[str], dtypes: dict[str, type] | None) -> pd.DataFrame:
    """`dtypes` None: every column as found."""
    try:
        if path.suffix.lower() == ".sav":
            return _spss(path).read_sav(str(path), usecols=use)[0]
        if path.suffix.lower() == ".dta":
            return pd.read_stata(path, columns=use, convert_categoricals=False)
        csv = dict(sep=_header(path)[1], usecols=use, encoding="utf-8-sig", encoding_errors="replace")
        if dtypes is not None:
            try:
                return pd.read_csv(path, dtype=dtypes, **csv)
            except ValueError:  # a text cell somewhere: read as found, `_coerce` looks closer
                pass
        return pd.read_csv(path, low_memory=False, **csv)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure is one line naming the file
        raise UserError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None


def _coerce(col: pd.Series, name: str, path: Path) -> pd.Series:
    """Text cells become NaN; a column mostly of text (a labelled export) is a `UserError`."""
    if pd.api.types.is_numeric_dtype(col):
        return col
    num = pd.to_numeric(col, errors="coerce")
    text = col.astype(str).str.strip()
    is_text = num.isna() & col.notna() & (text != "") & (text.str.upper() != "NA")
    if len(col) and is_text.mean() > 0.5:
        raise UserError(f"{path}: column {name} holds text, not numeric codes; use the numeric CSV or the .dta release")
    if is_text.any():
        examples = ", ".join(repr(v) for v in text[is_text].unique()[:3])
        log.warning("%s: column %s: %d cell(s) of text (%s) read as missing", path, name, int(is_text.sum()), examples)
    return num


# ---------------------------------------------------------------- counting

MAX_DENSE_CELLS = 2**24  # counts array size up to which codes are counted without compacting them first


def count_codes(country: np.ndarray, values: np.ndarray, weights: np.ndarray | None = None):
    """Count every answer code per (country, item) in one `np.bincount`.

    country [n], values [n, I] (whole-number codes; NaN, empty, gets the code "NA"), weights [n]
    -> (country codes [C], answer codes [V] as strings, counts [C, I, V], weighted [C, I, V]).
    Codes spread far apart are numbered with `np.unique` first, to keep the bins few.

    >>> c, v, n, w = count_codes(np.array([4, 4, 8]), np.array([[1.], [2.], [np.nan]]))
    >>> c.tolist(), v, n[:, 0].tolist()
    ([4, 8], ['1', '2', 'NA'], [[1, 1, 0], [0, 0, 1]])
    """
    values = np.asarray(values)
    if values.dtype.kind not in "iuf":
        values = values.astype(np.float64)
    n, n_items = values.shape
    c_codes, c_idx = np.unique(np.asarray(country), return_inverse=True)
    nan = np.isnan(values)  # never for integer codes
    n_nan = int(np.count_nonzero(nan))
    with np.errstate(invalid="ignore"):
        if n_nan == values.size:  # no codes at all (or no cells)
            lo = hi = 0
        else:
            lo, hi = np.fmin.reduce(values, axis=None), np.fmax.reduce(values, axis=None)  # NaN-ignoring
        codes = values.astype(np.int64)
        if np.count_nonzero(codes != values) > n_nan:  # NaN never equals its cast; anything else is a fraction
            raise UserError("answer codes must be whole numbers; found fractional values")
    lo, hi = int(lo), int(hi)
    if n_nan:
        codes[nan] = hi + 1  # one slot past the top
    n_slots = hi - lo + 2
    n_c = len(c_codes)
    if n_c * n_items * n_slots <= MAX_DENSE_CELLS:
        slot_values = np.arange(lo, hi + 2)
        codes -= lo
    else:
        slot_values, inverse = np.unique(codes, return_inverse=True)
        codes = inverse.reshape(n, n_items)
        n_slots = len(slot_values)
    codes += np.arange(n_items) * n_slots
    codes += (c_idx * (n_items * n_slots))[:, None]
    # A data frame's values come column by column (Fortran order): count them in that order
    # rather than copying them into rows first; the weights then repeat per item, not per row.
    by_item = codes.flags.f_contiguous and not codes.flags.c_contiguous
    flat = codes.T.ravel() if by_item else codes.ravel()
    size = n_c * n_items * n_slots
    counts = np.bincount(flat, minlength=size).reshape(n_c, n_items, n_slots)
    if weights is None:
        weighted = None
    else:
        w = np.asarray(weights, dtype=np.float64)
        w = np.tile(w, n_items) if by_item else np.repeat(w, n_items)
        weighted = np.bincount(flat, weights=w, minlength=size).reshape(n_c, n_items, n_slots)
    present = np.flatnonzero(counts.any(axis=(0, 1)))
    counts = counts[:, :, present]
    weighted = counts.astype(np.float64) if weighted is None else weighted[:, :, present]
    v_names = ["NA" if n_nan and v == hi + 1 else str(int(v)) for v in slot_values[present]]
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
                       weight_col: str | None, names: dict[int, str] | None = None,
                       groups: Sequence[tuple[GroupVar, str]] = (), min_group_n: int = 100) -> pd.DataFrame:
    """Microdata -> the long table. `groups`: (group variable, its column in `df`) pairs. A (country,
    group) with fewer than `min_group_n` respondents is dropped with a logged line: a few dozen
    answers are mostly noise. Whole-country rows come first."""
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
    columns = [s.variable for s in specs]
    dtype = np.result_type(*df[columns].dtypes, np.float32) if columns else np.float32
    values = _apply_recodes(df[columns].to_numpy(dtype=dtype, copy=True), specs)
    country = df[country_col].to_numpy(dtype=np.int64)
    parts = [_long_rows(wave, specs, names, *count_codes(country, values, weights), weights is None)]
    for g_order, (var, column) in enumerate(groups, start=1):
        member = var.assign(df[column].to_numpy(dtype=np.float64))
        inside = member >= 0
        n_g = len(var.groups)
        key = country[inside] * n_g + member[inside]  # one "country" per (country, group)
        keys, sizes = np.unique(key, return_counts=True)
        small = keys[sizes < min_group_n]
        for g in range(n_g):  # one line per group, not per country (66 countries x 3 ages)
            where = [(int(k // n_g), int(n)) for k, n in zip(small, sizes[sizes < min_group_n]) if k % n_g == g]
            if where:
                shown = ", ".join(f"{names.get(c, f'country {c}')} ({n})" for c, n in where[:6])
                log.warning("dropped group %s=%s in %d countr%s with fewer than the minimum %d respondents "
                            "(--min-group-n): %s%s", var.name, var.labels[g], len(where),
                            "y" if len(where) == 1 else "ies", min_group_n, shown,
                            f", ... {len(where) - 6} more" if len(where) > 6 else "")
        kept = inside.copy()
        kept[inside] = ~np.isin(key, small)
        if not kept.any():
            continue
        c_keys, v_names, counts, weighted = count_codes(country[kept] * n_g + member[kept], values[kept],
                                                        None if weights is None else weights[kept])
        part = _long_rows(wave, specs, names, c_keys // n_g, v_names, counts, weighted, weights is None)
        g_idx = (c_keys % n_g)[part["_c"].to_numpy()]
        part["group_var"] = var.name
        part["group"] = np.array(var.labels, dtype=object)[g_idx]
        part["_group"] = g_idx
        part["_order"] = g_order
        parts.append(part)
    table = pd.concat(parts, ignore_index=True).drop(columns=["_c"])
    table = table.sort_values(["_order", "country_code", "_group", "_item", "_rank"], kind="stable")
    return table.drop(columns=["_order", "_group", "_item", "_rank"]).reset_index(drop=True)


def _long_rows(wave: int, specs: list[ItemSpec], names: dict[int, str], c_codes: np.ndarray, v_names: list[str],
               counts: np.ndarray, weighted: np.ndarray, unweighted: bool) -> pd.DataFrame:
    """Whole-country rows, with sort keys `_order`, `_group`, `_item`, `_rank` and `_c` (index into `c_codes`)."""
    ci, ii, vi = np.nonzero(counts)
    options = np.array(v_names, dtype=object)[vi]
    # rank[j, v]: position of answer code v in item j's semantic order, -1 if not an option
    rank = np.array([[s.order.index(v) if v in s.order else -1 for v in v_names] for s in specs]).reshape(
        len(specs), len(v_names))
    status_rank = rank[ii, vi]
    numeric = np.array([float(o) if o != "NA" else -1.0 for o in v_names])[vi]
    status = np.where(status_rank >= 0, "valid", np.where(numeric < 0, "missing", "other"))
    return pd.DataFrame({
        "wave": wave,
        "country_code": c_codes[ci].astype(int),
        "country": np.array([names.get(int(c), f"country {int(c)}") for c in c_codes], dtype=object)[ci],
        "group_var": ALL,
        "group": ALL,
        "item_id": np.array([s.id for s in specs], dtype=object)[ii],
        "variable": np.array([s.variable for s in specs], dtype=object)[ii],
        "option": options,
        "status": status,
        "count": counts[ci, ii, vi],
        # without weights the weighted count is the count: written as a whole number, not "12.0"
        "weighted_count": counts[ci, ii, vi] if unweighted else np.round(weighted[ci, ii, vi], 6),
        "_c": ci,
        "_order": 0,
        "_group": 0,
        "_item": ii,
        "_rank": np.where(status_rank >= 0, status_rank, 1000 + numeric),
    })


def meta_path(table_path: Path) -> Path:
    return Path(table_path).with_suffix(".meta.json")


def table_meta(table_path: Path) -> dict:
    """A table's `.meta.json`; {} where there is none or it cannot be read."""
    try:
        meta = json.loads(meta_path(table_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def synthetic_table(table_path: Path) -> bool:
    return bool(table_meta(table_path).get("synthetic"))


def write_long_table(table: pd.DataFrame, path: Path, meta: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    meta_path(path).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


