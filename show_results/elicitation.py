"""Elicitation methods compared: per-item agreement, alignment and entropy by probe method.

    python show_results/elicitation.py --human dataset/human/WV7.csv \
        --compare results_logprob results_verbalized results_sample

What it writes, and how: utils/analysis/elicitation.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
from utils.analysis.cli import script  # noqa: E402

build_parser, main = script("elicitation", __doc__)
if __name__ == "__main__":
    sys.exit(main())
