"""Prober for OpenAI-compatible chat-completions servers: OpenAI, DeepSeek, vLLM, llama.cpp, Ollama.

The payload is built and the reply is read by pure functions (`build_payload`,
`read_completion`), so tests can check them against fixed dicts; `APIProber.probe` only adds
the network call and bounded retries. Retries cover exactly the transient errors a server
names: 429 (waiting `Retry-After` when given), timeouts, dropped connections and 5xx. Anything
else, and a transient error that outlives the retries, becomes a recorded `error` row: other
4xx, a body that is not JSON or not a chat completion (no `choices`, a `choices` that is not a
list...), and any other `openai.APIError`. Error texts pass through `redact`, since some
servers echo the key in them ("Incorrect API key provided: sk-...").

Method `sample` asks for `samples` answers with the request field `n`, or one request per answer
where the server ignores `n` (`api_sampling.FanOut`), and reads them with `sampling`.

A server that is not there: while nothing has ever answered (no reply of any kind, not even
an error status), failures to connect (refused, unknown host, TLS failure) are retried for
`NOT_REACHED_GRACE_S` only (a server may be starting), then the run stops with one line naming
the base URL (a `UserError`), instead of ~49 s of back-off per item for a whole run of error
rows. Once anything has answered, today's retry rules apply to every
error, dropped connections included. `stop()` (the runner calls it on Ctrl-C, SIGTERM or a
`UserError`) ends any back-off wait at once and sends nothing more.
"""
from __future__ import annotations

import json
import logging
import os
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import openai

from utils.core.errors import Stopped, UserError
from utils.core.parsing import parse_distribution
from utils.core.records import ProbeRequest, ProbeResult, SurveyItem
from utils.core.secrets import redact, register_secret
from utils.probing.backends.api.fan_out import FanOut, choice_texts
from utils.probing.methods.logprob import (
    distribution_text,
    logprob_record,
    normalize_log_scores,
    scores_from_top_logprobs,
)
from utils.probing.methods.sample import MAX_ANSWER_TOKENS, sample_result

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


def build_payload(request: ProbeRequest, model: str, temperature: float, max_tokens: int | None,
                  top_logprobs: int = 20, n: int = 1) -> dict:
    """`n` > 1 (method `sample`) asks for that many answers to the one prompt. `max_tokens=None`
    sends no limit (the server's own, as the paper's release asks)."""
    payload = {"model": model, "messages": [{"role": m.role, "content": m.content} for m in request.messages],
               "temperature": temperature}
    if max_tokens is not None:
        payload["max_tokens"] = max_tokens
    if request.method == "logprob":
        payload.update(logprobs=True, top_logprobs=top_logprobs, max_tokens=min(max_tokens or 3, 3))
    if request.method == "sample":  # one option code per answer: a few tokens are enough
        payload["max_tokens"] = min(max_tokens or MAX_ANSWER_TOKENS, MAX_ANSWER_TOKENS)
        if n > 1:
            payload["n"] = n
    return payload


def read_completion(body: dict, request: ProbeRequest) -> tuple[str, str, dict[str, float] | None, str]:
    """`(response, raw_text, distribution, error)` from a chat-completions body (as a dict).

    For the logprob method `response` is the distribution written as a verbalized answer
    (`{'1': '61.2%', ...}`), so every results file can be re-read by one parser; the text the
    model generated and the option log-probs go to `raw_text`.
    """
    keys = request.item.choice_keys
    choices = body.get("choices") or []
    if not choices:
        return "", "", None, "reply has no choices"
    msg = choices[0].get("message") or {}
    content, reasoning = _text(msg.get("content")), _text(msg.get("reasoning_content"))
    if not content and msg.get("refusal"):  # OpenAI's structured refusal: no content at all
        return "", f"[refusal] {_text(msg['refusal'])}", None, "refusal"
    raw = f"<think>{reasoning}</think>{content}" if reasoning else content
    if request.method == "verbalized":
        parsed = parse_distribution(content, keys)
        return content, raw, parsed.distribution, "" if parsed.ok else parsed.status
    steps = ((choices[0].get("logprobs") or {}).get("content")) or []
    if not steps:
        return content, raw, None, "server sent no logprobs; use --method verbalized with this server"
    positions = [{t["token"]: t["logprob"] for t in (s.get("top_logprobs") or [])} or {s["token"]: s["logprob"]}
                 for s in steps]
    generated = [s["token"] for s in steps]
    scores = scores_from_top_logprobs(positions, generated, keys)
    raw = logprob_record(content, scores)
    try:
        dist = normalize_log_scores(scores, keys)
    except ValueError:
        return content, json.dumps({"content": content, "top_logprobs": positions[0]}), None, \
            "no option code among the top log-probabilities"
    return distribution_text(dist), raw, dist, ""


