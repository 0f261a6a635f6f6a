"""A study with `[analysis] by = "age"` end to end: synthetic human data prepared with age groups,
an API model behind a real OpenAI-protocol server, the group figures in the report."""
from __future__ import annotations

import textwrap

import pandas as pd
from study_files import api_model, head
from test_report import read_page
from test_run_study import run_study_main

from utils.study.study_file import load_study


def group_study(tmp_path, base_url: str) -> str:
    text = """
    [experiments.RQ1]

    [experiments.RQ2]
    countries = ["Japan"]
    steering_methods = ["persona", "few-shot-unnamed"]
    groups = ["age=18-29"]

    [human]
    synthetic = true
    respondents = 150
    min_group_n = 40

    [analysis]
    formats = "png"
    min_coverage = 0
    by = "age"
    only = ["rq1_country_level", "rq1_groups", "rq2_steering"]

    [analysis.scripts.rq1_groups]
    n_boot = 100
    n_perm = 99
    """
    path = tmp_path / "groups.toml"
    path.write_text(head(tmp_path) + api_model(base_url) + textwrap.dedent(text), encoding="utf-8")
    return str(path)


def test_study_with_by_age_shows_the_group_figures(tmp_path, capsys):
    from openai_server import FakeOpenAIServer

    with FakeOpenAIServer() as srv:
        config = group_study(tmp_path, srv.base_url)
        assert load_study(config).human.groups == ("age",)  # the synthetic tables get the groups scored
        assert run_study_main()(["--config", config]) == 0, capsys.readouterr().out
    figures = tmp_path / "figures" / "verbalized"
    scores = pd.read_csv(figures / "rq1_group_scores.csv")
    assert set(scores["group"]) == {"18-29", "30-49", "50+"} and (scores["n_respondents"] >= 40).all()
    assert len(pd.read_csv(figures / "rq1_groups.csv")) == 1
    # persona names the group; few-shot-unnamed does not, so it runs for the whole country only
    steered = pd.read_csv(figures / "rq2_group_steering.csv")
    assert steered[["country", "method", "group"]].values.tolist() == [["Japan", "persona", "18-29"]]
    assert sorted(p.relative_to(tmp_path / "results" / "verbalized").parts[:4] for p in
                  (tmp_path / "results" / "verbalized" / "RQ2").rglob("results.csv")) == [
        ("RQ2", "few-shot-unnamed", "Japan", "model-a"), ("RQ2", "persona", "Japan", "age=18-29"),
        ("RQ2", "persona", "Japan", "model-a")]
    page = read_page(tmp_path / "report.html")
    assert len(page.images) == 8  # country (three), group and RQ2 figures (table, gains, group steering), with captions
    assert any("(rq1_group_scores.png). RQ1 by respondent group (--by)" in c for c in page.captions)
    assert any("(rq1_groups.png). RQ1 by respondent group, across countries" in c for c in page.captions)
    cells = {cell for t in page.tables for row in t["rows"] for cell in row}
    assert "persona/Japan/age=18-29" in cells and "persona/Japan" in cells  # the coverage table tells them apart
