"""A real HTTP server on 127.0.0.1 that speaks the chat-completions protocol, for tests.

It is not a mock of our code: the `openai` client talks to it over TCP exactly as it would to
vLLM or llama.cpp. By default it answers every question with a deterministic distribution
over the option numbers it finds in the prompt; `script` entries let a test inject faults
(429 with or without Retry-After, 500/503, malformed answers, invalid JSON, dropped
connections, slow replies) for the next requests:

    ("status", 503, {"Retry-After": "0"})   an error reply with that status and headers
    "drop"                                  close the connection without a reply
    "invalid_json"                          200 with a body that is not JSON
    ("content", "text")                     200 whose answer is that text
    ("body", {...})                         200 with exactly that JSON body (no choices, null content...)
    ("sleep", 2.0)                          wait that long, then answer normally (client timeouts)
    ("echo_key", 401)                       an error whose message repeats the request's key, as some
                                            servers do ("Incorrect API key provided: sk-...")

`stop_after=K` stops the server once it has answered K requests, as a replica that dies mid-run:
it stops listening (new connections are refused) and drops every request on a connection still
open. `faults_served` counts the script entries used, so tests can report how many faults they injected.

For the `sample` method: `pick_one=True` makes every answer one respondent's pick, a single option
code drawn from `answer_for(prompt)` (or, with probability `unreadable`, a sentence naming no
option); draws come from a generator seeded by the prompt and the draw count, so a run is
repeatable. The request field `n` is honoured (n choices in one reply, as OpenAI and vLLM do)
unless `honour_n=False`, which answers one choice whatever `n` says, as llama.cpp's server does.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OPTION_LINE = re.compile(r"^(\w+)\. ", re.M)


def options_in(prompt: str) -> list[str]:
    """Option codes of the real question: the numbered lines after the last 'Options:'."""
    tail = prompt.rsplit("Options:", 1)[-1]
    return OPTION_LINE.findall(tail)


def answer_for(prompt: str) -> dict[str, float]:
    """A deterministic distribution (percent) over the prompt's options, keyed by its hash."""
    keys = options_in(prompt) or ["1", "2"]
    seed = hashlib.sha256(prompt.encode()).digest()
    weights = [1 + seed[i % len(seed)] for i in range(len(keys))]
    total = sum(weights)
    return {k: round(100 * w / total, 2) for k, w in zip(keys, weights)}


def answer_picking(choose):
    """An `answer_for` replacement: 100% on the option line that `choose(question, [(label, text), ...])`
    picks, for tests whose model must prefer one option whatever order or labels it is shown in."""
    def answer(prompt: str) -> dict[str, float]:
        question = re.findall(r"^Question: (.*)$", prompt, re.M)[-1]
        lines = re.findall(r"^(\w+)\. (.*)$", prompt.rsplit("Options:", 1)[-1], re.M)
        pick = choose(question, lines)
        return {label: 100.0 if label == pick else 0.0 for label, _ in lines}
    return answer


