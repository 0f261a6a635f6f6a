"""benchmarks/bench_startup.py end to end, small: a first start and one later start of each way
(now, before) agree exactly."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_startup.py"


@pytest.mark.slow
def test_bench_startup_cached_start_gives_the_same_model(tmp_path):
    proc = subprocess.run([sys.executable, str(BENCH), "--warm", "1", "--no-cache-runs", "0",
                           "--cache-dir", str(tmp_path / "cache")], capture_output=True, text=True, timeout=1800,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "later starts give the converted model's log-probabilities exactly: yes" in proc.stdout
    times = r"\| 1( \| [0-9.]+){4} \|$"  # runs, then start-up, load, CPU (process), CPU (main thread) seconds
    assert re.search(r"^\| later \(read the cached entry, checksums verified\) " + times, proc.stdout, re.M)
    assert re.search(r"^\| later, before \(checksums, then load; tied weight as lm_head.weight\) " + times,
                     proc.stdout, re.M)  # the old way, run in the same benchmark
    assert re.search(r"^ratio: [0-9.]+$", proc.stdout.strip().splitlines()[-1])  # a timing: not asserted
