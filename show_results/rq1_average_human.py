"""RQ1, each model against the average human: over-, appropriately and under-aligned countries.

    python show_results/rq1_average_human.py --human dataset/human/WV7.csv --results-root results --tau 0.02

What it writes, and how: utils/analysis/rq1/average_human.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
from utils.analysis.cli import script  # noqa: E402

build_parser, main = script("rq1_average_human", __doc__)
if __name__ == "__main__":
    sys.exit(main())
