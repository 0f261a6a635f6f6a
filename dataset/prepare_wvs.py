"""Turn a downloaded WVS wave file into the long table of answer counts the analysis reads.

    python dataset/prepare_wvs.py --wave 7 --input WVS_Cross-National_Wave_7_csv_v6_0.csv
    python dataset/prepare_wvs.py --wave 6 --input WV6_Data_csv_v20201117.csv
    python dataset/prepare_wvs.py --wave 5 --input WV5_Data_stata_v20180912.dta
    python dataset/prepare_wvs.py --wave 7 --input WVS7.csv --groups sex,age,education,settlement,income

Reads only the country, weight and item columns (CSV with , ; or tab separators, or Stata .dta)
and writes dataset/human/WV<wave>.csv (one row per country, item and answer code, with counts and
survey-weighted counts) plus WV<wave>.meta.json. See utils/analysis/human/microdata.py for the format.
With --groups the table also holds each country's distributions per respondent group (defined in
inputs/groups/groups.json), in rows whose group_var/group columns name the group.
"""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
from utils.core.groups import GroupVar, load_group_vars, parse_group_vars  # noqa: E402
from utils.analysis.human.microdata import file_columns, prepare_long_table, read_microdata, write_long_table  # noqa: E402
from utils.analysis.human.wave_map import SYNTHETIC_MARKER, WAVE_COLUMNS, load_wave_map, wave_items  # noqa: E402
from utils.core.errors import UserError  # noqa: E402
from utils.core.flag_parser import FlagParser  # noqa: E402
from utils.core.logs import log_to_stderr  # noqa: E402
from utils.core.paths import HUMAN_DIR  # noqa: E402
from utils.core.questionnaire import load_questionnaire, questionnaire_path  # noqa: E402



def main(argv: list[str] | None = None) -> int:
    ap = FlagParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wave", type=int, required=True, choices=sorted(WAVE_COLUMNS), help="WVS wave of the input file")
    ap.add_argument("--input", type=Path, required=True, help="the wave's microdata file (.csv, .csv.gz or .dta)")
    ap.add_argument("--output", type=Path, default=None,
                    help="long table to write (default dataset/human/WV<wave>.csv; synthetic data: "
                         "dataset/human/WV<wave>_synthetic.csv)")
    ap.add_argument("--country-column", default=None, help="country variable (default B_COUNTRY for wave 7, V2 for 5 and 6)")
    ap.add_argument("--weight-column", default=None,
                    help="weight variable (default W_WEIGHT, V258, V259 for waves 7, 6, 5); 'none' if the file has none")
    ap.add_argument("--groups", default=None,
                    help="comma-separated group variables to add per country, e.g. sex,age,education,settlement,income "
                         "(defined in inputs/groups/groups.json)")
    ap.add_argument("--min-group-n", type=int, default=100,
                    help="drop a country's group with fewer respondents than this (default 100)")
    ap.add_argument("--group-column", action="append", default=[], metavar="VAR=COLUMN",
                    help="read group variable VAR from COLUMN instead of its column in groups.json (repeatable), "
                         "e.g. for a wave whose column groups.json does not map")
    ap.add_argument("--synthetic", action="store_true",
                    help="mark the table as synthetic (automatic when the file has a SYNTHETIC_DATA column)")
    args = ap.parse_args(argv)
    log_to_stderr()
    try:
        out = prepare(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


def prepare(args) -> Path:
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
    groups = group_columns(args, available)
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
    print(f"wave {args.wave}: {meta['countries']} countries, {meta['respondents']} respondents, {len(specs)} items, "
          f"{meta['valid_share']:.1%} valid answers{' (synthetic data)' if synthetic else ''}")
    return output


def wrong_file(args, available: set[str], country_col: str, specs) -> str | None:
    """What the file is when it lacks this wave's country or item columns (a prepared long table,
    another wave's file), with the flag that then works; None when the columns are there."""
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


def group_columns(args, available: set[str]) -> list[tuple[GroupVar, str]]:
    """--groups -> (group variable, its column in the file). A variable this wave lacks is left
    out with one line saying why; a column missing from the file is an error naming what exists."""
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
            print(f"group variable {var.name} is unavailable in wave {args.wave}: {why}; left out "
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
    """Per group variable: its column, its groups and in how many countries each was kept, for
    the table's metadata (a reader sees at once which groups the thresholds removed)."""
    out = {}
    for var, column in groups:
        rows = table[table["group_var"] == var.name]
        kept = rows.drop_duplicates(["country_code", "group"])["group"].value_counts()
        out[var.name] = {"column": column, "groups": list(var.labels),
                         "countries_per_group": {g: int(kept.get(g, 0)) for g in var.labels}}
    return out


if __name__ == "__main__":
    sys.exit(main())
