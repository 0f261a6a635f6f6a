"""The API prober against a real llama.cpp server running the bundled GGUF. `requirements-dev.txt`
installs `llama-cpp-python[server]` (pip compiles llama.cpp once), so the README's test command and
CI run these; on a machine without it they skip, and in CI (CI=true) its absence is an error.

Every case decodes greedily (temperature 0, re-asks included), so each has one outcome."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from utils.core.results.table import read_table

if os.environ.get("CI"):
    import llama_cpp  # noqa: F401  (.ci/run installs it: never skipped there)
else:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python[server] is not installed")
pytestmark = [pytest.mark.llamacpp, pytest.mark.slow]
API = Path(__file__).resolve().parents[1] / "code" / "RQ1" / "prob_by_api.py"


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    from utils.probing.backends.hf.bundled import BUNDLED_GGUF, bundled_model_dir

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model",
                                 str(bundled_model_dir() / BUNDLED_GGUF), "--host", "127.0.0.1", "--port", str(port),
                                 "--n_ctx", "4096"], stdout=fh, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"llama.cpp's server did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.5)
    yield f"http://127.0.0.1:{port}/v1"
    proc.terminate()
    proc.wait(timeout=30)


def probe(url: str, root: Path, *args: str) -> tuple[subprocess.CompletedProcess, list[dict[str, str]]]:
    proc = subprocess.run([sys.executable, str(API), "--base_url", url, "--model_name_or_path", "X",
                           "--results-root", str(root), "--quiet", *args], capture_output=True, text=True,
                          timeout=600, env={k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"})
    return proc, read_table(root / "RQ1" / "X" / "results.csv").rows


def test_logprob_gives_every_item_a_distribution(llama_server, tmp_path):
    """llama.cpp returns top_logprobs: every item gets a distribution on the first ask."""
    proc, rows = probe(llama_server, tmp_path, "--limit", "5", "--method", "logprob", "--max-attempts", "2")
    assert proc.returncode == 0, proc.stderr
    assert [r["id"] for r in rows] == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    for r in rows:
        dist = json.loads(r["distribution"])
        assert r["status"] == "ok" and r["attempts"] == "1" and sum(dist.values()) == pytest.approx(1)
        assert set(dist) == set(json.loads(r["raw_text"])["option_logprobs"])


def test_verbalized_unparsed_rows_are_recorded_after_bounded_re_asks(llama_server, tmp_path):
    """The 135M model names one option in words and writes no mapping: each item is asked twice
    (the re-ask at temperature 0 too) and recorded as unparsed with its text; exit 1."""
    proc, rows = probe(llama_server, tmp_path, "--limit", "5", "--method", "verbalized", "--max-attempts", "2",
                       "--retry-temperature", "0")
    assert proc.returncode == 1, proc.stderr
    assert [r["id"] for r in rows] == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    assert [(r["status"], r["attempts"], r["error"]) for r in rows] == [("unparsed", "2", "no_mapping")] * 5
    assert all(r["raw_text"].strip() and r["distribution"] == "" for r in rows)


def test_sample_asks_once_per_answer(llama_server, tmp_path):
    """`--method sample`: llama.cpp's server ignores `n` and answers one choice, so the prober asks
    once per answer, 2 requests in flight; every row keeps its 6 answers. Greedy, the 6 answers
    are one answer 6 times, and it names an option: the row's share is 1 on that option."""
    proc, rows = probe(llama_server, tmp_path, "--limit", "3", "--method", "sample", "--samples", "6",
                       "--sample-temperature", "0", "--concurrency", "2", "--max-attempts", "1")
    assert proc.returncode == 0, proc.stderr
    assert [r["id"] for r in rows] == ["Q1", "Q2", "Q3"] and {r["method"] for r in rows} == {"sample"}
    for r in rows:
        answers, counts = json.loads(r["raw_text"]), json.loads(r["sample_counts"])
        assert r["status"] == "ok" and len(answers) == 6 and len(set(answers)) == 1, answers
        assert sorted(counts.values()) == [0] * (len(counts) - 1) + [6] and r["n_unreadable"] == "0"
        assert json.loads(r["distribution"]) == {k: c / 6 for k, c in counts.items()}
