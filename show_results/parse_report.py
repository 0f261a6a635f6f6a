"""Re-parse every response under a results root into one tidy long CSV, and print parse rates.

    python show_results/parse_report.py --results-root results --out figures/parse_report.csv

What it writes, and how: utils/analysis/parse_report.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
from utils.analysis.cli import script  # noqa: E402

build_parser, main = script("parse_report", __doc__)
if __name__ == "__main__":
    sys.exit(main())
