"""The run loop: identity on each row, nothing loaded when nothing is left, a quiet log off a terminal."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from openai_server import FakeOpenAIServer

from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.records import ProbeRequest, ProbeResult
from utils.probing.cli import api_config, api_prober_factory
from utils.core.results.spec import Decoding, Experiment, RunSpec
from utils.probing.identity import prompt_sha256
from utils.probing.prompts import build_requests, load_prompt_set
from utils.probing.results_store import ResultStore
from utils.probing.runner import run_requests
from utils.probing.study import build_conditions, run_conditions

ROOT = Path(__file__).resolve().parents[1]


class Uniform:
    """A prober answering every item with equal shares (the protocol, nothing of ours)."""

    method = "verbalized"

    def __init__(self):
        self.asked: list[str] = []

    def probe(self, request: ProbeRequest, attempt: int = 1) -> ProbeResult:
        self.asked.append(request.item.id)
        keys = request.item.choice_keys
        return ProbeResult(request.item.id, "ok", {k: 1 / len(keys) for k in keys})


@pytest.fixture(scope="module")
def requests():
    items = load_questionnaire(questionnaire_path())[:3]
    return build_requests(items, "verbalized", load_prompt_set("English"))


def test_each_row_gets_the_run_identity_and_its_own_prompt_hash(tmp_path, requests):
    ident = RunSpec(Experiment.RQ1, model="org/m", language="English", decoding=Decoding("0", "512"))
    with ResultStore(tmp_path / "results.csv") as store:
        run_requests(Uniform(), requests, store, progress=False, identity=ident.columns())
        rows = list(store.rows.values())
    assert [r["prompt_sha256"] for r in rows] == [prompt_sha256(r.messages) for r in requests]
    assert len({r["prompt_sha256"] for r in rows}) == 3
    for row in rows:
        assert {k: row[k] for k in ident.columns()} == ident.columns()


def test_nothing_left_to_do_loads_no_model(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-runner-000000")
    with FakeOpenAIServer() as srv:
        config = api_config(["--model_name_or_path", "org/m", "--base_url", srv.base_url,
                             "--results-root", str(tmp_path), "--limit", "2", "--quiet"], "RQ1")
        _, make = api_prober_factory(config)
        conditions = build_conditions(config)
        assert run_conditions(config, "org/m", make, conditions) == 0

        def must_not_load():
            raise AssertionError("the model was loaded with nothing left to do")

        capsys.readouterr()
        assert run_conditions(config, "org/m", must_not_load, conditions) == 0
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
