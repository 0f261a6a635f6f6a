"""Stopping an API run: a server that is not there ends the run within seconds with one line,
and Ctrl-C / SIGTERM take effect within a few seconds whatever is in flight (a request on the
wire, a retry back-off), keeping every finished row. A server that answered once and then
went away still gets the ordinary bounded retries."""
from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest
from openai_server import FakeOpenAIServer

from utils.core.errors import UserError
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.results.table import read_table
from utils.probing.backends.api.backend import ApiBackend
from utils.probing.loop import ask
from utils.probing.methods.verbalized import Verbalized
from utils.probing.prompts import build_requests, load_prompt_set

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "code" / "RQ1" / "prob_by_api.py"


def closed_port_url() -> str:
    """A port that nothing listens on: bound, read, closed (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="module")
def requests():
    return build_requests(load_questionnaire(questionnaire_path())[:3], "verbalized", load_prompt_set())


def backend_for(base_url: str, **kw) -> ApiBackend:
    client = openai.OpenAI(api_key="sk-test", base_url=base_url, max_retries=0, timeout=10.0)
    return ApiBackend(client, "m", **kw)


def one(backend, request):
    [(_, result)] = ask(backend, Verbalized(), [request])
    return result


def script(tmp_path: Path, base_url: str, *extra: str) -> list[str]:
    return [sys.executable, str(API), "--model_name_or_path", "m", "--base_url", base_url,
            "--results-root", str(tmp_path), "--quiet", *extra]


def ok_rows(tmp_path: Path) -> list[str]:
    rows = read_table(tmp_path / "RQ1" / "m" / "results.csv").rows
    return sorted(r["id"] for r in rows if r["status"] == "ok")


# -- nothing answers ---------------------------------------------------------------------------
def test_never_reached_server_is_a_user_error_naming_the_url(requests):
    url = closed_port_url()
    started = time.monotonic()
    with pytest.raises(UserError, match=rf"^nothing answers at {url} \(.*refused.*\): check that the server"):
        one(backend_for(url, backoff_s=0.05), requests[0])
    assert time.monotonic() - started < 5  # the grace for a starting server, not 6 back-offs


SERVER = """
import sys, time
from openai_server import FakeOpenAIServer
with FakeOpenAIServer() as srv:
    print(srv.base_url, flush=True)
    time.sleep(600)
"""


def test_a_server_that_answered_once_keeps_the_retry_rules(requests, caplog):
    # The server in its own process, so that killing it closes its port and every open connection.
    srv = subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT / "tests", stdout=subprocess.PIPE, text=True)
    try:
        backend = backend_for(srv.stdout.readline().strip(), backoff_s=0.01, max_retries=3)
        assert one(backend, requests[0]).status == "ok"
    finally:
        srv.kill()
        srv.wait()
    caplog.set_level(logging.WARNING, logger="utils.probing.backends.api.backend")
    result = one(backend, requests[1])  # no UserError: recorded as this item's error after its retries
    assert result.status == "error" and result.error.startswith("APIConnectionError")
    assert sum("retry" in r.getMessage() for r in caplog.records) == 3


def test_closed_port_ends_the_script_within_seconds_keeping_rows(tmp_path):
    with FakeOpenAIServer() as srv:  # a first run leaves two finished rows
        first = subprocess.run(script(tmp_path, srv.base_url, "--limit", "2"), capture_output=True, text=True,
                               timeout=300, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    kept = ok_rows(tmp_path)
    assert len(kept) == 2
    url = closed_port_url()
    started = time.monotonic()
    proc = subprocess.run(script(tmp_path, url, "--limit", "40", "--concurrency", "4"), capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr
    assert elapsed < 15, f"{elapsed:.1f} s"
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"nothing answers at {url} " in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert ok_rows(tmp_path) == kept  # the rows already written stay, and nothing was added


# -- Ctrl-C and SIGTERM ------------------------------------------------------------------------
def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


SAMPLE = ("--method", "sample", "--samples", "5")  # a server that ignores `n`: 5 requests an item


@pytest.mark.parametrize(("sig", "concurrency", "then", "method"), [
    (signal.SIGINT, "1", ("sleep", 120.0), ()),
    (signal.SIGTERM, "4", ("sleep", 120.0), ()),
    (signal.SIGINT, "4", ("status", 503, {}), ()),  # every later request fails: items sit in back-off
    (signal.SIGTERM, "1", ("sleep", 120.0), SAMPLE),  # a fan-out request on the wire (its own thread)
], ids=["ctrl-c-in-flight", "sigterm-in-flight-4", "ctrl-c-in-backoff-4", "sigterm-sample-fan-out"])
def test_stop_takes_effect_within_seconds(tmp_path, sig, concurrency, then, method):
    results = tmp_path / "RQ1" / "m" / "results.csv"
    answered = 10 if method else 2  # requests of the two items that finish
    with FakeOpenAIServer(pick_one=bool(method), honour_n=not method) as srv:
        srv.script.extend([None] * answered + [then] * 400)  # two items answered, then slow replies or 503s
        proc = subprocess.Popen(script(tmp_path, srv.base_url, "--limit", "20", "--concurrency", concurrency,
                                       "--timeout", "300", *method), cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: results.exists() and len(ok_rows(tmp_path)) == 2 and len(srv.requests) > answered)
            if then[0] == "status":
                wait_for(lambda: len(srv.requests) >= 10)  # retries under way, back-offs growing
            else:
                wait_for(lambda: srv.in_flight >= 1)
            time.sleep(0.3)
            sent = time.monotonic()
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=30)
            stopped_in = time.monotonic() - sent
        finally:
            proc.kill()
    assert stopped_in < 5, f"{stopped_in:.1f} s"
    assert proc.returncode == (130 if sig == signal.SIGINT else 128 + signal.SIGTERM), err
    assert "finished rows are saved" in err and "Traceback" not in err
    assert len(ok_rows(tmp_path)) == 2  # the finished rows stay
