"""Where the reliability tests put the figures README reports (set RELIABILITY_FIGURES=FILE)."""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path


def write_figures(section: str, figures: Counter) -> None:
    """Merge one test file's counts into the JSON file named by RELIABILITY_FIGURES, if set."""
    path = os.environ.get("RELIABILITY_FIGURES")
    if path:
        data = json.loads(Path(path).read_text()) if Path(path).is_file() else {}
        data[section] = dict(sorted(figures.items()))
        Path(path).write_text(json.dumps(data, indent=2) + "\n")
