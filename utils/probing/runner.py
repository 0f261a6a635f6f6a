"""Run a prober over a list of requests into a results file: resume, re-ask, concurrency.

`run_requests` is the per-study loop both scripts share. Each item goes through one small
function (`probe_item`): ask, and if the answer cannot be read, ask again up to
`max_attempts` times in all. Items run on a thread pool when `concurrency > 1`; each result is
appended to the store as soon as it arrives, so a killed run keeps every finished row, and
the file is compacted into questionnaire order at the end, so the output does not depend on
the order in which answers arrived.

A stop takes effect within a second whatever is in flight: on Ctrl-C, SIGTERM or a `UserError`
the runner takes no new item, calls the prober's `stop()` (if it has one: it ends back-off
waits at once), and returns without waiting for requests on the wire. The concurrent items
run on daemon threads for that reason: a `ThreadPoolExecutor`'s threads are joined when the
interpreter exits, so one request in flight held the exit for its whole timeout and back-off
(about 49 s against a server that is not running). Rows already written stay.

No single item can stop a run: whatever a prober raises for one item (other than a `UserError`,
which is about the whole run's set-up) is recorded as that item's `error` row with the
exception's type and message, and the run goes on; `--log-level DEBUG` shows the traceback. A
rerun asks again exactly the items without an `ok` row.
"""
from __future__ import annotations

import logging
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from tqdm import tqdm

from utils.core.errors import Stopped, UserError
from utils.core.records import Prober, ProbeRequest, ProbeResult
from utils.core.results.table import status_of
from utils.core.secrets import redact
from utils.probing.identity import prompt_sha256
from utils.probing.perturb import restore
from utils.probing.results_store import ResultStore, result_row

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
    """Ask until the answer parses, at most `max_attempts` times (never forever). A result with
    `extra["final"]` is not asked again (the paper's release stops at an answer its rule accepts)."""
    result = prober.probe(request, attempt=1)
    attempt = 1
    while result.status == "unparsed" and not result.extra.get("final") and attempt < max_attempts:
        attempt += 1
        result = prober.probe(request, attempt=attempt)
    return replace(result, attempts=attempt)


def guarded_probe_item(prober: Prober, request: ProbeRequest, max_attempts: int) -> ProbeResult:
    """`probe_item`, with anything unexpected turned into this item's recorded `error`."""
    try:
        return probe_item(prober, request, max_attempts)
    except (UserError, Stopped):
        raise
    except Exception as exc:  # noqa: BLE001 - recorded with its type, never retried or hidden
        reason = redact(f"unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")[:500]
        log.error("%s: %s", request.item.id, reason, exc_info=log.isEnabledFor(logging.DEBUG))
        return ProbeResult(request.item.id, "error", None, error=reason)


def check_stored_rows(requests: list[ProbeRequest], store: ResultStore, shown: dict | None = None) -> None:
    """Refuse to resume into a file whose finished rows were asked with other option codes
    (`shown`: the options as `--perturb` showed them, stored by code in the shown order)."""
    for r in requests:
        row = store.rows.get(r.item.id)
        keys = shown[r.item.id].stored().choice_keys if shown and r.item.id in shown else r.item.choice_keys
        if row and status_of(row) == "ok" and row["choice_keys"] != repr(list(keys)):
            raise UserError(f"{store.path}: {r.item.id} was answered over options {row['choice_keys']}, "
                            f"but the questionnaire now has {list(r.item.choice_keys)}; use another "
                            "--results-root for the changed questionnaire, or delete that row")


def progress_bar(total: int, desc: str, enabled: bool = True) -> tqdm:
    """A tqdm bar on a terminal; in a log file (stderr not a terminal) one line a minute at most,
    so a day-long run does not fill its log with bar redraws."""
    on_terminal = sys.stderr.isatty()
    return tqdm(total=total, disable=not enabled, desc=desc, unit="item",
                mininterval=0.1 if on_terminal else 60.0, maxinterval=10.0 if on_terminal else 600.0)


def in_threads(fn: Callable, items: list, workers: int, stop: threading.Event) -> Iterator[tuple]:
    """`(item, fn(item))` in the order they finish, from `workers` daemon threads. An exception
    of `fn` is raised here; `stop` set (by the caller, on leaving) means take no further item."""
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for item in items:
        todo.put(item)
    done: queue.SimpleQueue = queue.SimpleQueue()

    def work() -> None:
        while not stop.is_set():
            try:
                item = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((item, fn(item), None))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, raised there
                done.put((item, None, exc))

    for i in range(min(workers, len(items))):
        threading.Thread(target=work, name=f"probe-{i}", daemon=True).start()
    for _ in items:
        while True:
            try:  # a short timeout: a blocking get cannot be interrupted by Ctrl-C everywhere (Windows)
                item, result, exc = done.get(timeout=0.25)
                break
            except queue.Empty:
                continue
        if exc is not None:
            raise exc
        yield item, result


def run_requests(prober: Prober, requests: list[ProbeRequest], store: ResultStore, *,
                 concurrency: int = 1, max_attempts: int = 3, progress: bool = True,
                 identity: dict[str, str] | None = None, shown: dict | None = None) -> RunSummary:
    """Ask every request without an `ok` row in `store`; `identity` (see `utils/probing/identity.py`)
    is written on each row, with the row's own `prompt_sha256`. `shown` (item id -> `perturb.Shown`)
    maps each answer over the labels the model saw back to the item's codes before it is stored."""
    check_stored_rows(requests, store, shown)
    done = store.finished_ids()
    pending = [r for r in requests if r.item.id not in done]
    summary = RunSummary(total=len(requests), skipped=len(requests) - len(pending), ok=0, unparsed=0, errors=0)
    if pending and hasattr(prober, "prepare"):
        prober.prepare(pending)
    lock = threading.Lock()
    bar = progress_bar(len(pending), f"probing ({prober.method})", progress)

    def record(request: ProbeRequest, result: ProbeResult) -> None:
        row_identity = {**(identity or {}), "prompt_sha256": prompt_sha256(request.messages)}
        item, view = request.item, (shown or {}).get(request.item.id)
        if view is not None:
            item, result = view.stored(), restore(result, view)
        with lock:
            store.append(result_row(item, result, request.method, row_identity))
            if result.status == "ok":
                summary.ok += 1
            elif result.status == "unparsed":
                summary.unparsed += 1
            else:
                summary.errors += 1
            bar.update(1)

    stop = threading.Event()
    try:
        if concurrency <= 1:
            for r in pending:
                record(r, guarded_probe_item(prober, r, max_attempts))
        else:
            for r, result in in_threads(lambda r: guarded_probe_item(prober, r, max_attempts), pending,
                                        concurrency, stop):
                record(r, result)
    except BaseException:  # a UserError, Ctrl-C, SIGTERM: ask nothing more (requests cost money)
        stop.set()
        if hasattr(prober, "stop"):
            prober.stop()
        raise
    finally:
        stop.set()
        bar.close()
    store.compact([r.item.id for r in requests])
    return summary
