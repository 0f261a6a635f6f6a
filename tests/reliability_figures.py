"""Where the reliability tests put the figures README reports (set RELIABILITY_FIGURES=FILE).

Each `tests/test_reliability_*.py` counts what happened in a `Counter` and declares
`_report = report_figures("<section>", FIGURES)`: when the module's tests are done, the counts
are merged into the JSON file under that section."""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest


def write_figures(section: str, figures: Counter) -> None:
    """Merge one test file's counts into the JSON file named by RELIABILITY_FIGURES, if set."""
    path = os.environ.get("RELIABILITY_FIGURES")
    if path:
        data = json.loads(Path(path).read_text()) if Path(path).is_file() else {}
        data[section] = dict(sorted(figures.items()))
        Path(path).write_text(json.dumps(data, indent=2) + "\n")


def report_figures(section: str, figures: Counter):
    """An autouse, module-scoped fixture that writes `figures` once the module's tests are done."""
    @pytest.fixture(scope="module", autouse=True)
    def _report():
        yield
        write_figures(section, figures)

    return _report
