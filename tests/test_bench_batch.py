"""benchmarks/batch_vs_sync.py and benchmarks/grid_cost.py end to end, small: they run, the batch
run's rows are the synchronous run's, and the grid's batch prices are half its list prices."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def run(script: str, tmp_path) -> str:
    proc = subprocess.run([sys.executable, str(BENCH / script), "--quick"], capture_output=True, text=True,
                          timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_batch_vs_sync_gives_the_same_rows_in_fewer_requests(tmp_path):
    out = run("batch_vs_sync.py", tmp_path)
    assert "| NO |" not in out and out.count("| yes |") == 2
    assert "| synchronous | 28 | chat completions 28 | 0 |" in out  # 24 items, 4 asked twice
    assert re.search(r"^\| batch \| \d+ \| create 2, download 2, .*upload 2 \| 2 \|", out, re.M)
    assert float(re.search(r"^ratio: ([0-9.]+)$", out.strip().splitlines()[-1]).group(1)) > 1


def test_grid_cost_prices_the_papers_api_models_at_list_and_batch_prices(tmp_path):
    out = run("grid_cost.py", tmp_path)
    rows = {r[0]: r for r in (line.strip("| ").split(" | ") for line in out.splitlines() if line.startswith("| "))}
    assert {"gpt-3.5-turbo", "gpt-4", "deepseek-chat", "deepseek-reasoner", "total"} <= set(rows)
    money = [float(x.strip(" $|").replace(",", "")) for x in rows["total"][3:]]
    assert money[2] > 0 and abs(money[2] / money[5] - 2) < 0.01  # list total / batch total
    assert out.strip().splitlines()[-1] == "ratio: 2.00"
