"""RQ1 by respondent group: which group within a country each model is closest to, across countries.

    python show_results/rq1_groups.py --human dataset/human/WV7.csv --by age,sex --out figures/

What it writes, and how: utils/analysis/rq1/closest_group.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
from utils.analysis.cli import script  # noqa: E402

build_parser, main = script("rq1_groups", __doc__)
if __name__ == "__main__":
    sys.exit(main())
