"""The backend for OpenAI-compatible chat-completions servers: OpenAI, DeepSeek, vLLM, llama.cpp, Ollama.

Requests run on `concurrency` daemon threads, each answer handed back as it arrives; daemons, since the
interpreter joins a `ThreadPoolExecutor`'s threads at exit, which can hold it for a whole timeout and back-off.

Retries cover exactly the transient errors a server names: 429 (waiting `Retry-After` when given),
timeouts, dropped connections and 5xx. Anything else, and a transient error past its retries, is the
item's `Failure` (an `error` row). Error texts pass through `redact`: some servers echo the key.

N answers to one prompt (`Generate.n`): OpenAI and vLLM honour the field `n` (the prompt billed once),
llama.cpp's server answers one. The first item is asked with `n`; if fewer come back, the missing ones
are asked one per request, and so is every answer from then on:

    server honours n:   [n=40] -> 40 choices                              1 request
    server ignores n:   [n=40] -> 1 choice, then 39 x [n=1] in parallel    40 requests
    (later items)       40 x [n=1] in parallel                             40 requests

While nothing has ever answered (not even an error status), connect failures (refused, unknown host,
TLS) are retried for `NOT_REACHED_GRACE_S` only (a server may be starting), then a `UserError` names
the base URL. Several `--base_url`s (replicas) take requests and retries round robin; one that refuses
a connection while another is in use is left out for the run (one warning) and the request goes to
another at once, not counted as a retry. The rows do not depend on which server answered.

    servers A, B; B stops:   Q1 -> A, Q2 -> B, Q3 -> A, Q4 -> B refused: "B ... left out", Q4 -> A, ...
"""
from __future__ import annotations

import json
import logging
import os
import queue
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import openai

from utils.core.errors import Stopped, UserError
from utils.core.records import ProbeRequest
from utils.core.secrets import redact, register_secret
from utils.probing.backends import AllAtOnce, Completion, Failure, Generate, Score, Scores, Usage, unexpected
from utils.probing.backends.api import wire

log = logging.getLogger(__name__)

DEEPSEEK_BASE_URL = "https://api.deepseek.com"
RETRYABLE = (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError,
             openai.InternalServerError)
# Beneath an APIConnectionError when no connection could be made at all: the transport's
# ConnectError (httpx's, or httpx2's where openai uses that), or the OS error. Not a connect
# timeout: a busy server (or machine) can be slow to accept, so that keeps the ordinary retries.
CONNECT_FAILURE_NAMES = ("ConnectError",)
CONNECT_FAILURES = (ConnectionRefusedError, socket.gaierror, ssl.SSLError)
NOT_REACHED_GRACE_S = 3.0  # retries of connect failures while nothing has answered yet end here


@dataclass(frozen=True)
class Endpoint:
    base_url: str | None
    api_key_env: str


def resolve_endpoint(model: str, base_url: str | None, api_key_env: str | None) -> Endpoint:
    """DeepSeek models go to DeepSeek's URL with DEEPSEEK_API_KEY; the rest to OpenAI or `base_url`."""
    if base_url is None and model.startswith("deepseek"):
        return Endpoint(DEEPSEEK_BASE_URL, api_key_env or "DEEPSEEK_API_KEY")
    return Endpoint(base_url, api_key_env or "OPENAI_API_KEY")


def make_client(endpoint: Endpoint, timeout: float = 120.0) -> openai.OpenAI:
    """Client with the key from the environment. A self-hosted `--base_url` may run keyless."""
    key = os.environ.get(endpoint.api_key_env)
    if not key:
        if endpoint.base_url is None or endpoint.base_url == DEEPSEEK_BASE_URL:
            raise UserError(f"no API key: set the environment variable {endpoint.api_key_env} "
                            "(or name another one with --api-key-env)")
        key = "no-key"  # vLLM, llama.cpp and Ollama accept any key unless started with one
    register_secret(key)  # whatever a server echoes back, the key is never written or logged
    # Our own loop does the retrying, so that every retry is bounded, named and logged.
    return openai.OpenAI(api_key=key, base_url=endpoint.base_url, timeout=timeout, max_retries=0)


class DaemonPool:
    """`submit(fn, *args) -> Future` on `workers` daemon threads, started on first use; a future
    cancelled before its turn is skipped."""

    def __init__(self, workers: int, name: str):
        self.workers, self.name = max(1, workers), name
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


@dataclass(eq=False)
class _Server:
    client: openai.OpenAI
    reached: bool = False  # has it ever answered anything (a reply, an error status)?
    first_connect_failure: float | None = None
    left_out: bool = False

    @property
    def where(self) -> str:
        return str(self.client.base_url).rstrip("/")


