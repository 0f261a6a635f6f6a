"""Turn a downloaded WVS wave file into the long table of answer counts the analysis reads.

    python dataset/prepare_wvs.py --wave 7 --input WVS_Cross-National_Wave_7_csv_v6_0.csv
    python dataset/prepare_wvs.py --wave 6 --input WV6_Data_csv_v20201117.csv
    python dataset/prepare_wvs.py --wave 5 --input WV5_Data_stata_v20180912.dta

Reads only the country, weight and item columns (CSV with , ; or tab separators, or Stata .dta)
and writes dataset/human/WV<wave>.csv (one row per country, item and answer code, with counts and
survey-weighted counts) plus WV<wave>.meta.json. See utils/analysis/microdata.py for the format.
"""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.analysis.microdata import file_columns, prepare_long_table, read_microdata, write_long_table  # noqa: E402
from utils.analysis.wave_map import SYNTHETIC_MARKER, WAVE_COLUMNS, load_wave_map, wave_items  # noqa: E402
from utils.core.errors import UserError  # noqa: E402
from utils.core.flag_parser import FlagParser  # noqa: E402
from utils.core.logs import log_to_stderr  # noqa: E402
from utils.core.paths import REPO_ROOT  # noqa: E402
from utils.core.questionnaire import load_questionnaire, questionnaire_path  # noqa: E402

HUMAN_DIR = REPO_ROOT / "dataset" / "human"


def main(argv: list[str] | None = None) -> int:
    ap = FlagParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wave", type=int, required=True, choices=sorted(WAVE_COLUMNS), help="WVS wave of the input file")
    ap.add_argument("--input", type=Path, required=True, help="the wave's microdata file (.csv, .csv.gz or .dta)")
    ap.add_argument("--output", type=Path, default=None, help="long table to write (default dataset/human/WV<wave>.csv)")
    ap.add_argument("--country-column", default=None, help="country variable (default B_COUNTRY for wave 7, V2 for 5 and 6)")
    ap.add_argument("--weight-column", default=None,
                    help="weight variable (default W_WEIGHT, V258, V259 for waves 7, 6, 5); 'none' if the file has none")
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
    if weight_col and weight_col.upper() not in available:
        raise UserError(f"{args.input} has no weight column {weight_col}; name it with --weight-column, "
                        "or pass --weight-column none to count respondents only")
    synthetic = args.synthetic or SYNTHETIC_MARKER in available
    columns = [country_col] + ([weight_col] if weight_col else []) + [s.variable for s in specs]
    df = read_microdata(args.input, columns, exact=(weight_col,) if weight_col else ())
    table = prepare_long_table(df, args.wave, specs, country_col, weight_col)
    output = args.output or HUMAN_DIR / f"WV{args.wave}.csv"
    per_country = table.groupby(["country_code", "item_id"])["count"].sum().groupby("country_code").max()
    valid = table.loc[table["status"] == "valid", "count"].sum()
    meta = {
        "wave": args.wave, "source": Path(args.input).name, "synthetic": synthetic,
        "country_column": country_col, "weight_column": weight_col, "items": len(specs),
        "countries": int(per_country.size), "respondents": int(per_country.sum()),
        "valid_share": round(float(valid / max(table["count"].sum(), 1)), 4),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "made_by": "dataset/prepare_wvs.py",
    }
    write_long_table(table, output, meta)
    print(f"wave {args.wave}: {meta['countries']} countries, {meta['respondents']} respondents, {len(specs)} items, "
          f"{meta['valid_share']:.1%} valid answers{' (synthetic data)' if synthetic else ''}")
    return output


if __name__ == "__main__":
    sys.exit(main())
