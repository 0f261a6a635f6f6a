"""Crashes: SIGKILL at 20 random moments, for the API prober and the local prober; two runs at once.

After every kill the results file may end in one torn record and nothing else: no duplicate id,
no damaged row before the end, and every row that was on disk before the kill is still there,
byte for byte, when the restarted runs finish (rows are fsynced before the run counts them as
done, so "on disk" is "reported finished").

Each restart pays Python's start-up (openai, or torch and transformers: ~10 s on a busy 2-core
machine), which would make 40 restarts take minutes. So the runs are forked from one warm
process that has already imported those modules (`python tests/test_reliability_crashes.py`,
the `_harness` at the end): every run is still a separate process that opens the results file,
loads its model or client and is killed with SIGKILL by the test.
"""
from __future__ import annotations

import csv
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from openai_server import FakeOpenAIServer  # noqa: E402
from reliability_figures import report_figures  # noqa: E402

from utils.core.questionnaire import load_questionnaire, questionnaire_path  # noqa: E402
from utils.core.results.table import read_table  # noqa: E402
from utils.core.results.schema import COLUMNS  # noqa: E402

API = ROOT / "code" / "RQ1" / "prob_by_api.py"
KILLS = 20
FIGURES: Counter = Counter()


_report = report_figures("crashes", FIGURES)