class ApiBackend(AllAtOnce):
    """Asks one chat-completions model, on one server or several (a list of clients); every method
    may be called from the run loop's thread. `concurrency` bounds what is on the wire."""

    def __init__(self, client: openai.OpenAI | list[openai.OpenAI], model: str, *, concurrency: int = 1,
                 max_retries: int = 6, backoff_s: float = 1.0, max_backoff_s: float = 60.0):
        self._servers = [_Server(c) for c in (client if isinstance(client, list) else [client])]
        self._turn = 0  # the next server, round robin
        self._lock = threading.Lock()
        self.model = model
        self.max_retries, self.backoff_s, self.max_backoff_s = max_retries, backoff_s, max_backoff_s
        self._slots = threading.BoundedSemaphore(max(1, concurrency))  # requests on the wire
        self._items = DaemonPool(concurrency, "probe")  # one task per item
        self._answers = DaemonPool(concurrency, "sample")  # the single-answer requests of a server ignoring n
        self.honours_n: bool | None = None  # unknown until a server answered a request with n > 1
        self._stop = threading.Event()

    @property
    def client(self) -> openai.OpenAI:
        """The first server's client (the only one, with one `--base_url`)."""
        return self._servers[0].client

    @client.setter
    def client(self, value: openai.OpenAI) -> None:
        self._servers[0].client = value

    def _next_server(self) -> _Server:
        """The next server still in use, round robin (the last one is never left out)."""
        with self._lock:
            live = [s for s in self._servers if not s.left_out]
            self._turn += 1
            return live[(self._turn - 1) % len(live)]

    def _leave_out(self, server: _Server, exc: Exception) -> bool:
        """Leave out `server` (one warning) unless it is the last in use: False then, and single-server rules hold."""
        with self._lock:
            if server.left_out:
                return True  # another request found it first
            live = [s for s in self._servers if not s.left_out]
            if len(live) <= 1:
                return False
            server.left_out = True
        log.warning("%s stopped answering (%s); left out, asking the other %d server(s)", server.where,
                    _connect_cause(exc), len(live) - 1)
        return True

    def stop(self) -> None:
        """End every back-off wait and send nothing more (a request on the wire finishes or dies with the process)."""
        self._stop.set()

    def generate(self, requests: list[ProbeRequest], how: Generate | Score) -> Iterator[tuple[int, object]]:
        return self._each(requests, lambda r: self._ask(r, how))

    option_logprobs = generate  # a reply is read by what `how` asked for

    def _each(self, requests: list[ProbeRequest], ask: Callable) -> Iterator[tuple[int, object]]:
        """`(index, ask(request))` in the order they finish. A `UserError` (nothing answers) or
        `Stopped` is raised here; anything else one item raises is that item's `Failure`."""
        stopped_by: list[Exception] = []  # the UserError or stop that ends the run: nothing more is asked

        def one(request: ProbeRequest):
            if stopped_by:
                raise Stopped()
            try:
                return ask(request)
            except (UserError, Stopped) as exc:
                stopped_by.append(exc)
                raise
            except Exception as exc:  # noqa: BLE001 - recorded with its type, never retried or hidden
                log.error("%s: %s", request.item.id, exc, exc_info=log.isEnabledFor(logging.DEBUG))
                return unexpected(exc)

        futures = {self._items.submit(one, r): i for i, r in enumerate(requests)}
        waiting = set(futures)
        try:
            while waiting:  # a short timeout: a blocking wait cannot be interrupted by Ctrl-C everywhere
                done, waiting = wait(waiting, timeout=0.25, return_when=FIRST_COMPLETED)
                done = sorted(done, key=futures.__getitem__)
                yield from ((futures[f], f.result()) for f in done if f.exception() is None)
                failed = [f.exception() for f in done if f.exception() is not None]
                if failed:  # after handing back what finished beside it
                    raise stopped_by[0] if stopped_by else failed[0]
        finally:  # leaving early (a stop, an error): take no further item
            stopped_by.append(Stopped())
            for fut in futures:
                fut.cancel()

    def _ask(self, request: ProbeRequest, how: Generate | Score) -> Completion | Scores | Failure:
        start = time.monotonic()
        try:
            bodies = self._bodies(request, how)
        except (openai.APIError, json.JSONDecodeError) as exc:
            return _failure(exc, time.monotonic() - start)
        return wire.answer(bodies, request.item.choice_keys, how, time.monotonic() - start)

    def _bodies(self, request: ProbeRequest, how: Generate | Score) -> list:
        """Replies that together hold (at least) `how.n` answers (see the module docstring), or
        one that is no chat completion."""
        if isinstance(how, Score) or how.n == 1:
            return [self._send(wire.payload(request, self.model, how))]

        def send(n: int) -> dict:
            return self._send(wire.payload(request, self.model, replace(how, n=n)))

        bodies: list[dict] = []
        missing = how.n
        if self.honours_n is not False:
            bodies.append(send(how.n))
            if wire.body_problem(bodies[0]):
                return bodies  # `wire.answer` says what is wrong with it
            missing -= len(bodies[0]["choices"])
            if missing > 0:
                self.honours_n = False
            elif self.honours_n is None:
                self.honours_n = True
        futures = [self._answers.submit(send, 1) for _ in range(max(missing, 0))]
        try:
            return bodies + [f.result() for f in futures]
        finally:  # after a failure, send nothing more for this item
            for f in futures:
                f.cancel()

    def _send(self, body: dict):
        """One request, holding one of the `concurrency` slots while it is on the wire."""
        with self._slots:
            completion = self._create(body)
        return completion.model_dump(warnings=False) if isinstance(completion, openai.BaseModel) else completion

    def _create(self, payload: dict):
        retry = -1
        while retry < self.max_retries:
            retry += 1
            if self._stop.is_set():
                raise Stopped()
            server = self._next_server()
            try:
                completion = server.client.chat.completions.create(**payload)
            except RETRYABLE as exc:
                if not _cannot_connect(exc):
                    server.reached = True
                elif self._leave_out(server, exc):
                    retry -= 1  # sent again at once to a server still in use: not a retry
                    continue
                elif not server.reached:
                    self._check_reachable(server, exc, last=retry == self.max_retries)
                if retry == self.max_retries:
                    raise
                wait_s = retry_wait_s(exc, retry, self.backoff_s, self.max_backoff_s)
                log.warning("%s; retry %d/%d in %.1fs", redact(_describe(exc)), retry + 1, self.max_retries, wait_s)
                if self._stop.wait(wait_s):  # Ctrl-C, SIGTERM: no need to sit out the back-off
                    raise Stopped() from None
                continue
            except Exception:  # a reply came back (4xx, a body that is not JSON): the server is there
                server.reached = True
                raise
            server.reached = True
            return completion
        raise AssertionError("unreachable")

    def _check_reachable(self, server: _Server, exc: Exception, last: bool) -> None:
        """Stop the run after `NOT_REACHED_GRACE_S` or the last retry (no error row: nothing was asked)."""
        now = time.monotonic()
        if server.first_connect_failure is None:
            server.first_connect_failure = now
        if not last and now - server.first_connect_failure + self.backoff_s <= NOT_REACHED_GRACE_S:
            return
        where = ", ".join(s.where for s in self._servers)
        raise UserError(f"nothing answers at {where} ({_connect_cause(exc)}): check that the server is running and "
                        "listening there (host and port of --base_url), that this machine can reach it (proxy, "
                        "firewall), and for https its certificate")


