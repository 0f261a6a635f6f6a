"""Write a WVS-shaped synthetic wave file, to try the pipeline without the licensed WVS data.

    python dataset/make_synthetic_wvs.py --wave 7        # -> dataset/human/raw/synthetic_WV7.csv
    python dataset/prepare_wvs.py --wave 7 --input dataset/human/raw/synthetic_WV7.csv   # -> dataset/human/WV7_synthetic.csv

The file has the wave's real column names (B_COUNTRY, W_WEIGHT, Q1... or V2, V258/V259, V4...),
negative missing codes and weights, and a SYNTHETIC_DATA column, so the prepared table (named
WV<wave>_synthetic.csv, never the real table's WV<wave>.csv) and every figure, table and console
summary drawn from it say "synthetic data". The answers are made up (see utils/core/human/synthetic_wvs.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
from utils.core.human.prepare import write_synthetic  # noqa: E402
from utils.core.human.wave_map import WAVE_COLUMNS  # noqa: E402
from utils.core.errors import UserError  # noqa: E402
from utils.core.flag_parser import FlagParser  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = FlagParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wave", type=int, default=7, choices=sorted(WAVE_COLUMNS),
                    help="wave whose layout to copy (default 7)")
    ap.add_argument("--out", type=Path, default=None,
                    help="file to write: .csv, .csv.gz or .dta (default dataset/human/raw/synthetic_WV<wave>.csv)")
    ap.add_argument("--respondents", type=int, default=300, help="respondents per country (default 300)")
    ap.add_argument("--countries", default="all",
                    help="comma-separated WVS country codes, or all (the 66 Wave 7 countries; "
                         "waves 5 and 6 keep ~70%%)")
    ap.add_argument("--sep", default=",", choices=[",", ";"], help="CSV separator (default ,)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = ap.parse_args(argv)
    try:
        _, said = write_synthetic(args.wave, args.out, args.respondents, args.countries, args.seed, args.sep)
    except (UserError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(said)
    return 0


if __name__ == "__main__":
    sys.exit(main())
