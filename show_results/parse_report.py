"""Re-parse every response under a results root into one tidy long CSV, and print parse rates.

    python show_results/parse_report.py --results-root results --out figures/parse_report.csv

Works on this toolkit's results and on the original release's (`id, ..., response` only): the
options of each row come from its own `choice_keys`, so items outside our questionnaire parse
too. Output columns: experiment, method, country, model, id, option, probability, status.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.parsing import parse_distribution  # noqa: E402
from utils.core.paths import REPO_ROOT, RESULTS_DIR  # noqa: E402
from utils.core.result_layout import (  # noqa: E402
    find_result_files,
    option_keys,
    read_results,  # noqa: E402
)

COLUMNS = ["experiment", "method", "country", "model", "id", "option", "probability", "status"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results-root", type=Path, default=RESULTS_DIR, help="root in the paper's layout (default: results/)")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "figures" / "parse_report.csv",
                    help="tidy CSV to write (default: figures/parse_report.csv)")
    ap.add_argument("--tolerance", type=float, default=25.0, help="percentage points a sum may be off 100")
    args = ap.parse_args(argv)
    files = find_result_files(args.results_root)
    if not files:
        print(f"error: no results.csv under {args.results_root} in the RQ1/RQ2/Discussion layout; "
              "run code/RQ1/prob_by_llm.py (or prob_by_api.py) first", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    total = parsed_total = 0
    with args.out.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(COLUMNS)
        for f in files:
            ok = n = 0
            try:
                rows = read_results(f.path)
            except (csv.Error, UnicodeDecodeError) as exc:
                print(f"skipping {f.path}: unreadable ({exc})", file=sys.stderr)
                continue
            for row in rows:
                n += 1
                keys = option_keys(row)
                pa = parse_distribution(row.get("response") or "", keys) if keys else None
                meta = [f.experiment, f.method, f.country, f.model, row.get("id", "")]
                if pa is not None and pa.ok:
                    ok += 1
                    out.writerows(meta + [k, repr(p), "ok"] for k, p in pa.distribution.items())
                else:
                    out.writerow(meta + ["", "", pa.status if pa else "no_choice_keys"])
            total, parsed_total = total + n, parsed_total + ok
            rate = ok / n if n else 0.0
            print(f"{f.experiment:12s} {f.method:18s} {f.country:10s} {f.model:45s} {ok:4d}/{n:<4d} {rate:7.2%}")
    print(f"overall: {parsed_total}/{total} parsed ({parsed_total / max(total, 1):.2%}); wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
