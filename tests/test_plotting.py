"""plotting.save and write_csv write what their Output says (folder, formats, metric in the name),
and nothing about one script's flags is remembered for the next."""
from __future__ import annotations

import pandas as pd
import pytest

from utils.analysis import flags
from utils.analysis.plotting import Output, plt, save, write_csv


def figure():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    return fig


def test_save_writes_exactly_the_given_formats(tmp_path):
    assert save(figure(), Output(tmp_path, ("png",)), "a") == [tmp_path / "a.png"]
    assert save(figure(), Output(tmp_path / "sub", ("svg", "pdf")), "b") == [tmp_path / "sub" / "b.svg",
                                                                           tmp_path / "sub" / "b.pdf"]
    assert sorted(p.name for p in tmp_path.rglob("*.*")) == ["a.png", "b.pdf", "b.svg"]
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_a_non_default_metric_names_every_file(tmp_path):
    out = Output(tmp_path, ("png",), "jsd")
    assert save(figure(), out, "rq1") == [tmp_path / "rq1_jsd.png"]
    assert write_csv(pd.DataFrame({"a": [1]}), out, "rq1_scores.csv") == tmp_path / "rq1_scores_jsd.csv"
    assert write_csv(pd.DataFrame({"a": [1]}), Output(tmp_path), "rq1_scores.csv") == tmp_path / "rq1_scores.csv"


def test_outputs_travel_with_the_arguments_not_the_module(tmp_path):
    """Two scripts in one process (as in the tests and the study runner): the second's flags
    do not change what the first one's arguments say."""
    first = flags.parse_args(flags.parser("x", human_default=None), ["--formats", "svg", "--metric", "tvd",
                                                                     "--out", str(tmp_path)])
    second = flags.parse_args(flags.parser("x", human_default=None), ["--formats", "PNG, pdf"])
    assert first.output == Output(tmp_path, ("svg",), "tvd")
    assert second.output.formats == ("png", "pdf") and second.output.metric == "w1"
    assert [p.name for p in save(figure(), first.output, "c")] == ["c_tvd.svg"]


def test_bad_formats_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        flags.parse_args(flags.parser("x", human_default=None), ["--formats", "png,gif"])
    assert exc.value.code == 2 and "--formats takes png, pdf and/or svg" in capsys.readouterr().err


def test_paper_compat_refuses_flags_it_would_ignore(capsys):
    with pytest.raises(SystemExit) as exc:
        flags.parse_args(flags.parser("x", human_default=None), ["--paper-compat", "--metric", "jsd"])
    assert exc.value.code == 2 and "cannot be combined with --metric" in capsys.readouterr().err
