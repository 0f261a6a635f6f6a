"""The run loop: identity on each row, re-asks in the next attempt's batch, nothing loaded when
nothing is left, a quiet log off a terminal."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openai
import pytest
from openai_server import FakeOpenAIServer

from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.results.spec import Decoding, Experiment, RunSpec
from utils.probing.backends.api import api_backend
from utils.probing.backends.api.backend import ApiBackend
from utils.probing.cli import api_config
from utils.probing.grid import plan_for
from utils.probing.identity import prompt_sha256
from utils.probing.loop import ask, run_condition, run_conditions
from utils.probing.methods.verbalized import Verbalized
from utils.probing.prompts import build_requests, load_prompt_set
from utils.probing.results_store import ResultStore

ROOT = Path(__file__).resolve().parents[1]


class Recording:
    """A real backend whose `generate` calls are recorded: (item ids, temperature) per call."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def generate(self, requests, how):
        self.calls.append(([r.item.id for r in requests], how.temperature))
        return self.inner.generate(requests, how)


@pytest.fixture(scope="module")
def requests():
    items = load_questionnaire(questionnaire_path())[:6]
    return build_requests(items, "verbalized", load_prompt_set("English"))


def api(srv: FakeOpenAIServer) -> ApiBackend:
    return ApiBackend(openai.OpenAI(api_key="k", base_url=srv.base_url, max_retries=0), "m")


def test_each_row_gets_the_run_identity_and_its_own_prompt_hash(tmp_path, requests):
    ident = RunSpec(Experiment.RQ1, model="org/m", language="English", decoding=Decoding("0", "512"))
    with FakeOpenAIServer() as srv, ResultStore(tmp_path / "results.csv") as store:
        run_condition(api(srv), Verbalized(), requests[:3], store, progress=False, identity=ident.columns())
        rows = list(store.rows.values())
    assert [r["prompt_sha256"] for r in rows] == [prompt_sha256(r.messages) for r in requests[:3]]
    assert len({r["prompt_sha256"] for r in rows}) == 3
    for row in rows:
        assert {k: row[k] for k in ident.columns()} == ident.columns()


def test_unreadable_answers_are_asked_again_together_at_the_retry_temperature(requests):
    """Q2 and Q4 are unreadable at first: the next attempt's batch holds exactly them, at the
    retry temperature; a third attempt asks only the one still unreadable (one request at a time,
    so the server's script is consumed in this order)."""
    bad = ("content", "no idea")
    with FakeOpenAIServer() as srv:
        srv.script.extend([None, bad, None, bad, None, None,  # attempt 1: Q1..Q6
                           bad, None,  # attempt 2: Q2, Q4
                           None])  # attempt 3: Q2
        backend = Recording(api(srv))
        got = dict(ask(backend, Verbalized(temperature=0.0, retry_temperature=0.7), requests, max_attempts=3))
    assert backend.calls == [([r.item.id for r in requests], 0.0), (["Q2", "Q4"], 0.7), (["Q2"], 0.7)]
    assert {r.item.id: (res.status, res.attempts) for r, res in got.items()} == \
        {"Q1": ("ok", 1), "Q2": ("ok", 3), "Q3": ("ok", 1), "Q4": ("ok", 2), "Q5": ("ok", 1), "Q6": ("ok", 1)}


def test_nothing_left_to_do_loads_no_model(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-runner-000000")
    with FakeOpenAIServer() as srv:
        config = api_config(["--model_name_or_path", "org/m", "--base_url", srv.base_url,
                             "--results-root", str(tmp_path), "--limit", "2", "--quiet"], "RQ1")
        _, make = api_backend(config)
        plan = plan_for(config)
        assert run_conditions(config, plan, "org/m", make) == 0

        def must_not_load():
            raise AssertionError("the model was loaded with nothing left to do")

        capsys.readouterr()
        assert run_conditions(config, plan, "org/m", must_not_load) == 0
    out = capsys.readouterr().out
    assert "nothing left to do: all 2 items of 1 condition(s) already have ok rows" in out


def test_progress_bar_does_not_flood_a_log(tmp_path):
    """stderr to a file: the bar is drawn at its start and end, not at every item."""
    with FakeOpenAIServer(delay_s=0.03) as srv:
        proc = subprocess.run([sys.executable, str(ROOT / "code" / "RQ1" / "prob_by_api.py"), "--model_name_or_path",
                               "m", "--base_url", srv.base_url, "--results-root", str(tmp_path), "--limit", "40"],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path,
                              env={**os.environ, "OPENAI_API_KEY": "sk-test-runner-000000"})
    assert proc.returncode == 0, proc.stderr
    draws = proc.stderr.count("probing (")
    assert 1 <= draws <= 3, proc.stderr
    assert "40/40" in proc.stderr  # the last draw says where the run ended
