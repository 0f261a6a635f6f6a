"""RQ1, model level: the spread of each model's per-country scores, and its score against the
pooled world population, read against the uniform baseline and the split-half human ceiling.

    python show_results/rq1_model_level.py --human dataset/human/WV7.csv --results-root results

What it writes, and how: utils/analysis/rq1/model_level.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
from utils.analysis.cli import script  # noqa: E402

build_parser, main = script("rq1_model_level", __doc__)
if __name__ == "__main__":
    sys.exit(main())
