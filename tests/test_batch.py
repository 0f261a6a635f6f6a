"""`--batch` against a real local server speaking the files and batches endpoints (tests/batch_server.py)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openai_server import FakeOpenAIServer

from utils.core.results.table import read_table
from utils.probing.cli import api_main

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "code" / "RQ1" / "prob_by_api.py"
TIMING = ("latency_s", "finished_at")  # the only columns a batch run writes otherwise


def argv(srv, root, *more):
    return ["--model_name_or_path", "m", "--base_url", srv.base_url, "--results-root", str(root), "--quiet",
            "--limit", "6", *more]


def rows(root, folder="RQ1/m"):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in read_table(root / folder / "results.csv").rows]


def synchronous(tmp_path, *more):
    with FakeOpenAIServer() as srv:
        assert api_main(argv(srv, tmp_path / "sync", *more)) == 0
    return rows(tmp_path / "sync")


def test_a_batch_run_writes_the_synchronous_runs_file(server, tmp_path, capsys):
    assert api_main(argv(server, tmp_path / "b", "--batch", "--batch-poll", "0")) == 0
    out = capsys.readouterr().out
    assert server.batch_store.created == ["batch_1"]
    assert rows(tmp_path / "b") == synchronous(tmp_path)
    for state in ("validating 0/6", "in_progress 3/6", "finalizing 3/6", "completed 6/6"):
        assert f"batch batch_1: {state}\n" in out
    line = json.loads(server.batch_store.files["file-1"].decode().splitlines()[0])
    assert line["custom_id"] == "RQ1/m|Q1|1" and line["method"] == "POST" and line["url"] == "/v1/chat/completions"
    assert line["body"]["temperature"] == 0 and line["body"]["model"] == "m"
    # a rerun finds everything done and sends nothing
    assert api_main(argv(server, tmp_path / "b", "--batch", "--batch-poll", "0")) == 0
    assert server.batch_store.created == ["batch_1"]


@pytest.mark.parametrize("method", ["logprob", "sample"])
def test_other_methods_read_the_same(server, tmp_path, method):
    more = ("--method", method, "--samples", "3")
    assert api_main(argv(server, tmp_path / "b", "--batch", "--batch-poll", "0", *more)) == 0
    assert rows(tmp_path / "b") == synchronous(tmp_path, *more)


def test_unreadable_and_failed_lines_go_into_a_bounded_follow_up(server, tmp_path):
    bad = ("content", "I cannot say.")
    server.script.extend([bad, ("status", 500, {}), ("status", 400, {}), None, None, None])  # round 1: Q1..Q6
    server.script.extend([bad, bad, bad])  # round 2: Q1 (attempt 2), Q2 (attempt 1); round 3: Q2 (attempt 2)
    code = api_main(argv(server, tmp_path / "b", "--batch", "--batch-poll", "0", "--max-attempts", "2"))
    by_id = {r["id"]: r for r in read_table(tmp_path / "b/RQ1/m/results.csv").rows}
    assert code == 1 and len(server.batch_store.created) == 3  # Q1 attempt 2, Q2 again at attempt 1; then Q2 at 2
    assert by_id["Q1"]["status"] == "unparsed" and by_id["Q1"]["attempts"] == "2"
    assert by_id["Q2"]["status"] == "unparsed" and by_id["Q2"]["attempts"] == "2"
    assert by_id["Q3"]["status"] == "error" and "HTTP 400" in by_id["Q3"]["error"]
    assert all(by_id[q]["status"] == "ok" for q in ("Q4", "Q5", "Q6"))
    second = [json.loads(x) for x in server.batch_store.files["file-4"].decode().splitlines()]
    assert sorted((x["custom_id"], x["body"]["temperature"]) for x in second) == [("RQ1/m|Q1|2", 0.7),
                                                                                   ("RQ1/m|Q2|1", 0)]


@pytest.mark.parametrize("end, written, batches", [("failed", 0, 1), ("cancelled", 3, 1), ("expired", 6, 2)])
def test_a_batch_that_ends_otherwise(server, tmp_path, capsys, end, written, batches):
    assert api_main(argv(server, tmp_path / "b", "--limit", "2", "--batch", "--batch-poll", "0")) == 0
    server.batch_store.paths.append(["validating", "in_progress", end])
    code = api_main(argv(server, tmp_path / "b", "--limit", "8", "--batch", "--batch-poll", "0"))
    out = capsys.readouterr().out
    assert len([x for x in out.splitlines() if x.startswith("batch batch_2 ") and end in x]) == 1
    table = read_table(tmp_path / "b/RQ1/m/results.csv").rows
    assert [r["id"] for r in table][:2] == ["Q1", "Q2"]  # nothing already written lost
    assert sum(r["status"] == "ok" for r in table) == 2 + written
    assert code == (0 if end == "expired" else 1) and len(server.batch_store.created) == 1 + batches


def test_no_output_file_and_an_unknown_custom_id(server, tmp_path, capsys):
    server.batch_store.extra_lines = [{"custom_id": "RQ1/m|Q999|1", "response": {"status_code": 200, "body": {}}}]
    assert api_main(argv(server, tmp_path / "b", "--batch", "--batch-poll", "0")) == 0
    assert "a line for unknown custom_id 'RQ1/m|Q999|1'; left out" in capsys.readouterr().out
    server.batch_store.extra_lines, server.batch_store.no_output = [], True
    assert api_main(argv(server, tmp_path / "c", "--batch", "--batch-poll", "0", "--max-attempts", "1")) == 1
    assert "completed without an output file" in capsys.readouterr().out
    assert len(server.batch_store.created) == 1 + 3  # the follow-ups are bounded: --max-attempts + 2 rounds


def test_a_killed_client_resumes_the_same_batch(tmp_path):
    with FakeOpenAIServer() as srv:
        srv.batch_store.hold.set()
        args = [sys.executable, str(API), *argv(srv, tmp_path / "b", "--batch", "--batch-poll", "0.05")]
        first = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while srv.batch_store.retrieved.count("in_progress") < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
        assert srv.batch_store.created == ["batch_1"] and srv.batch_store.retrieved[-1] == "in_progress"
        srv.batch_store.hold.clear()
        second = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        assert srv.batch_store.created == ["batch_1"]  # polled, never sent again
        assert "batch batch_1: completed 6/6" in second.stdout
    assert rows(tmp_path / "b") == synchronous(tmp_path)


def test_a_batch_goes_to_one_server(tmp_path, capsys):
    """Several --base_url spread synchronous requests; a batch job lives on one provider's server."""
    with FakeOpenAIServer() as one, FakeOpenAIServer() as two:
        rc = api_main(["--model_name_or_path", "m", "--base_url", one.base_url, "--base_url", two.base_url,
                       "--results-root", str(tmp_path), "--batch", "--quiet", "--limit", "2"])
        assert rc == 2 and not one.requests and not two.requests
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--batch sends one job to one server, not to 2; give one --base_url" in err


def test_the_files_and_batches_calls_wait_as_the_server_asks():
    """A 429 with Retry-After waits what it says, a 503 the jittered back-off, as synchronous requests do."""
    import openai

    from utils.probing.batch.client import Batches

    with FakeOpenAIServer() as srv:
        waited = []
        batches = Batches(openai.OpenAI(base_url=srv.base_url, api_key="k", max_retries=0), max_retries=2,
                          backoff_s=4.0, sleep=waited.append)
        srv.batch_store.busy.extend([(429, {"retry-after": "3"}), (503, {})])
        assert batches.upload("in.jsonl", b"{}\n").startswith("file")
        assert waited[0] == 3.0 and 4.0 <= waited[1] <= 8.0  # back-off 4 * 2**1, jittered to half or more
        srv.batch_store.busy.extend([(503, {})] * 3)
        with pytest.raises(openai.InternalServerError):
            batches.upload("in.jsonl", b"{}\n")
        assert len(waited) == 4
