"""plotting.save writes the formats it is given, and nothing about them is remembered between calls."""
from __future__ import annotations

import pytest

from utils.analysis import flags
from utils.analysis.plotting import plt, save


def figure():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    return fig


def test_save_writes_exactly_the_given_formats(tmp_path):
    assert save(figure(), tmp_path, "a", ["png"]) == [tmp_path / "a.png"]
    assert save(figure(), tmp_path / "sub", "b", ["svg", "pdf"]) == [tmp_path / "sub" / "b.svg", tmp_path / "sub" / "b.pdf"]
    assert sorted(p.name for p in tmp_path.rglob("*.*")) == ["a.png", "b.pdf", "b.svg"]
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_formats_travel_with_the_arguments_not_the_module(tmp_path):
    """Two scripts in one process (as in the tests and the study runner): the second's
    --formats does not change what the first one's arguments say."""
    first = flags.parse_args(flags.parser("x", human_default=None), ["--formats", "svg"])
    second = flags.parse_args(flags.parser("x", human_default=None), ["--formats", "PNG, pdf"])
    assert first.formats == ["svg"] and second.formats == ["png", "pdf"]
    assert [p.suffix for p in save(figure(), tmp_path, "c", first.formats)] == [".svg"]


def test_bad_formats_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        flags.parse_args(flags.parser("x", human_default=None), ["--formats", "png,gif"])
    assert exc.value.code == 2 and "--formats takes png, pdf and/or svg" in capsys.readouterr().err