class FakeOpenAIServer:
    """`with FakeOpenAIServer() as srv:` then point a client at `srv.base_url`."""

    def __init__(self, delay_s: float = 0.0, logprobs: bool = True, *, pick_one: bool = False,
                 honour_n: bool = True, unreadable: float = 0.0, stop_after: int | None = None):
        self.delay_s, self.logprobs = delay_s, logprobs
        self.stop_after, self.stopped, self.answered = stop_after, threading.Event(), 0
        self.pick_one, self.honour_n, self.unreadable = pick_one, honour_n, unreadable
        self.draws = 0  # answers drawn in pick_one mode
        self.in_flight = self.max_in_flight = 0  # requests being answered now, and the most at once
        self.script: deque = deque()  # entries consumed one per request: see _fault
        self.requests: list[dict] = []
        self.auth_headers: list[str] = []
        self.faults_served = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else small replies wait ~40 ms for the client's delayed ACK

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                server._batch_endpoint(self, "GET", b"")

            def do_POST(self):
                if server.stopped.is_set():  # a stopped server answers nothing, not even on an open connection
                    self.close_connection = True
                    return
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                if not self.path.endswith("/chat/completions"):
                    return server._batch_endpoint(self, "POST", data)
                body = json.loads(data or b"{}")
                with server._lock:
                    server.requests.append(body)
                    server.auth_headers.append(self.headers.get("Authorization", ""))
                    fault = server.script.popleft() if server.script else None
                    server.faults_served += fault is not None
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    server._respond(self, body, fault)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    self.close_connection = True
                finally:
                    with server._lock:
                        server.in_flight -= 1
                        server.answered += 1
                        stop = server.stop_after is not None and server.answered >= server.stop_after
                    if stop:
                        server.stop()

        self.batch_store = BatchStore(self)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "FakeOpenAIServer":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        self._closing.join()

    def stop(self) -> None:
        """Stop listening now (from any thread, the handler's included); later requests get no reply."""
        with self._lock:
            if self.stopped.is_set():
                return
            self.stopped.set()

        def close():  # shutdown() waits for serve_forever, which a handler thread must not do
            self.httpd.shutdown()
            self.httpd.server_close()  # from here on, connections are refused
        self._closing = threading.Thread(target=close, daemon=True)
        self._closing.start()

    # -- replies ------------------------------------------------------------------------
    def _respond(self, h: BaseHTTPRequestHandler, body: dict, fault) -> None:
        if self.delay_s:
            time.sleep(self.delay_s)
        prompt = body["messages"][-1]["content"]
        kind = fault[0] if isinstance(fault, tuple) else fault
        if kind == "sleep":
            time.sleep(fault[1])
        if kind == "status":  # ("status", code, headers)
            return self._send(h, fault[1], {"error": {"message": f"injected {fault[1]}"}}, fault[2])
        if kind == "echo_key":
            key = h.headers.get("Authorization", "").removeprefix("Bearer ")
            return self._send(h, fault[1], {"error": {"message": f"Incorrect API key provided: {key}",
                                                      "type": "invalid_request_error", "code": "invalid_api_key"}})
        if kind == "body":
            return self._send(h, 200, fault[1])
        if fault == "drop":
            h.close_connection = True
            h.connection.shutdown(2)
            return None
        if fault == "invalid_json":
            return self._send_raw(h, 200, b"{not json")
        return self._send(h, 200, self.completion_for(body, fault))

    def completion_for(self, body: dict, fault=None) -> dict:
        """The chat completion answering `body` (`fault`: a ("content", text) entry, or None)."""
        prompt = body["messages"][-1]["content"]
        content = fault[1] if isinstance(fault, tuple) and fault[0] == "content" else None
        dist = answer_for(prompt)
        n = max(1, int(body.get("n") or 1)) if self.honour_n else 1
        if content is not None:
            contents = [content] * n
        elif self.pick_one and not body.get("logprobs"):
            contents = self._picks(prompt, dist, n)
        else:
            contents = ["{" + ", ".join(f"'{k}': '{v}%'" for k, v in dist.items()) + "}"] * n
        content = contents[0]
        choices = [{"index": i, "message": {"role": "assistant", "content": c}, "finish_reason": "stop"}
                   for i, c in enumerate(contents)]
        choice = choices[0]
        if body.get("logprobs") and self.logprobs:
            choice["logprobs"] = {"content": self._logprob_steps(dist, body.get("top_logprobs") or 5)}
            choice["message"]["content"] = max(dist, key=dist.get)
        reply = {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                 "model": body.get("model", "test"), "choices": choices,
                 "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(content) // 4,
                           "total_tokens": len(prompt) // 4 + len(content) // 4}}
        return reply

    def _batch_endpoint(self, h: BaseHTTPRequestHandler, verb: str, data: bytes) -> None:
        status, obj, *headers = self.batch_store.handle(verb, h.path, h.headers, data)
        if isinstance(obj, bytes):
            return self._send_raw(h, status, obj)
        return self._send(h, status, obj, *headers)

    def _picks(self, prompt: str, dist: dict[str, float], n: int) -> list[str]:
        """`n` respondents' answers: a code drawn by `dist`'s weights, or a sentence naming none."""
        with self._lock:
            first, self.draws = self.draws, self.draws + n
        out = []
        for i in range(first, first + n):
            rng = random.Random(f"{hashlib.sha256(prompt.encode()).hexdigest()}:{i}")
            if rng.random() < self.unreadable:
                out.append("I would rather not say.")
            else:
                out.append(rng.choices(list(dist), weights=list(dist.values()))[0])
        return out

    @staticmethod
    def _logprob_steps(dist: dict[str, float], top: int) -> list[dict]:
        """One step whose top_logprobs are the options (codes as whole tokens)."""
        import math
        ranked = sorted(dist.items(), key=lambda kv: -kv[1])[:top]
        tops = [{"token": k, "logprob": math.log(v / 100), "bytes": None} for k, v in ranked]
        return [{"token": ranked[0][0], "logprob": tops[0]["logprob"], "bytes": None, "top_logprobs": tops}]

    @staticmethod
    def _send(h, status: int, obj: dict, headers: dict | None = None) -> None:
        FakeOpenAIServer._send_raw(h, status, json.dumps(obj).encode(), headers)

    @staticmethod
    def _send_raw(h, status: int, data: bytes, headers: dict | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)


from batch_server import BatchStore  # noqa: E402  (it reads answers through the server above)

if __name__ == "__main__":  # `python tests/openai_server.py` serves until interrupted
    import sys
    delay = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    with FakeOpenAIServer(delay_s=delay) as srv:
        print(srv.base_url, flush=True)
        threading.Event().wait()