class Harness:
    """Talks to the warm forking process: `start(main, argv)` -> pid of a new run."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=ROOT)
        assert self._ask({"ping": True}) == "ready"

    def _ask(self, msg: dict) -> str:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def start(self, main: str, argv: list[str]) -> int:
        return int(self._ask({"main": main, "argv": argv}))

    def wait(self, pid: int) -> int:
        return int(self._ask({"wait": pid}))

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def harness():
    h = Harness()
    yield h
    h.close()


def complete_rows(path: Path) -> tuple[list[dict[str, str]], bool]:
    """Rows of every complete record, and whether a torn record follows them. Anything wrong
    before the last record fails the test."""
    if not path.exists():
        return [], False
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:  # only a character cut at the very end is allowed
        assert exc.start >= len(data) - 4, f"bytes damaged at {exc.start} of {len(data)}"
        text = data[: exc.start].decode("utf-8")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records, torn = [], False
    try:
        records.extend(reader)
    except csv.Error as exc:
        assert "unexpected end of data" in str(exc), f"damaged record before the end: {exc}"
        torn = True
    if records and not text.endswith("\n"):
        records.pop()
        torn = True
    if not records:
        return [], torn
    assert tuple(records[0]) == COLUMNS, "header damaged"
    assert all(len(r) == len(COLUMNS) for r in records[1:]), "a record short of fields before the end"
    return [dict(zip(COLUMNS, r)) for r in records[1:]], torn


def kill_campaign(harness: Harness, main: str, argv: list[str], results: Path, n_items: int,
                  max_rows_per_run: int, seed: int) -> dict:
    """Start the run, kill it with SIGKILL at a random moment, check the file; KILLS times."""
    rng = random.Random(seed)
    seen: dict[str, dict[str, str]] = {}
    stats = Counter()
    for _ in range(KILLS):
        before = len(complete_rows(results)[0])
        # the moment: after 0..max_rows_per_run new rows (0 = during start-up), plus a random
        # fraction of one item's time, so kills land before, during and after writes
        target = min(before + rng.randint(0, max_rows_per_run), n_items)
        pid = harness.start(main, argv)
        deadline, size, n = time.monotonic() + 120, -1, before
        while n < target and time.monotonic() < deadline:
            time.sleep(0.002)
            if results.exists() and results.stat().st_size != size:  # parse only when it grew
                size = results.stat().st_size
                n = len(complete_rows(results)[0])
        time.sleep(rng.uniform(0, 0.05))
        os.kill(pid, signal.SIGKILL)
        status = harness.wait(pid)
        stats["killed" if status == -signal.SIGKILL else "finished before the kill"] += 1
        rows, torn = complete_rows(results)
        stats["kills that left a torn record"] += torn
        new = len(rows) - before
        stats["kills before the run wrote a row" if new == 0 and before < n_items else
              "kills with every item already done" if new == 0 else "kills after the run wrote rows"] += 1
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids)), "duplicate id after a kill"
        now = {r["id"]: r for r in rows}
        lost = [i for i in seen if now.get(i) != seen[i]]
        assert not lost, f"rows lost or changed by a kill: {lost}"
        seen.update(now)
    pid = harness.start(main, argv)  # the last restart runs to the end
    assert harness.wait(pid) == 0
    final = read_table(results).rows
    assert [r["id"] for r in final] == sorted({r["id"] for r in final}, key=[r["id"] for r in final].index)
    assert len(final) == n_items and all(r["status"] == "ok" for r in final)
    by_id = {r["id"]: r for r in final}
    assert all(by_id[i] == row for i, row in seen.items()), "a row finished before a kill changed"
    stats["rows finished before a kill, all kept"] = len(seen)
    return stats


def test_sigkill_api_prober_20_times(harness, tmp_path):
    with FakeOpenAIServer(delay_s=0.02) as srv:
        argv = ["--model_name_or_path", "m", "--base_url", srv.base_url, "--results-root", str(tmp_path),
                "--quiet", "--concurrency", "2"]
        stats = kill_campaign(harness, "api", argv, tmp_path / "RQ1" / "m" / "results.csv", 145,
                              max_rows_per_run=5, seed=11)
    assert stats["killed"] >= KILLS - 2 and stats["rows finished before a kill, all kept"] > 0
    FIGURES.update({f"api: {k}": v for k, v in stats.items()})
    FIGURES["kills"] += stats["killed"]
    FIGURES["kills survived"] += stats["killed"]
    FIGURES["answers lost"] += 0


def test_sigkill_local_prober_20_times(harness, tiny_model_dir, tmp_path):
    argv = ["--model_name_or_path", str(tiny_model_dir), "--results-root", str(tmp_path), "--quiet"]
    stats = kill_campaign(harness, "local", argv, tmp_path / "RQ1" / tiny_model_dir.name / "results.csv", 145,
                          max_rows_per_run=4, seed=12)
    assert stats["killed"] >= KILLS - 2 and stats["rows finished before a kill, all kept"] > 0
    FIGURES.update({f"local: {k}": v for k, v in stats.items()})
    FIGURES["kills"] += stats["killed"]
    FIGURES["kills survived"] += stats["killed"]


def test_two_runs_on_one_results_file(tmp_path):
    """The second run stops at once with a one-line message; the first finishes a clean file.
    Each reply takes 0.25 s, so the first run (40 items, about 10 s) is still writing while the
    second starts (a few seconds of imports on a busy machine)."""
    with FakeOpenAIServer(delay_s=0.25) as srv:
        args = [sys.executable, str(API), "--model_name_or_path", "m", "--base_url", srv.base_url,
                "--results-root", str(tmp_path), "--quiet", "--limit", "40"]
        results = tmp_path / "RQ1" / "m" / "results.csv"
        first = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while len(complete_rows(results)[0]) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        second = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert second.returncode == 2 and second.stderr.count("\n") == 1
    assert "another run is writing" in second.stderr and "Traceback" not in second.stderr
    rows = read_table(results).rows
    expected = [it.id for it in load_questionnaire(questionnaire_path())[:40]]
    assert [r["id"] for r in rows] == expected and all(r["status"] == "ok" for r in rows)
    FIGURES["concurrent second runs refused"] += 1


# -- the warm forking process ------------------------------------------------------------------
def _harness() -> None:
    """Import once, then fork one run per request; the test kills the runs by pid."""
    import torch

    torch.set_num_threads(1)  # no OpenMP pool exists in this process, so forking stays safe
    import transformers.models.llama.modeling_llama  # noqa: F401  (what the local run imports)

    import utils.probing.backends.api.backend  # noqa: F401
    import utils.probing.backends.hf.backend  # noqa: F401
    from utils.probing.cli import api_main, local_main

    mains = {"api": api_main, "local": local_main}
    for line in sys.stdin:
        msg = json.loads(line)
        if "ping" in msg:
            print("ready", flush=True)
        elif "main" in msg:
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:  # the run: its own process, output to /dev/null like a detached job
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                rc = 1
                try:
                    rc = mains[msg["main"]](msg["argv"])
                finally:
                    os._exit(rc)
            print(pid, flush=True)
        elif "wait" in msg:  # a run that hangs is killed after 300 s, and the test fails
            pid, deadline = msg["wait"], time.monotonic() + 300
            while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    done = os.waitpid(pid, 0)
                    break
                time.sleep(0.01)
            status = done[1]
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            print(code, flush=True)


if __name__ == "__main__":
    _harness()
