"""RQ2, steering: for each model and country, the score with no steering and with each method.

    python show_results/rq2_steering.py --human dataset/human/WV7.csv --results-root results

What it writes, and how: utils/analysis/rq2.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
from utils.analysis.cli import script  # noqa: E402

build_parser, main = script("rq2_steering", __doc__)
if __name__ == "__main__":
    sys.exit(main())