class APIProber:
    """Asks one chat-completions model; thread-safe (the openai client is).

    `reader` (the paper's release protocol: `ReleaseProtocol.result`) reads a verbalized reply's
    content in place of `read_completion`; with `retry_temperature == temperature` a re-ask is the
    same request again, as the release re-asks."""

    def __init__(self, client: openai.OpenAI, model: str, method: str, *, temperature: float = 0.0,
                 retry_temperature: float = 0.7, max_tokens: int | None = 512, max_retries: int = 6,
                 backoff_s: float = 1.0, max_backoff_s: float = 60.0, samples: int = 40,
                 sample_temperature: float = 1.0, concurrency: int = 1,
                 reader: Callable[[SurveyItem, str | None, str], ProbeResult] | None = None):
        self.client, self.model, self.method, self.reader = client, model, method, reader
        self.samples, self.sample_temperature = samples, sample_temperature  # method `sample`
        self._fan_out = FanOut(concurrency) if method == "sample" else None
        self.temperature, self.retry_temperature = temperature, retry_temperature
        self.max_tokens, self.max_retries = max_tokens, max_retries
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self._reached = False  # has the server ever answered anything (a reply, an error status)?
        self._first_connect_failure: float | None = None
        self._stop = threading.Event()

    def stop(self) -> None:
        """End every back-off wait now and send nothing more (threads in a request finish it
        or are dropped with the process)."""
        self._stop.set()

    def probe(self, request: ProbeRequest, attempt: int = 1) -> ProbeResult:
        if self.method == "sample":
            return self._probe_sample(request)
        # A greedy re-ask would return the same unparseable text, so re-asks sample.
        temp = self.temperature if attempt == 1 else max(self.temperature, self.retry_temperature)
        payload = build_payload(request, self.model, temp, self.max_tokens)
        start = time.monotonic()

        def failed(reason: str, raw: str = "") -> ProbeResult:
            return ProbeResult(request.item.id, "error", None, raw_text=redact(raw), error=redact(reason),
                               latency_s=time.monotonic() - start)

        try:
            completion = self._create(payload)
        except openai.APIError as exc:  # transient ones after their retries, 4xx, invalid bodies
            return failed(_describe(exc), str(getattr(exc, "body", "") or ""))
        except json.JSONDecodeError as exc:  # the client could not read the body as JSON
            return failed(f"reply is not valid JSON ({exc.msg} at char {exc.pos})")
        body = completion.model_dump(warnings=False) if hasattr(completion, "model_dump") else completion
        problem = _body_problem(body)
        if problem:
            return failed(problem, json.dumps(body, default=str)[:10_000])
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        if self.reader is not None and request.method == "verbalized":
            content = body["choices"][0]["message"].get("content")
            result = self.reader(request.item, None if content is None else _text(content), _text(content))
            return replace(result, response=redact(result.response), raw_text=redact(result.raw_text),
                           latency_s=time.monotonic() - start, prompt_tokens=_count(usage.get("prompt_tokens")),
                           completion_tokens=_count(usage.get("completion_tokens")))
        try:
            response, raw, dist, err = read_completion(body, request)
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:  # odd logprobs etc.
            return failed(f"malformed reply ({type(exc).__name__}: {exc})", json.dumps(body, default=str)[:10_000])
        return ProbeResult(request.item.id, "ok" if dist is not None else "unparsed", dist,
                           response=redact(response), raw_text=redact(raw), error=err,
                           latency_s=time.monotonic() - start,
                           prompt_tokens=_count(usage.get("prompt_tokens")),
                           completion_tokens=_count(usage.get("completion_tokens")))

    def _probe_sample(self, request: ProbeRequest) -> ProbeResult:
        """`samples` answers at `sample_temperature` (one request with `n`, or one per answer
        where the server ignores `n`: utils.probing.backends.api.fan_out.py), read as option codes."""
        start = time.monotonic()

        def send(n: int) -> dict:
            completion = self._create(build_payload(request, self.model, self.sample_temperature, self.max_tokens,
                                                    n=n))
            body = completion.model_dump(warnings=False) if hasattr(completion, "model_dump") else completion
            problem = _body_problem(body)
            if problem:
                raise _BadReply(problem, json.dumps(body, default=str)[:10_000])
            return body

        try:
            bodies = self._fan_out.gather(send, self.samples)
        except (openai.APIError, json.JSONDecodeError, _BadReply) as exc:
            if isinstance(exc, _BadReply):
                reason, raw = exc.reason, exc.raw
            elif isinstance(exc, json.JSONDecodeError):
                reason, raw = f"reply is not valid JSON ({exc.msg} at char {exc.pos})", ""
            else:
                reason, raw = _describe(exc), str(getattr(exc, "body", "") or "")
            return ProbeResult(request.item.id, "error", None, raw_text=redact(raw), error=redact(reason),
                               latency_s=time.monotonic() - start)
        usages = [b["usage"] for b in bodies if isinstance(b.get("usage"), dict)]
        return sample_result(request.item.id, [redact(t) for t in choice_texts(bodies, self.samples)],
                             request.item.choice_keys, latency_s=time.monotonic() - start,
                             prompt_tokens=sum(_count(u.get("prompt_tokens")) for u in usages),
                             completion_tokens=sum(_count(u.get("completion_tokens")) for u in usages))

    def _create(self, payload: dict):
        for retry in range(self.max_retries + 1):
            if self._stop.is_set():
                raise Stopped()
            try:
                completion = self.client.chat.completions.create(**payload)
            except RETRYABLE as exc:
                if not _cannot_connect(exc):
                    self._reached = True
                elif not self._reached:
                    self._check_reachable(exc, last=retry == self.max_retries)
                if retry == self.max_retries:
                    raise
                wait = self._wait_s(exc, retry)
                log.warning("%s; retry %d/%d in %.1fs", redact(_describe(exc)), retry + 1, self.max_retries, wait)
                if self._stop.wait(wait):  # Ctrl-C, SIGTERM: no need to sit out the back-off
                    raise Stopped() from None
                continue
            except Exception:  # a reply came back (4xx, a body that is not JSON): the server is there
                self._reached = True
                raise
            self._reached = True
            return completion
        raise AssertionError("unreachable")

    def _check_reachable(self, exc: Exception, last: bool) -> None:
        """A connect failure while nothing has answered: after `NOT_REACHED_GRACE_S`, or when
        this request has no retry left, stop the run (no error row: nothing was asked)."""
        now = time.monotonic()
        if self._first_connect_failure is None:
            self._first_connect_failure = now
        if not last and now - self._first_connect_failure + self.backoff_s <= NOT_REACHED_GRACE_S:
            return
        cause = _connect_cause(exc)
        where = str(self.client.base_url).rstrip("/")
        raise UserError(f"nothing answers at {where} ({cause}): check that the server is running and listening "
                        "there (host and port of --base_url), that this machine can reach it (proxy, firewall), "
                        "and for https its certificate")

    def _wait_s(self, exc: Exception, retry: int) -> float:
        """The server's `retry-after-ms` or `Retry-After` (seconds or an HTTP date) when given,
        else exponential back-off with jitter; never more than `max_backoff_s`."""
        wait = _retry_after_s(getattr(exc, "response", None))
        if wait is None:
            wait = self.backoff_s * 2 ** retry * (0.5 + random.random() / 2)
        return min(max(wait, 0.0), self.max_backoff_s)


