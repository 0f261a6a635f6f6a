"""API probing speed: many requests in flight against one at a time, over real HTTP.

    python benchmarks/bench_api.py            # 144 items, server answers after 100 ms
    python benchmarks/bench_api.py --quick    # 48 items

A local OpenAI-compatible server (tests/openai_server.py, on 127.0.0.1) answers every request
after a fixed delay. The 144 RQ1 items go through the real `ApiBackend` and `run_condition`, into
a results file each, with concurrency 1 (the original release's way: one request after the
other) and with concurrency 16. The two files must hold the same rows (every column but the
timing ones, `latency_s` and `finished_at`). A third run at concurrency 16 meets a burst of
429s with `Retry-After` and must still give the same rows. The ideal time at concurrency c is
items x delay / c; the last line is `ratio: X` (seconds at concurrency 1 / seconds at 16).
"""
from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
import openai  # noqa: E402

from utils.core.questionnaire import load_questionnaire, questionnaire_path  # noqa: E402
from utils.core.results.table import read_table  # noqa: E402
from utils.probing.backends.api.backend import ApiBackend  # noqa: E402
from utils.probing.prompts import build_requests, load_prompt_set  # noqa: E402
from utils.probing.results_store import ResultStore  # noqa: E402
from utils.probing.loop import run_condition  # noqa: E402
from utils.probing.methods.logprob import Logprob  # noqa: E402
from utils.probing.methods.verbalized import Verbalized  # noqa: E402

TIMING_COLUMNS = ("latency_s", "finished_at")
# The server runs in its own process, as a real one would (in this process it would share the
# GIL with the 16 client threads). Its handler turns Nagle's algorithm off, as uvicorn (vLLM) and
# llama.cpp do; with it on, each reply waits ~40 ms for the client's delayed ACK.
SERVER = """
import sys, threading
sys.path.insert(0, {tests!r})
from openai_server import FakeOpenAIServer
with FakeOpenAIServer(delay_s={delay!r}) as srv:
    srv.script.extend([("status", 429, {{"Retry-After": "0.2"}})] * {n429})
    print(srv.base_url, flush=True)
    sys.stdin.read()  # serve until the benchmark closes our stdin
"""


@contextmanager
def fake_server(delay: float, n429: int = 0):
    """A FakeOpenAIServer (tests/openai_server.py) in a subprocess; yields its base URL. The
    first `n429` requests get 429 with `Retry-After: 0.2`."""
    code = SERVER.format(tests=str(ROOT / "tests"), delay=delay, n429=n429)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


class RetryCounter(logging.Handler):
    def __init__(self):
        super().__init__()
        self.count = 0

    def emit(self, record):
        self.count += "retry" in record.getMessage()


def timed_run(base_url: str, requests, out: Path, concurrency: int) -> tuple[float, str]:
    client = openai.OpenAI(api_key="bench", base_url=base_url, max_retries=0, timeout=30)
    backend = ApiBackend(client, "bench-model", concurrency=concurrency, max_retries=6)
    method = Logprob() if requests[0].method == "logprob" else Verbalized()
    start = time.perf_counter()
    with ResultStore(out) as store:
        summary = run_condition(backend, method, requests, store, progress=False)
    return time.perf_counter() - start, summary.line()


def rows_without_timing(path: Path) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in read_table(path).rows]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="48 items instead of 144")
    p.add_argument("--items", type=int, default=None, help="number of items (default 144, 48 with --quick)")
    p.add_argument("--delay", type=float, default=0.1, help="server reply delay in seconds (default 0.1)")
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight for the fast run (default 16)")
    p.add_argument("--method", default="verbalized", choices=["verbalized", "logprob"])
    args = p.parse_args(argv)

    n = args.items or (48 if args.quick else 144)
    items = load_questionnaire(questionnaire_path())[:n]
    requests = build_requests(items, args.method, load_prompt_set())
    c = args.concurrency
    runs = []  # (label, concurrency, seconds, summary, path)
    retries = RetryCounter()
    api_log = logging.getLogger("utils.probing.backends.api.backend")
    api_log.addHandler(retries)
    api_log.propagate = False  # counted, not printed
    with tempfile.TemporaryDirectory() as tmp:
        for label, conc, n429 in (("sequential (original way)", 1, 0), (f"concurrent ({c} in flight)", c, 0),
                                  (f"concurrent, first {c} answered 429 Retry-After 0.2s", c, c)):
            path = Path(tmp) / f"c{conc}-{n429}" / "results.csv"
            with fake_server(args.delay, n429) as url:
                secs, line = timed_run(url, requests, path, conc)
            runs.append((label, conc, secs, line, path))

        reference = rows_without_timing(runs[0][4])
        same = [rows_without_timing(r[4]) == reference for r in runs]
        ok_rows = sum(r["status"] == "ok" for r in reference)

    print(f"{n} items ({args.method}), server delay {args.delay * 1000:.0f} ms, 127.0.0.1; "
          f"{ok_rows}/{n} rows ok in the sequential file")
    print("| run | concurrency | seconds | items/s | ideal s | vs ideal | rows same as sequential |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for (label, conc, secs, _, _), eq in zip(runs, same):
        ideal = n * args.delay / conc
        print(f"| {label} | {conc} | {secs:.2f} | {n / secs:.1f} | {ideal:.2f} | {secs / ideal:.2f}x | "
              f"{'yes' if eq else 'NO'} |")
    seq, fast = runs[0][2], runs[1][2]
    ratio, vs_ideal = seq / fast, fast / (n * args.delay / c)
    goal = ratio >= 10 and vs_ideal <= 1.5 and all(same)
    print(f"429 replies retried after Retry-After: {retries.count}")
    print(f"goal (>= 10x, within 1.5x of ideal, same rows): {'met' if goal else 'NOT met'}")
    print(f"ratio: {ratio:.1f}")
    return 0 if all(same) else 1


if __name__ == "__main__":
    sys.exit(main())
