"""Run a prober over a list of requests into a results file: resume, re-ask, concurrency.

`run_requests` is the per-study loop both scripts share. Each item goes through one small
function (`probe_item`): ask, and if the answer cannot be read, ask again up to
`max_attempts` times in all. Items run on a thread pool when `concurrency > 1`; each result is
appended to the store as soon as it arrives, so a killed run keeps every finished row, and
the file is compacted into questionnaire order at the end, so the output does not depend on
the order in which answers arrived.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace

from tqdm import tqdm

from utils.records import ProbeRequest, ProbeResult, Prober
from utils.results_store import ResultStore, result_row

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    total: int
    skipped: int
    ok: int
    unparsed: int
    errors: int

    def line(self) -> str:
        return (f"{self.total} items: {self.skipped} already done, {self.ok} ok, "
                f"{self.unparsed} unparsed, {self.errors} errors")


def probe_item(prober: Prober, request: ProbeRequest, max_attempts: int) -> ProbeResult:
    """Ask until the answer parses, at most `max_attempts` times (never forever)."""
    result = prober.probe(request, attempt=1)
    attempt = 1
    while result.status == "unparsed" and attempt < max_attempts:
        attempt += 1
        result = prober.probe(request, attempt=attempt)
    return replace(result, attempts=attempt)


def run_requests(prober: Prober, requests: list[ProbeRequest], store: ResultStore, *,
                 concurrency: int = 1, max_attempts: int = 3, progress: bool = True) -> RunSummary:
    done = store.finished_ids()
    pending = [r for r in requests if r.item.id not in done]
    summary = RunSummary(total=len(requests), skipped=len(requests) - len(pending), ok=0, unparsed=0, errors=0)
    if pending and hasattr(prober, "prepare"):
        prober.prepare(pending)
    lock = threading.Lock()
    bar = tqdm(total=len(pending), disable=not progress, desc=f"probing ({prober.method})", unit="item")

    def record(request: ProbeRequest, result: ProbeResult) -> None:
        with lock:
            store.append(result_row(request.item, result, request.method))
            if result.status == "ok":
                summary.ok += 1
            elif result.status == "unparsed":
                summary.unparsed += 1
            else:
                summary.errors += 1
            bar.update(1)

    try:
        if concurrency <= 1:
            for r in pending:
                record(r, probe_item(prober, r, max_attempts))
        else:
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                futures = {pool.submit(probe_item, prober, r, max_attempts): r for r in pending}
                for fut in as_completed(futures):
                    record(futures[fut], fut.result())
    finally:
        bar.close()
    store.compact([r.item.id for r in requests])
    return summary
