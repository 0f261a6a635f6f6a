"""The RQ1 scripts as a user runs them: from another directory, dry runs, errors, kills."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from openai_server import FakeOpenAIServer

from utils.core.result_layout import read_results

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "code" / "RQ1" / "prob_by_api.py"
LLM = ROOT / "code" / "RQ1" / "prob_by_llm.py"


def run(script: Path, *args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          cwd=cwd, env=full_env, timeout=300)


def test_dry_run_renders_every_item_and_loads_no_model(tmp_path):
    out = tmp_path / "prompts.jsonl"
    proc = run(LLM, "--dry-run", str(out), "--method", "verbalized", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 144 and {"id", "language", "prompt"} <= set(rows[0])
    assert rows[0]["id"] == "Q1" and rows[0]["language"] == "English"
    assert all(r["prompt"].rstrip().endswith("Reply:") for r in rows)
    assert "no model was called" in proc.stdout


def test_missing_key_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    proc = subprocess.run([sys.executable, str(API), "--model_name_or_path", "gpt-4o"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "OPENAI_API_KEY" in proc.stderr


def test_unknown_item_id_is_one_line(tmp_path):
    proc = run(LLM, "--dry-run", str(tmp_path / "x.jsonl"), "--ids", "Q1,Q999", cwd=tmp_path)
    assert proc.returncode == 2 and "Q999" in proc.stderr and "Traceback" not in proc.stderr


def test_api_script_against_local_server(tmp_path, server):
    proc = run(API, "--base_url", server.base_url, "--model_name_or_path", "org/test-model", "--limit", "5",
               "--results-root", str(tmp_path), "--quiet", env={"OPENAI_API_KEY": "sk-canary-123"}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "RQ1" / "org" / "test-model"
    rows = read_results(folder / "results.csv")
    assert [r["id"] for r in rows] == ["Q1", "Q2", "Q3", "Q4", "Q5"] and {r["status"] for r in rows} == {"ok"}
    meta = json.loads((folder / "run_meta.json").read_text())
    assert meta["model"] == "org/test-model" and meta["summary"]["ok"] == 5
    assert server.auth_headers[0] == "Bearer sk-canary-123"
    for path in folder.iterdir():  # the key is used, never stored
        assert "sk-canary-123" not in path.read_text()
    assert "sk-canary-123" not in proc.stdout + proc.stderr


def test_sigkill_at_random_moments_loses_nothing(tmp_path):
    """Kill the API run with SIGKILL several times; the restarted run ends with 144 unique ids,
    and every row that was on disk before a kill is still there unchanged."""
    rng = random.Random(7)
    results = tmp_path / "RQ1" / "m" / "results.csv"
    args = [sys.executable, str(API), "--model_name_or_path", "m", "--results-root", str(tmp_path), "--quiet"]
    seen: dict[str, str] = {}
    with FakeOpenAIServer(delay_s=0.02) as srv:
        args += ["--base_url", srv.base_url]
        for _ in range(6):
            before = results.stat().st_size if results.exists() else 0
            proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 120  # start-up is slow on a loaded machine: wait for new rows
            while time.monotonic() < deadline and proc.poll() is None:
                if results.exists() and results.stat().st_size > before + 2000:
                    break
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.5))  # then kill at a random moment of the writing
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            if results.exists():
                text = results.read_text()
                for row in read_results(results) if text.endswith("\n") else []:
                    seen.setdefault(row["id"], row["distribution"])
        done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = read_results(results)
    ids = [r["id"] for r in rows]
    assert len(ids) == 144 and len(set(ids)) == 144
    assert all(r["status"] == "ok" for r in rows)
    final = {r["id"]: r["distribution"] for r in rows}
    assert all(final[i] == d for i, d in seen.items())
    assert seen, "no kill happened after the first rows were written; the test proved nothing"


def test_batch_size_flag_reaches_the_local_prober(tiny_model_dir, tmp_path):
    """`--batch-size` of prob_by_llm.py: recorded in run_meta.json, and the logprob answers are
    the same whether items are scored one at a time or four per pass."""
    got = {}
    for size in ("1", "4"):
        root = tmp_path / size
        proc = run(LLM, "--model_name_or_path", str(tiny_model_dir), "--limit", "6", "--batch-size", size,
                   "--results-root", str(root), "--quiet", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        folder = root / "RQ1" / tiny_model_dir.name
        assert json.loads((folder / "run_meta.json").read_text())["arguments"]["batch_size"] == int(size)
        got[size] = {r["id"]: json.loads(r["distribution"]) for r in read_results(folder / "results.csv")}
    assert got["1"].keys() == got["4"].keys() and len(got["1"]) == 6
    for item, dist in got["1"].items():
        assert dist.keys() == got["4"][item].keys()
        assert all(abs(dist[k] - got["4"][item][k]) < 1e-5 for k in dist)
    bad = run(LLM, "--batch-size", "0", "--dry-run", str(tmp_path / "d.jsonl"))
    assert bad.returncode == 2 and "at least 1" in bad.stderr and bad.stderr.count("\n") == 1