def _cannot_connect(exc: BaseException) -> bool:
    """Whether no connection was made at all (refused, unknown host, TLS failure)."""
    seen = exc
    while seen is not None:
        if isinstance(seen, CONNECT_FAILURES) or type(seen).__name__ in CONNECT_FAILURE_NAMES:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _connect_cause(exc: BaseException) -> str:
    """The innermost reason for a connect failure, e.g. `[Errno 111] Connection refused`."""
    seen, text = exc, ""
    while seen is not None:
        text = str(seen).splitlines()[0][:160] if str(seen) else text or type(seen).__name__
        seen = seen.__cause__ or seen.__context__
    return redact(text or type(exc).__name__)


def _retry_after_s(response) -> float | None:
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
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


class _BadReply(Exception):
    """A reply that is not a chat completion we can read (`_body_problem`), with its body."""

    def __init__(self, reason: str, raw: str):
        super().__init__(reason)
        self.reason, self.raw = reason, raw


def _body_problem(body) -> str:
    """Why `body` is not a chat completion we can read, or "" if it is."""
    if not isinstance(body, dict):
        return f"reply is a JSON {type(body).__name__}, not a chat completion object"
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        return "reply has no choices"
    if not isinstance(choices[0], dict) or not isinstance(choices[0].get("message"), dict):
        return "reply's first choice has no message"
    return ""


def _text(value) -> str:
    """A message field as text: servers send null, and the odd one a number or a list."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _count(value) -> int:
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        return 0


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return redact(f"{type(exc).__name__}{f' {status}' if status else ''}: {text}")
