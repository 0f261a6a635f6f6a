"""A WVS wave file (downloaded or synthetic) -> the long table the analysis reads (format:
microdata.py), with its `.meta.json`.

    job = WaveFile(wave=7, input=Path("WVS7.csv"), groups="sex,age")
    path, lines = prepare(job)      # -> dataset/human/WV7.csv and what to tell the user
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from utils.core.human.microdata import file_columns, prepare_long_table, read_microdata, write_long_table
from utils.core.human.synthetic_wvs import synthetic_microdata
from utils.core.human.wave_map import SYNTHETIC_MARKER, WAVE_COLUMNS, country_names, load_wave_map, wave_items
from utils.core.errors import UserError
from utils.core.groups import GroupVar, load_group_vars, parse_group_vars
from utils.core.paths import HUMAN_DIR, REPO_ROOT
from utils.core.questionnaire import load_questionnaire, questionnaire_path


@dataclass(frozen=True)
class WaveFile:
    """One wave's microdata file and how to read it (the flags of dataset/prepare_wvs.py)."""

    wave: int
    input: Path
    output: Path | None = None  # default dataset/human/WV<wave>.csv (WV<wave>_synthetic.csv for synthetic data)
    country_column: str | None = None
    weight_column: str | None = None  # "none": the file has none
    groups: str | None = None  # e.g. "sex,age"
    min_group_n: int = 100
    group_column: tuple[str, ...] = ()  # "VAR=COLUMN" overrides
    synthetic: bool = False


def write_synthetic(wave: int, out: Path | None = None, respondents: int = 300, countries: str = "all",
                    seed: int = 0, sep: str = ",") -> tuple[Path, str]:
    """A WVS-shaped synthetic wave file -> (where it went, one line on what it holds)."""
    codes = sorted(country_names()) if countries == "all" else [int(c) for c in countries.split(",")]
    specs = wave_items(wave, load_questionnaire(questionnaire_path("English")), load_wave_map())
    df = synthetic_microdata(wave, specs, codes, respondents, seed)
    out = out or REPO_ROOT / "dataset" / "human" / "raw" / f"synthetic_WV{wave}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".dta":
        df.to_stata(out, write_index=False)
    else:
        df.to_csv(out, sep=sep, index=False)
    return out, (f"wrote {out}: wave {wave}, {df.iloc[:, 1].nunique()} countries, {len(df)} respondents, "
                 f"{len(specs)} items (synthetic)")


def prepare(args: WaveFile) -> tuple[Path, list[str]]:
    """-> (the table's path, lines to tell the user: what was read, what was left out)."""
    said: list[str] = []
    country_col = args.country_column or WAVE_COLUMNS[args.wave][0]
    weight_col = args.weight_column or WAVE_COLUMNS[args.wave][1]
    weight_col = None if weight_col.lower() == "none" else weight_col
    specs = wave_items(args.wave, load_questionnaire(questionnaire_path("English")), load_wave_map())
    available = {c.upper() for c in file_columns(args.input)}
    wrong = wrong_file(args, available, country_col, specs)
    if wrong:  # said before the weight, whose suggestion (--weight-column none) would only lead here
        raise UserError(wrong)
    if weight_col and weight_col.upper() not in available:
        raise UserError(f"{args.input} has no weight column {weight_col}; name it with --weight-column, "
                        "or pass --weight-column none to count respondents only")
    synthetic = args.synthetic or SYNTHETIC_MARKER in available
    groups = group_columns(args, available, said)
    columns = [country_col] + ([weight_col] if weight_col else []) + [s.variable for s in specs] + \
        [c for _, c in groups if c not in {s.variable for s in specs}]
    df = read_microdata(args.input, list(dict.fromkeys(columns)), exact=(weight_col,) if weight_col else ())
    table = prepare_long_table(df, args.wave, specs, country_col, weight_col, groups=groups,
                               min_group_n=args.min_group_n)
    # synthetic data never take the real table's default name, where they could pass as real
    output = args.output or HUMAN_DIR / f"WV{args.wave}{'_synthetic' if synthetic else ''}.csv"
    whole = table[table["group_var"] == "all"]
    per_country = whole.groupby(["country_code", "item_id"])["count"].sum().groupby("country_code").max()
    valid = whole.loc[whole["status"] == "valid", "count"].sum()
    meta = {
        "wave": args.wave, "source": Path(args.input).name, "synthetic": synthetic,
        "country_column": country_col, "weight_column": weight_col, "items": len(specs),
        "countries": int(per_country.size), "respondents": int(per_country.sum()),
        "valid_share": round(float(valid / max(whole["count"].sum(), 1)), 4),
        "groups": group_summary(table, groups),
        "min_group_n": args.min_group_n if groups else None,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "made_by": "dataset/prepare_wvs.py",
    }
    write_long_table(table, output, meta)
    said.append(f"wave {args.wave}: {meta['countries']} countries, {meta['respondents']} respondents, {len(specs)} "
                f"items, {meta['valid_share']:.1%} valid answers{' (synthetic data)' if synthetic else ''}")
    return output, said


