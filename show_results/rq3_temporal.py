"""RQ3, time: each model's RQ1 answers scored against WVS Waves 5, 6 and 7.

    python show_results/rq3_temporal.py --human dataset/human/WV5.csv dataset/human/WV6.csv \
        dataset/human/WV7.csv --results-root results

What it writes, and how: utils/analysis/rq3.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
from utils.analysis.cli import script  # noqa: E402

build_parser, main = script("rq3_temporal", __doc__)
if __name__ == "__main__":
    sys.exit(main())
