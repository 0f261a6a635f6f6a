"""`--batch` against one request at a time: the same rows, and how many HTTP requests each takes.

    python benchmarks/batch_vs_sync.py            # the 145 RQ1 items, 10 answers unreadable at first
    python benchmarks/batch_vs_sync.py --quick    # 24 items

The server is tests/openai_server.py's `FakeOpenAIServer` with the files and batches endpoints of
tests/batch_server.py, on 127.0.0.1. Both runs go through `prob_by_api.py`'s own entry
(`utils/probing/cli.api_main`), one without and one with `--batch --batch-poll 0`, into their own
results files, which must hold the same rows (all columns but `latency_s` and `finished_at`). The
first `--unreadable` answers of each run cannot be read, so those items are asked again: at once by
the synchronous run (`--concurrency 1`, so the same items meet them), in a follow-up batch by
the batch run. Requests are counted at the server: the synchronous run's chat completions (one
per item and attempt); the batch run's uploads, creates, status polls, lists and downloads. Wall
time is printed (median of `--repeats` runs) but is not the point: a provider's batch takes up to
24 h, and its price is half. The last line is `ratio: X`, synchronous requests / batch requests.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from openai_server import FakeOpenAIServer  # noqa: E402

from utils.core.results.table import read_table  # noqa: E402
from utils.probing.cli import api_main  # noqa: E402

TIMING_COLUMNS = ("latency_s", "finished_at")
UNREADABLE = ("content", "I cannot say.")


def kind(verb: str, path: str) -> str:
    """The batch endpoint a request went to: upload, create, list, poll or download."""
    parts = path.split("?")[0].strip("/").split("/")[1:]
    if parts[0] == "files":
        return "upload" if verb == "POST" else "download"
    if parts == ["batches"]:
        return "create" if verb == "POST" else "list"
    return "poll"


def one_run(items: int, unreadable: int, root: Path, batch: bool) -> tuple[float, Counter, list[dict], int]:
    """(seconds, HTTP requests by kind, the rows without timing columns, batches made)."""
    with FakeOpenAIServer() as srv:
        srv.script.extend([UNREADABLE] * unreadable)
        counts: Counter = Counter()
        handle = srv.batch_store.handle

        def counted(verb, path, headers, data):
            counts[kind(verb, path)] += 1
            return handle(verb, path, headers, data)
        srv.batch_store.handle = counted
        argv = ["--model_name_or_path", "bench-model", "--base_url", srv.base_url, "--results-root", str(root),
                "--limit", str(items), "--concurrency", "1", "--quiet"] + (["--batch", "--batch-poll", "0"] if batch
                                                                          else [])
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = api_main(argv)
        seconds = time.perf_counter() - start
        if code != 0:
            raise SystemExit(f"the {'batch' if batch else 'synchronous'} run ended with exit code {code}")
        if not batch:
            counts["chat completions"] = len(srv.requests)
        made = len(srv.batch_store.created)
    rows = [{k: v for k, v in r.items() if k not in TIMING_COLUMNS}
            for r in read_table(root / "RQ1" / "bench-model" / "results.csv").rows]
    return seconds, counts, rows, made


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=145, help="RQ1 items asked (default 145, all of them)")
    ap.add_argument("--unreadable", type=int, default=10, help="answers that cannot be read at first (default 10)")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each way; the median time is shown (default 3)")
    ap.add_argument("--quick", action="store_true", help="24 items, 4 unreadable, 1 run each")
    args = ap.parse_args(argv)
    if args.quick:
        args.items, args.unreadable, args.repeats = 24, 4, 1
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, batch in (("synchronous", False), ("batch", True)):
            runs = [one_run(args.items, args.unreadable, Path(tmp) / f"{name}{i}", batch) for i in range(args.repeats)]
            if any(r[1] != runs[0][1] or r[2] != runs[0][2] for r in runs):
                raise SystemExit(f"the {name} runs differ from one another")
            results[name] = (statistics.median(r[0] for r in runs), runs[0][1], runs[0][2], runs[0][3])
    same = results["synchronous"][2] == results["batch"][2]
    print(f"{args.items} RQ1 items, {args.unreadable} answers unreadable at first; median of {args.repeats} run(s)\n")
    print("| way | HTTP requests | of which | batches | seconds | rows | same rows |")
    print("| --- | ---: | --- | ---: | ---: | ---: | --- |")
    for name, (seconds, counts, rows, made) in results.items():
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"| {name} | {sum(counts.values())} | {detail} | {made} | {seconds:.2f} | {len(rows)} | "
              f"{'yes' if same else 'NO'} |")
    sync_n, batch_n = (sum(results[k][1].values()) for k in ("synchronous", "batch"))
    print(f"\nratio: {sync_n / batch_n:.2f}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
