"""The API prober against a real llama.cpp server running the bundled GGUF (opt-in: runs only
where `pip install "llama-cpp-python[server]"` has been done; it compiles llama.cpp)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from utils.core.results.table import read_table

pytest.importorskip("llama_cpp", reason="llama-cpp-python[server] is not installed")
pytestmark = [pytest.mark.llamacpp, pytest.mark.slow]
API = Path(__file__).resolve().parents[1] / "code" / "RQ1" / "prob_by_api.py"


@pytest.fixture(scope="module")
def llama_server():
    from utils.probing.backends.hf.bundled import BUNDLED_GGUF, bundled_model_dir

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model_dir() / BUNDLED_GGUF),
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(1)
    yield f"http://127.0.0.1:{port}/v1"
    proc.terminate()
    proc.wait(timeout=30)


@pytest.mark.parametrize("method,expect_ok", [("logprob", True), ("verbalized", False)])
def test_limit_5_against_llama_cpp(llama_server, tmp_path, method, expect_ok):
    proc = subprocess.run([sys.executable, str(API), "--base_url", llama_server, "--model_name_or_path", "X",
                           "--limit", "5", "--method", method, "--max-attempts", "2", "--results-root", str(tmp_path),
                           "--quiet"], capture_output=True, text=True, timeout=600,
                          env={k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"})
    rows = read_table(tmp_path / "RQ1" / "X" / "results.csv").rows
    assert [r["id"] for r in rows] == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    if expect_ok:  # llama.cpp returns top_logprobs: every item gets a distribution
        assert proc.returncode == 0, proc.stderr
        assert all(r["status"] == "ok" for r in rows)
    else:  # the 135M model does not write mappings: recorded as unparsed, bounded re-asks
        assert all(r["status"] in ("ok", "unparsed") and int(r["attempts"]) <= 2 for r in rows)


def test_sample_against_llama_cpp(llama_server, tmp_path):
    """`--method sample`: llama.cpp's server ignores `n` and answers one choice, so the prober asks
    once per answer; every row keeps its 6 answers, and an ok row's shares are its counts over the
    readable ones (multiples of 1/readable)."""
    import json

    proc = subprocess.run([sys.executable, str(API), "--base_url", llama_server, "--model_name_or_path", "X",
                           "--limit", "3", "--method", "sample", "--samples", "6", "--concurrency", "2",
                           "--max-attempts", "1", "--results-root", str(tmp_path), "--quiet"],
                          capture_output=True, text=True, timeout=600,
                          env={k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"})
    assert proc.returncode in (0, 1), proc.stderr  # 1: some rows unparsed (a 135M model rambles)
    rows = read_table(tmp_path / "RQ1" / "X" / "results.csv").rows
    assert [r["id"] for r in rows] == ["Q1", "Q2", "Q3"] and {r["method"] for r in rows} == {"sample"}
    assert any(r["status"] == "ok" for r in rows)
    for r in rows:
        assert r["status"] in ("ok", "unparsed"), r["error"]
        answers, counts = json.loads(r["raw_text"]), json.loads(r["sample_counts"])
        assert len(answers) == 6 and sum(counts.values()) + int(r["n_unreadable"]) == 6
        if r["status"] == "ok":
            readable = sum(counts.values())
            assert json.loads(r["distribution"]) == pytest.approx({k: c / readable for k, c in counts.items()})
