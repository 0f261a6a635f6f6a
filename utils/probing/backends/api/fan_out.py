"""N answers to one prompt from a chat-completions server, for the `sample` method.

OpenAI and vLLM honour the request field `n` and return N choices for one prompt (billed once
for the prompt). llama.cpp's server, among others, ignores it and returns one. `FanOut.gather`
asks once with `n=N`; when fewer choices come back it asks for each missing answer in its own
request, and from then on asks one answer per request straight away:

    server honours n:   [n=40] -> 40 choices                              1 request
    server ignores n:   [n=40] -> 1 choice, then 39 x [n=1] in parallel    40 requests
    (later items)       40 x [n=1] in parallel                             40 requests

Every request, the first and the fan-out ones, holds one of `concurrency` slots while it is
on the wire, so `--concurrency` bounds the requests in flight however many items the runner
has open. A request that fails after its retries fails the item (the runner records it).
The fan-out requests run on daemon threads, so that Ctrl-C or SIGTERM does not wait for one on
the wire (the interpreter joins a `ThreadPoolExecutor`'s threads at exit).
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future


class DaemonPool:
    """`submit(fn, *args) -> Future` on `workers` daemon threads, started on first use; a
    future cancelled before its turn is skipped."""

    def __init__(self, workers: int, name: str = "sample"):
        self.workers, self.name = workers, name
        self._todo: queue.SimpleQueue = queue.SimpleQueue()
        self._started = False
        self._lock = threading.Lock()

    def _work(self) -> None:
        while True:
            fut, fn, args = self._todo.get()
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn(*args))
                except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
                    fut.set_exception(exc)

    def submit(self, fn: Callable, *args) -> Future:
        with self._lock:
            if not self._started:
                for i in range(self.workers):
                    threading.Thread(target=self._work, name=f"{self.name}-{i}", daemon=True).start()
                self._started = True
        fut: Future = Future()
        self._todo.put((fut, fn, args))
        return fut


class FanOut:
    def __init__(self, concurrency: int = 1):
        self._slots = threading.BoundedSemaphore(max(1, concurrency))
        self._pool = DaemonPool(max(1, concurrency))
        self.honours_n: bool | None = None  # unknown until a server answered a request with n > 1

    def _call(self, send: Callable[[int], dict], n: int) -> dict:
        with self._slots:
            return send(n)

    def gather(self, send: Callable[[int], dict], n: int) -> list[dict]:
        """Reply bodies that together hold (at least) `n` choices; `send(k)` makes one request
        for k answers and returns its body (a dict with a non-empty `choices` list)."""
        bodies: list[dict] = []
        missing = n
        if n > 1 and self.honours_n is not False:
            body = self._call(send, n)
            bodies.append(body)
            missing -= len(body["choices"])
            if missing > 0:
                self.honours_n = False
            elif self.honours_n is None:
                self.honours_n = True
        futures = [self._pool.submit(self._call, send, 1) for _ in range(max(missing, 0))]
        try:
            bodies += [f.result() for f in futures]
        finally:  # after a failure, send nothing more for this item
            for f in futures:
                f.cancel()
        return bodies


def choice_texts(bodies: list[dict], n: int) -> list[str]:
    """The answer text of every choice, in order, at most `n` (a refusal or null content is "").

    >>> choice_texts([{"choices": [{"message": {"content": "2"}}, {"message": {"content": None}}]}], 5)
    ['2', '']
    """
    texts = []
    for body in bodies:
        for choice in body["choices"]:
            content = (choice.get("message") or {}).get("content") if isinstance(choice, dict) else None
            texts.append(content if isinstance(content, str) else "")
    return texts[:n]