def wrong_file(args: WaveFile, available: set[str], country_col: str, specs) -> str | None:
    """What the file is instead (a prepared long table, another wave's file) and the flag that works;
    None when it has this wave's columns."""
    lacking = [s.variable for s in specs if s.variable.upper() not in available]
    if not lacking and country_col.upper() in available:
        return None
    if {"COUNTRY_CODE", "ITEM_ID", "OPTION"} <= available:
        return (f"{args.input} is a prepared long table already (one row per country, item and answer), not WVS "
                f"microdata; pass it to the analyses as --human {args.input}")
    questionnaire, wave_map = load_questionnaire(questionnaire_path("English")), load_wave_map()
    for wave in sorted(set(WAVE_COLUMNS) - {args.wave}):
        theirs = [s.variable for s in wave_items(wave, questionnaire, wave_map)]
        present = sum(v.upper() in available for v in theirs)
        if WAVE_COLUMNS[wave][0] in available and present >= 0.9 * len(theirs):
            return (f"{args.input} is a wave {wave} file ({WAVE_COLUMNS[wave][0]} and {present} of the {len(theirs)} "
                    f"wave {wave} item columns are there), not wave {args.wave}; pass --wave {wave}")
    if not lacking:
        return f"{args.input} has no country column {country_col}; name it with --country-column"
    more = f" and {len(lacking) - 5} more" if len(lacking) > 5 else ""
    return (f"{args.input} has no column {', '.join(lacking[:5])}{more} of the {len(specs)} item columns of wave "
            f"{args.wave}; is it that wave's WVS microdata file (from worldvaluessurvey.org)?")


def group_columns(args: WaveFile, available: set[str], said: list[str]) -> list[tuple[GroupVar, str]]:
    """--groups -> (group variable, its column). One this wave lacks is left out with a line in `said`;
    a column missing from the file is a `UserError` naming what exists."""
    if not args.groups:
        return []
    if args.min_group_n < 1:
        raise UserError(f"--min-group-n must be at least 1, not {args.min_group_n}")
    known = load_group_vars()
    wanted = parse_group_vars(args.groups, known)
    override = {}
    for text in args.group_column:
        var, sep, column = text.partition("=")
        if not sep or not column.strip():
            raise UserError(f"--group-column takes VAR=COLUMN, e.g. sex=V235, not {text!r}")
        override[parse_group_vars(var, known)[0].name] = column.strip()
    out = []
    for var in wanted:
        column = override.get(var.name) or var.column(args.wave)
        if column is None:
            why = var.unavailable.get(args.wave, "groups.json maps no column for this wave")
            said.append(f"group variable {var.name} is unavailable in wave {args.wave}: {why}; left out "
                        f"(name its column with --group-column {var.name}=COLUMN)")
            continue
        if column.upper() not in available:
            present = [v.name for v in known.values() if (v.column(args.wave) or "").upper() in available]
            hint = "" if var.name in override else f"; or name its column with --group-column {var.name}=COLUMN"
            raise UserError(f"{args.input} has no column {column} for group variable {var.name} (wave {args.wave}); "
                            f"group variables this file has columns for: {', '.join(present) or 'none'}{hint}")
        out.append((var, column))
    return out


def group_summary(table, groups: list[tuple[GroupVar, str]]) -> dict:
    """Per group variable: its column, groups and in how many countries each was kept, so the
    metadata shows which groups `min_group_n` removed."""
    out = {}
    for var, column in groups:
        rows = table[table["group_var"] == var.name]
        kept = rows.drop_duplicates(["country_code", "group"])["group"].value_counts()
        out[var.name] = {"column": column, "groups": list(var.labels),
                         "countries_per_group": {g: int(kept.get(g, 0)) for g in var.labels}}
    return out

