"""`--perturb` through the probing scripts: dry runs count the prompts, every member is its own
condition (folder and identity columns), resumable, and answers are mapped back to the codes by
the runner, checked with the API script against a real HTTP server."""
from __future__ import annotations

import json
import re

import numpy as np
import openai_server
import pytest
from openai_server import FakeOpenAIServer

from utils.analysis.answers import load_answers
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.results.table import read_table
from utils.core.results.tree import find_results
from utils.probing.cli import api_main, local_main
from utils.probing.prompts import render_messages
from utils.probing import perturb

IDS = "Q1,Q2,Q3,Q4,Q5,Q6"


def test_dry_run_counts_every_member(tmp_path, capsys):
    out = tmp_path / "prompts.jsonl"
    rc = local_main(["--perturb", "order:2", "--perturb", "labels", "--perturb", "examples:1", "--limit", "3",
                     "--dry-run", str(out)])
    assert rc == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 5 * 3 and "wrote 15 prompts for 5 condition(s)" in capsys.readouterr().out
    fams = [(r.get("perturb_family", ""), r.get("perturb_index", "")) for r in rows[::3]]
    assert fams == [("", ""), ("order", "1"), ("order", "2"), ("labels", "1"), ("examples", "1")]
    labelled = rows[9]["prompt"]
    assert "A. Very important" in labelled and "letter" in labelled
    # under logprob the examples member shows five made-up examples, each replying with one option
    shown = rows[12]["prompt"]
    assert shown.count("Example ") == 5 and re.search(r"^Reply: \d+$", shown, re.M)


def test_bad_perturb_flags_are_one_line(tmp_path, capsys):
    assert local_main(["--perturb", "colour:3", "--dry-run", str(tmp_path / "x.jsonl")]) == 2
    assert "write order:K" in capsys.readouterr().err
    assert local_main(["--perturb", "order:2", "--variant", "order", "--dry-run", str(tmp_path / "x.jsonl")]) == 2
    assert "without --variant" in capsys.readouterr().err


def _answers(monkeypatch, choose):
    monkeypatch.setattr(openai_server, "answer_for", openai_server.answer_picking(choose))


def _run(tmp_path, srv, *extra) -> int:
    return api_main(["--model_name_or_path", "test-model", "--base_url", srv.base_url, "--ids", IDS,
                     "--results-root", str(tmp_path), "--quiet", "--perturb", "order:3", "--perturb", "order:reversed",
                     *extra])


def _scores(root) -> dict[str, float]:
    items = [it for it in load_questionnaire(questionnaire_path()) if it.id in IDS.split(",")]
    human = np.random.default_rng(3).dirichlet(np.ones(4), size=len(items))  # Q1-Q6 have four options
    out = {}
    for f in find_results(root):
        ans = load_answers(f.path, [it.id for it in items], [it.order for it in items])
        cdf = np.abs(np.cumsum(ans, 1) - np.cumsum(human, 1)).sum(1)
        out[f.spec.prompt or "original"] = float(np.mean(1 - cdf / 3))
    return out


def test_the_runner_maps_answers_back_so_content_scores_the_same(tmp_path, monkeypatch):
    items = {it.question: dict(zip(it.choice_keys, it.choices))["2"] for it in load_questionnaire(questionnaire_path())}
    _answers(monkeypatch, lambda q, lines: next(lab for lab, text in lines if text == items[q]))
    with FakeOpenAIServer() as srv:
        assert _run(tmp_path, srv) == 0
        asked = len(srv.requests)
        assert asked == 5 * 6
        assert _run(tmp_path, srv) == 0 and len(srv.requests) == asked  # resumed: nothing asked again
    scores = _scores(tmp_path)
    assert set(scores) == {"original", "order-1@0", "order-2@0", "order-3@0", "reversed-1@0"}
    assert max(scores.values()) - min(scores.values()) < 1e-12
    rows = read_table(tmp_path / "Robustness" / "RQ1" / "reversed-1" / "test-model" / "results.csv").rows
    assert rows[0]["perturb_family"] == "reversed" and rows[0]["choice_keys"] == "['4', '3', '2', '1']"
    assert json.loads(rows[0]["distribution"]) == {"4": 0.0, "3": 0.0, "2": 1.0, "1": 0.0}


def test_a_first_option_picker_scores_differently_and_seeds_keep_apart(tmp_path, monkeypatch):
    _answers(monkeypatch, lambda q, lines: lines[0][0])
    with FakeOpenAIServer() as srv:
        assert _run(tmp_path, srv) == 0
        assert _run(tmp_path, srv, "--perturb", "order:1@7") == 0  # another seed: its own folder, not a conflict
    scores = _scores(tmp_path)
    assert "order-1@7" in scores and len({round(v, 9) for v in scores.values()}) > 2


def test_repeats_are_their_own_conditions(tmp_path, capsys):
    with FakeOpenAIServer(pick_one=True) as srv:
        argv = ["--model_name_or_path", "test-model", "--base_url", srv.base_url, "--ids", "Q1,Q2", "--quiet",
                "--method", "sample", "--samples", "8", "--results-root", str(tmp_path)]
        assert api_main(argv + ["--repeats", "3"]) == 0
        assert api_main(argv + ["--method", "logprob", "--repeats", "2"]) == 2
    assert "--repeats asks again" in capsys.readouterr().err
    files = {f.spec.prompt: f.path for f in find_results(tmp_path)}
    assert set(files) == {"", "#2", "#3"}
    rows = {k: read_table(p).rows for k, p in files.items()}
    assert [r["repeat"] for r in rows["#3"]] == ["3", "3"] and rows["#3"][0]["seed"] == ""  # an API server gets no seed
    counts = {k: [r["sample_counts"] for r in v] for k, v in rows.items()}
    assert len({json.dumps(c) for c in counts.values()}) > 1  # independent answers


def test_a_local_model_repeats_from_recorded_seeds(tmp_path, tiny_model_dir):
    """The tiny random model names no option (its rows are unparsed, exit 1), but what it wrote is
    kept, so the draws can be compared: the same seed draws the same, another seed not."""
    argv = ["--model_name_or_path", str(tiny_model_dir), "--ids", "Q1", "--quiet", "--method", "sample",
            "--samples", "4", "--sample-temperature", "50", "--max-new-tokens", "3", "--max-attempts", "1",
            "--repeats", "2"]
    assert local_main(argv + ["--results-root", str(tmp_path / "a")]) == 1
    assert local_main(argv + ["--results-root", str(tmp_path / "b")]) == 1
    a = {f.spec.prompt: read_table(f.path).rows[0] for f in find_results(tmp_path / "a")}
    b = {f.spec.prompt: read_table(f.path).rows[0] for f in find_results(tmp_path / "b")}
    assert {r["status"] for r in [*a.values(), *b.values()]} == {"unparsed"}
    assert a["#2"]["seed"] == "1" and a["#2"]["repeat"] == "2" and a[""]["seed"] == ""
    assert a[""]["raw_text"] == b[""]["raw_text"] and a["#2"]["raw_text"] == b["#2"]["raw_text"]
    assert a[""]["raw_text"] != a["#2"]["raw_text"]
