"""figures.style.save and tables.write_csv write what their Output says (folder, formats, metric
and rules in the name), nothing about one script's flags is remembered for the next, and the look
is set per figure: importing the analysis or drawing a figure leaves matplotlib as it was."""
from __future__ import annotations

import subprocess
import sys

import matplotlib
import pandas as pd
import pytest

from utils.analysis import cli
from utils.analysis.figures.style import STYLE, figure, save, styled
from utils.analysis.tables import Output, write_csv


def drawn():
    fig, ax = figure((2, 2))
    ax.plot([0, 1], [1, 0])
    return fig


def test_save_writes_exactly_the_given_formats(tmp_path):
    assert save(drawn(), Output(tmp_path, ("png",)), "a") == [tmp_path / "a.png"]
    assert save(drawn(), Output(tmp_path / "sub", ("svg", "pdf")), "b") == [tmp_path / "sub" / "b.svg",
                                                                          tmp_path / "sub" / "b.pdf"]
    assert sorted(p.name for p in tmp_path.rglob("*.*")) == ["a.png", "b.pdf", "b.svg"]
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_a_non_default_metric_and_the_papers_rules_name_every_file(tmp_path):
    out = Output(tmp_path, ("png",), "jsd")
    assert save(drawn(), out, "rq1") == [tmp_path / "rq1_jsd.png"]
    assert write_csv(pd.DataFrame({"a": [1]}), out, "rq1_scores.csv") == tmp_path / "rq1_scores_jsd.csv"
    assert write_csv(pd.DataFrame({"a": [1]}), Output(tmp_path), "rq1_scores.csv") == tmp_path / "rq1_scores.csv"
    paper = Output(tmp_path, suffix="_paper_compat")
    assert write_csv(pd.DataFrame({"a": [1]}), paper, "rq1.csv") == tmp_path / "rq1_paper_compat.csv"


def test_outputs_travel_with_the_arguments_not_the_module(tmp_path):
    """Two scripts in one process (as in the tests and the study runner): the second's flags
    do not change what the first one's arguments say."""
    first, _ = cli.parse("sensitivity", ["--formats", "svg", "--metric", "tvd", "--out", str(tmp_path)], "x")
    second, _ = cli.parse("sensitivity", ["--formats", "PNG, pdf", "--paper-compat"], "x")
    assert first.output == Output(tmp_path, ("svg",), "tvd")
    assert second.output.formats == ("png", "pdf") and second.output.metric == "w1"
    assert second.output.suffix == "_paper_compat" and first.output.suffix == "" and second.rules.paper
    assert [p.name for p in save(drawn(), first.output, "c")] == ["c_tvd.svg"]


def test_bad_formats_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.parse("sensitivity", ["--formats", "png,gif"], "x")
    assert exc.value.code == 2 and "--formats takes png, pdf and/or svg" in capsys.readouterr().err


def test_paper_compat_refuses_flags_it_would_ignore(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.parse("sensitivity", ["--paper-compat", "--metric", "jsd"], "x")
    assert exc.value.code == 2 and "cannot be combined with --metric" in capsys.readouterr().err


def test_the_style_holds_while_a_figure_is_drawn_only():
    before = dict(matplotlib.rcParams)

    @styled
    def font_size():
        return matplotlib.rcParams["font.size"]

    assert font_size() == STYLE["font.size"] != before["font.size"]
    assert dict(matplotlib.rcParams) == before


def test_importing_the_analysis_sets_no_backend_and_no_style():
    """Every analysis module imported in a fresh interpreter: matplotlib keeps its defaults and
    pyplot is never imported (no backend chosen, no window system touched)."""
    code = ("import matplotlib, sys; rc = lambda: {k: dict.__getitem__(matplotlib.rcParams, k) for k in "
            "dict.keys(matplotlib.rcParams)}; before = rc(); import utils.analysis.registry, utils.analysis.cli; "
            "pyplot = 'matplotlib.pyplot' in sys.modules; print([k for k, v in rc().items() if before[k] != v], pyplot)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(cli.__file__).rsplit("/utils/", 1)[0]).stdout.strip()
    assert out == "[] False"
