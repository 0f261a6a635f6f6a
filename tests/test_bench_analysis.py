"""benchmarks/bench_analysis.py end to end, small: both ways agree and it ends with `ratio: X`."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_analysis.py"


def test_bench_analysis_runs_and_scores_agree(tmp_path):
    proc = subprocess.run([sys.executable, str(BENCH), "--respondents-per-country", "40", "--countries", "4",
                           "--models", "2"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert "160 respondents x 144 items, 4 countries" in lines[0]
    diff = float(re.search(r"max \|score difference\| over 2 models x 4 countries: (\S+)", proc.stdout).group(1))
    assert diff < 1e-9
    assert re.search(r"peak memory reading the file .*: \d+ MiB for 160 rows", proc.stdout)
    ratio = float(re.search(r"^ratio: ([0-9.]+)$", lines[-1]).group(1))
    assert ratio > 0  # a timing, not a result: the 50x goal is checked by running the benchmark itself (README)
