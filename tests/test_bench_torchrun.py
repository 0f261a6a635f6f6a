"""benchmarks/bench_torchrun.py end to end, small: 2 processes under torchrun write the rows of 1."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_torchrun.py"


@pytest.mark.slow
def test_bench_torchrun_two_processes_write_the_same_rows(tmp_path):
    proc = subprocess.run([sys.executable, str(BENCH), "--limit", "4"], capture_output=True, text=True, timeout=900,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "same rows: yes" in proc.stdout
    assert re.search(r"^\| 2 \| 4 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|$", proc.stdout, re.M)
    assert re.search(r"^ratio: [0-9.]+$", proc.stdout.strip().splitlines()[-1])  # a timing: not asserted
