"""An imported survey: each model's score per population and group, with the uniform answer and the ceiling.

    python show_results/survey_scores.py --survey surveys/opinionqa.questions.jsonl --out figures/

What it writes, and how: utils/analysis/survey/survey_scores.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
from utils.analysis.cli import script  # noqa: E402

build_parser, main = script("survey_scores", __doc__)
if __name__ == "__main__":
    sys.exit(main())