def retry_wait_s(exc: Exception, retry: int, backoff_s: float, max_backoff_s: float) -> float:
    """The server's `retry-after-ms` or `Retry-After` (seconds or an HTTP date) when given,
    else exponential back-off with jitter; never more than `max_backoff_s`."""
    wait_s = _retry_after_s(getattr(exc, "response", None))
    if wait_s is None:
        wait_s = backoff_s * 2 ** retry * (0.5 + random.random() / 2)
    return min(max(wait_s, 0.0), max_backoff_s)


def _failure(exc: Exception, latency_s: float) -> Failure:
    if isinstance(exc, json.JSONDecodeError):  # the client could not read the body as JSON
        reason, raw = f"reply is not valid JSON ({exc.msg} at char {exc.pos})", ""
    else:  # transient ones after their retries, 4xx, invalid bodies
        reason, raw = _describe(exc), str(getattr(exc, "body", "") or "")
    return Failure(redact(reason), redact(raw), usage=Usage(latency_s))


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc` and what it was raised from or during, outermost first."""
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def _cannot_connect(exc: BaseException) -> bool:
    """Whether no connection was made at all (refused, unknown host, TLS failure)."""
    return any(isinstance(e, CONNECT_FAILURES) or type(e).__name__ in CONNECT_FAILURE_NAMES for e in _chain(exc))


def _connect_cause(exc: BaseException) -> str:
    """The innermost reason for a connect failure, e.g. `[Errno 111] Connection refused`."""
    found = ""
    for seen in _chain(exc):
        found = str(seen).splitlines()[0][:160] if str(seen) else found or type(seen).__name__
    return redact(found or type(exc).__name__)


def _retry_after_s(response) -> float | None:
    headers = getattr(response, "headers", None) or {}
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        header = headers.get("retry-after")
        if not header:
            return None
        try:
            return float(header)
        except ValueError:
            when = parsedate_to_datetime(header)  # e.g. "Wed, 21 Oct 2015 07:28:00 GMT"
            return (when - datetime.now(timezone.utc)).total_seconds()
    except (ValueError, TypeError):
        return None


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    first = str(exc).splitlines()[0][:200] if str(exc) else ""
    return redact(f"{type(exc).__name__}{f' {status}' if status else ''}: {first}")
