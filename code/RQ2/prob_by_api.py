"""RQ2 (steering toward a country) with a model behind an OpenAI-compatible API. See README.md for flags."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
from utils.probing.cli import api_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(api_main(script="RQ2"))
