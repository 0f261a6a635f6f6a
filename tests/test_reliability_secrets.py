"""Secrets: a canary key, set only in the environment, is used but never written anywhere.

Checked places: results.csv, run_meta.json, the lock file, stdout and stderr with DEBUG logging
(which includes the openai and HTTP libraries' own logs), tracebacks, and the study's dry run
(which reads the key to say whether it is set); also when the server echoes the key back in an
error or an answer, as some servers do.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections import Counter
from pathlib import Path

import openai
import pytest
from openai_server import FakeOpenAIServer
from reliability_figures import report_figures
from study_files import head

from utils.core.errors import UserError
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.results.table import read_table
from utils.probing.backends.api.backend import ApiBackend, make_client, resolve_endpoint
from utils.probing.cli import main_guard
from utils.probing.prompts import build_requests, load_prompt_set
from utils.probing.results_store import ResultStore
from utils.probing.loop import ask, run_condition
from utils.probing.methods.verbalized import Verbalized

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "code" / "RQ1" / "prob_by_api.py"
STUDY = ROOT / "code" / "run_study.py"
FIGURES: Counter = Counter()


_report = report_figures("secrets", FIGURES)


def canary() -> str:
    return f"sk-canary-{uuid.uuid4().hex}"


def assert_no_leak(key: str, **places: str) -> None:
    for name, text in places.items():
        FIGURES["places checked"] += 1
        assert key not in text, f"the key leaked into {name}"
        # nor a recognizable piece of it
        assert key[-16:] not in text, f"part of the key leaked into {name}"


def files_text(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text(errors="replace") for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("key_env", ["OPENAI_API_KEY", "MY_LAB_CREDENTIAL"])
def test_canary_key_never_written_even_when_the_server_echoes_it(tmp_path, key_env):
    key = canary()
    env = {**{k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}, key_env: key}
    args = [sys.executable, str(API), "--model_name_or_path", "m", "--results-root", str(tmp_path / "results"),
            "--limit", "6", "--log-level", "DEBUG", "--max-retries", "1", "--api-key-env", key_env]
    with FakeOpenAIServer() as srv:
        srv.script.extend([
            ("echo_key", 401),                                  # Q1: "Incorrect API key provided: sk-..."
            ("echo_key", 500), None,                            # Q2: echoed in a retried 500 (logged), then ok
            ("content", f"My key is {key}. {{'1': '100%'}}"),   # Q3: echoed in the answer itself
            ("echo_key", 503), ("echo_key", 503),               # Q4: echoed until retries run out
        ])
        proc = subprocess.run(args + ["--base_url", srv.base_url], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=300)
        assert srv.auth_headers and all(h == f"Bearer {key}" for h in srv.auth_headers)  # it was used
    rows = {r["id"]: r for r in read_table(tmp_path / "results" / "RQ1" / "m" / "results.csv").rows}
    assert "401" in rows["Q1"]["error"] and "[redacted]" in rows["Q1"]["error"]
    assert rows["Q2"]["status"] == "ok" and "[redacted]" in rows["Q3"]["response"]
    assert "503" in rows["Q4"]["error"] and "retry 1/1" in proc.stderr
    assert_no_leak(key, stdout=proc.stdout, stderr=proc.stderr, **files_text(tmp_path / "results"))
    meta = json.loads((tmp_path / "results" / "RQ1" / "m" / "run_meta.json").read_text())
    assert meta["arguments"]["api_key_env"] == key_env  # the variable's name, never its value
    FIGURES["server echoes of the key"] += 5
    FIGURES["key leaks"] += 0


@pytest.mark.parametrize("key_env", ["OPENAI_API_KEY", "MY_LAB_CREDENTIAL"])
def test_study_dry_run_reads_the_key_and_prints_only_its_name(tmp_path, key_env):
    """`run_study.py --dry-run` is the one dry run that reads the key: it checks that a hosted
    model's key is set and lists it among the inputs, by the variable's name alone."""
    key = canary()
    config = tmp_path / "study.toml"
    config.write_text(head(tmp_path, "secret", limit=3, quiet=False) + textwrap.dedent(f"""
        [[models]]
        name = "hosted"
        backend = "api"
        model_name_or_path = "gpt-4o"
        api_key_env = "{key_env}"
        [experiments.RQ1]
        [human]
        synthetic = true
        """), encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}, key_env: key}
    proc = subprocess.run([sys.executable, str(STUDY), "--config", str(config), "--dry-run", "--log-level", "DEBUG"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    # the key was read: the variable is listed as set (unset, the line says MISSING)
    assert any(line.split()[:4] == ["ok", "API", "key", key_env] for line in proc.stdout.splitlines()), proc.stdout
    assert_no_leak(key, stdout=proc.stdout, stderr=proc.stderr, **files_text(tmp_path))


def test_a_key_typed_as_a_flag_is_refused_without_echo(tmp_path):
    """Keys come only from the environment; `--api-key` is not a flag (nor an abbreviation of
    `--api-key-env`), and the refusal does not repeat the key when it is the one in the environment."""
    key = canary()
    proc = subprocess.run([sys.executable, str(API), "--model_name_or_path", "m", "--api-key", key,
                           "--results-root", str(tmp_path)], capture_output=True, text=True,
                          env={**os.environ, "OPENAI_API_KEY": key}, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and "unrecognized arguments" in proc.stderr
    assert_no_leak(key, stderr=proc.stderr, stdout=proc.stdout)
    assert not any(tmp_path.rglob("*.json"))


def test_tracebacks_and_errors_are_redacted(capsys, monkeypatch):
    key = canary()
    monkeypatch.setenv("OPENAI_API_KEY", key)
    make_client(resolve_endpoint("gpt-4o", None, None))  # registers the key as a secret

    @main_guard
    def crashes(argv=None):
        raise RuntimeError(f"request to https://api.example.com failed; headers {{'Authorization': 'Bearer {key}'}}")

    @main_guard
    def refuses(argv=None):
        raise UserError(f"the server said: Incorrect API key provided: {key}")

    assert crashes([]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError" in err and "[redacted]" in err
    assert_no_leak(key, traceback=err)
    assert refuses([]) == 2
    assert_no_leak(key, user_error=capsys.readouterr().err)


def test_an_unexpected_exception_with_the_key_is_stored_redacted(tmp_path, server, monkeypatch):
    key = canary()
    monkeypatch.setenv("OPENAI_API_KEY", key)
    client = make_client(resolve_endpoint("m", server.base_url, None))
    backend = ApiBackend(client, "m")

    def broken(**payload):
        raise RuntimeError(f"proxy rejected Authorization: Bearer {key}")
    monkeypatch.setattr(backend.client.chat.completions, "create", broken)
    reqs = build_requests(load_questionnaire(questionnaire_path())[:2], "verbalized", load_prompt_set())
    with ResultStore(tmp_path / "results.csv") as store:
        summary = run_condition(backend, Verbalized(), reqs, store, progress=False)
    assert summary.errors == 2
    assert_no_leak(key, results=(tmp_path / "results.csv").read_text())


def test_an_openai_error_echoing_the_key_is_redacted(server):
    key = canary()
    client = openai.OpenAI(api_key=key, base_url=server.base_url, max_retries=0, timeout=10)
    from utils.core.secrets import register_secret
    register_secret(key)
    server.script.append(("echo_key", 403))
    req = build_requests(load_questionnaire(questionnaire_path())[:1], "verbalized", load_prompt_set())[0]
    [(_, res)] = ask(ApiBackend(client, "m"), Verbalized(), [req])
    assert res.status == "error" and "403" in res.error
    assert_no_leak(key, error=res.error, raw_text=res.raw_text)
