"""Country-by-country alignment, with the models as extra rows and columns.

    python show_results/human_alignment_matrix.py --human dataset/human/WV7.csv --results-root results

What it writes, and how: utils/analysis/rq1/matrix.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
from utils.analysis.cli import script  # noqa: E402

build_parser, main = script("human_alignment_matrix", __doc__)
if __name__ == "__main__":
    sys.exit(main())
