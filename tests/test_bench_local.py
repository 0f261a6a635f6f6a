"""benchmarks/bench_local.py end to end on the tiny random model: the naive way and ours agree."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_local.py"


def test_bench_local_agrees_with_the_naive_way(tiny_model_dir, tmp_path):
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--model", str(tiny_model_dir), "--items", "4",
                           "--verbalized-items", "2"], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "agree with the naive way to 0.0001: yes" in out
    assert "ours' texts are the start of the naive texts: yes" in out
    assert re.search(r"^ratio: [0-9.]+$", out.strip().splitlines()[-1])
