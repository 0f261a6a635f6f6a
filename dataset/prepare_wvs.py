"""Turn a downloaded WVS wave file into the long table of answer counts the analysis reads.

    python dataset/prepare_wvs.py --wave 7 --input WVS_Cross-National_Wave_7_csv_v6_0.csv
    python dataset/prepare_wvs.py --wave 6 --input WV6_Data_csv_v20201117.csv
    python dataset/prepare_wvs.py --wave 5 --input WV5_Data_stata_v20180912.dta
    python dataset/prepare_wvs.py --wave 7 --input WVS7.csv --groups sex,age,education,settlement,income

Reads only the country, weight and item columns (CSV with , ; or tab separators, or Stata .dta)
and writes dataset/human/WV<wave>.csv (one row per country, item and answer code, with counts and
survey-weighted counts) plus WV<wave>.meta.json. See utils/core/human/microdata.py for the format.
With --groups the table also holds each country's distributions per respondent group (defined in
inputs/groups/groups.json), in rows whose group_var/group columns name the group.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
from utils.core.human.prepare import WaveFile, prepare  # noqa: E402
from utils.core.human.wave_map import WAVE_COLUMNS  # noqa: E402
from utils.core.errors import UserError  # noqa: E402
from utils.core.flag_parser import FlagParser  # noqa: E402
from utils.core.logs import log_to_stderr  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = FlagParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wave", type=int, required=True, choices=sorted(WAVE_COLUMNS), help="WVS wave of the input file")
    ap.add_argument("--input", type=Path, required=True, help="the wave's microdata file (.csv, .csv.gz or .dta)")
    ap.add_argument("--output", type=Path, default=None,
                    help="long table to write (default dataset/human/WV<wave>.csv; synthetic data: "
                         "dataset/human/WV<wave>_synthetic.csv)")
    ap.add_argument("--country-column", default=None,
                    help="country variable (default B_COUNTRY for wave 7, V2 for 5 and 6)")
    ap.add_argument("--weight-column", default=None,
                    help="weight variable (default W_WEIGHT, V258, V259 for waves 7, 6, 5); "
                         "'none' if the file has none")
    ap.add_argument("--groups", default=None,
                    help="comma-separated group variables to add per country, e.g. sex,age,education,settlement,income "
                         "(defined in inputs/groups/groups.json)")
    ap.add_argument("--min-group-n", type=int, default=100,
                    help="drop a country's group with fewer respondents than this (default 100)")
    ap.add_argument("--group-column", action="append", type=str, default=[], metavar="VAR=COLUMN",
                    help="read group variable VAR from COLUMN instead of its column in groups.json (repeatable), "
                         "e.g. for a wave whose column groups.json does not map")
    ap.add_argument("--synthetic", action="store_true",
                    help="mark the table as synthetic (automatic when the file has a SYNTHETIC_DATA column)")
    args = ap.parse_args(argv)
    log_to_stderr()
    try:
        out, said = prepare(WaveFile(**vars(args) | {"group_column": tuple(args.group_column)}))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join([*said, f"wrote {out}"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
