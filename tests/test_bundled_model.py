"""The README's main command with the bundled SmolLM2-135M-Instruct, end to end on the CPU."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from utils.core.results.table import read_table

pytestmark = pytest.mark.slow
LLM = Path(__file__).resolve().parents[1] / "code" / "RQ1" / "prob_by_llm.py"


def test_main_command_gives_valid_distributions_for_all_144_items(tmp_path):
    proc = subprocess.run([sys.executable, str(LLM), "--results-root", str(tmp_path), "--quiet"],
                          capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    folder = tmp_path / "RQ1" / "SmolLM2-135M-Instruct"
    rows = read_table(folder / "results.csv").rows
    assert len(rows) == 145 and len({r["id"] for r in rows}) == 145  # the 144 and Q151 (for RQ3)
    valid = [r for r in rows if r["status"] == "ok" and abs(sum(json.loads(r["distribution"]).values()) - 1) < 1e-9]
    assert len(valid) / len(rows) >= 0.99
    meta = json.loads((folder / "run_meta.json").read_text())
    assert meta["arguments"]["method"] == "logprob" and meta["elapsed_s"] > 0
    assert "145 items" in proc.stdout
