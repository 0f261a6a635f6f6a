"""A run kept apart with `--run-name NAME` (`<results-root>/runs/NAME/`) does not join the default
analysis of the results root, and an analysis given the same `--run-name` reads it alone.

Two answers to Q1 (options 1-4 in their order) by one model `m`, against two countries:

    default root, logprob       [.7, .1, .1, .1]
    runs/t07, verbalized        [.1, .1, .1, .7]
    China (156)                 counts 8, 2, 0, 0
    Germany (276)               counts 0, 0, 2, 8

The scores are checked against 1 - W1/(N-1) computed here from the cumulative shares.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from answer_files import write_answers
from wvs_fixtures import load_script

from utils.core.results.tree import find_results

DEFAULT = [0.7, 0.1, 0.1, 0.1]
NAMED = [0.1, 0.1, 0.1, 0.7]
HUMAN = {(156, "China"): [8, 2, 0, 0], (276, "Germany"): [0, 0, 2, 8]}


def score(p, counts) -> float:
    """1 - W1/(N-1) over ordered options: the sum of absolute differences of the cumulative shares."""
    q = np.asarray(counts, float) / sum(counts)
    return 1 - np.abs(np.cumsum(p) - np.cumsum(q))[:-1].sum() / (len(p) - 1)


@pytest.fixture
def case(tmp_path):
    root = tmp_path / "results"
    ident = {"experiment": "RQ1", "model": "m", "steering_method": "none"}
    write_answers(root / "RQ1" / "m", ["Q1"], [DEFAULT], **ident)
    named = write_answers(root / "runs" / "t07" / "RQ1" / "m", ["Q1"], [NAMED], **ident)
    rows = named.read_text(encoding="utf-8").replace(",logprob,", ",verbalized,")  # asked the other way
    named.write_text(rows, encoding="utf-8")
    human = tmp_path / "WV7.csv"
    pd.DataFrame([{"wave": 7, "country_code": code, "country": name, "item_id": "Q1", "variable": "Q1",
                   "option": str(k + 1), "status": "valid", "count": n, "weighted_count": n}
                  for (code, name), counts in HUMAN.items() for k, n in enumerate(counts)]).to_csv(human, index=False)
    human.with_suffix(".meta.json").write_text(json.dumps({"wave": 7, "synthetic": True}))
    return root, human, tmp_path / "out"


def scores(out) -> dict[str, float]:
    df = pd.read_csv(out / "rq1_country_scores.csv")
    assert list(df["model"].unique()) == ["m"]
    return dict(zip(df["country"], df["score"]))


def test_the_walk_of_a_root_leaves_out_its_named_runs(case):
    root, _, _ = case
    assert [f.path for f in find_results(root)] == [root / "RQ1" / "m" / "results.csv"]
    assert [f.spec.method for f in find_results(root / "runs" / "t07")] == ["verbalized"]


def test_the_default_analysis_reads_the_root_and_run_name_reads_the_run(case, capsys):
    root, human, out = case
    mod = load_script("show_results/rq1_country_level.py")
    argv = ["--human", str(human), "--results-root", str(root), "--formats", "png", "--n-boot", "20"]
    assert mod.main(argv + ["--out", str(out / "default")]) == 0, capsys.readouterr().err
    got = scores(out / "default")
    assert got == pytest.approx({name: score(DEFAULT, c) for (_, name), c in HUMAN.items()}, abs=1e-6)
    assert mod.main(argv + ["--out", str(out / "named"), "--run-name", "t07"]) == 0, capsys.readouterr().err
    got = scores(out / "named")
    assert got == pytest.approx({name: score(NAMED, c) for (_, name), c in HUMAN.items()}, abs=1e-6)


def test_an_unknown_run_name_is_one_line_naming_the_runs_there(case, capsys):
    root, human, out = case
    mod = load_script("show_results/rq1_country_level.py")
    argv = ["--human", str(human), "--results-root", str(root), "--out", str(out), "--run-name", "t7"]
    assert mod.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no run named 't7'" in err and "the runs there: t07" in err, err


@pytest.mark.parametrize("script", ["parse_report", "report"])
def test_the_other_scripts_with_a_results_root_read_a_named_run_too(case, script, capsys):
    root, human, out = case
    mod = load_script(f"show_results/{script}.py")
    argv = ["--results-root", str(root), "--run-name", "t07"]
    if script == "parse_report":
        argv += ["--out", str(out / "parse_report.csv")]
        assert mod.main(argv) == 0, capsys.readouterr().err
        df = pd.read_csv(out / "parse_report.csv")
        assert list(df["probe_method"]) == ["verbalized"] * 4 and list(df["probability"]) == NAMED
    else:
        argv += ["--figures", str(out), "--human", str(human), "--out", str(out / "report.html")]
        assert mod.main(argv) == 0, capsys.readouterr().err
        page = (out / "report.html").read_text(encoding="utf-8")
        assert f"from results <code>{root / 'runs' / 't07'}</code>" in page and "in 1 results files" in page
