"""A results.csv cut off mid-row (a full disk, an interrupted copy) is named as such (issue 20, §2):
the analysis says the last row is incomplete, at which line, and that rerunning the probing
command repairs it; the probing command, when it repairs such a file, says so in one line."""
from __future__ import annotations

import logging

import pytest
from test_figures import HUMAN, KEYS, write_human
from wvs_fixtures import load_script

from utils.core.errors import UserError
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.records import ProbeResult
from utils.core.results.table import read_complete
from utils.probing.results_store import ResultStore, result_row


def ok_row(item):
    dist = {k: 0.0 for k in item.choice_keys}
    dist[item.choice_keys[0]] = 1.0
    return result_row(item, ProbeResult(item.id, "ok", dist, response=str(dist)), "verbalized")


def stored(path, items) -> int:
    """Write `items` through the store; return the size of the file before the last record."""
    with ResultStore(path) as store:
        for it in items[:-1]:
            store.append(ok_row(it))
        before = path.stat().st_size
        store.append(ok_row(items[-1]))
    return before


def line_of_byte(data: bytes, offset: int) -> int:
    """The physical line (1-based) that byte `offset` is on: newlines before it, plus one."""
    return data[:offset].count(b"\n") + 1


@pytest.fixture(scope="module")
def items():
    by_id = {it.id: it for it in load_questionnaire(questionnaire_path())}
    return [by_id[i] for i in KEYS]  # Q1, Q57, Q119: the items the human fixture has


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.95])
def test_analysis_names_a_torn_last_row_and_the_repair(tmp_path, items, keep, capsys):
    path = tmp_path / "results" / "RQ1" / "m1" / "results.csv"
    path.parent.mkdir(parents=True)
    before = stored(path, items)
    data = path.read_bytes()
    path.write_bytes(data[: before + int(keep * (len(data) - before))])  # cut inside the last record
    line = line_of_byte(data, before)
    with pytest.raises(UserError) as exc:
        read_complete(path)
    text = str(exc.value)
    assert f"the last row (line {line}) is incomplete" in text and "rerun the probing command" in text
    assert "mixes conditions" not in text
    script = load_script("show_results/rq1_country_level.py")
    human = write_human(tmp_path / "WV7.csv", HUMAN)
    argv = ["--human", str(human), "--results-root", str(tmp_path / "results"), "--out", str(tmp_path / "o"),
            "--formats", "png", "--min-coverage", "0"]
    assert script.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"line {line}) is incomplete" in err and "mixes conditions" not in err


def test_a_complete_file_is_read(tmp_path, items):
    path = tmp_path / "results.csv"
    stored(path, items)
    assert [r["id"] for r in read_complete(path).rows] == [it.id for it in items]


def test_the_store_says_in_one_line_that_it_repaired_a_torn_row(tmp_path, items, caplog):
    path = tmp_path / "results.csv"
    before = stored(path, items)
    data = path.read_bytes()
    path.write_bytes(data[: before + (len(data) - before) // 2])
    with caplog.at_level(logging.WARNING, logger="utils.probing.results_store"):
        with ResultStore(path) as store:
            assert set(store.rows) == {it.id for it in items[:-1]}
    lines = [r.getMessage() for r in caplog.records if "cut off mid-row" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert f"the last row (line {line_of_byte(data, before)}) was incomplete" in lines[0]
    assert "asked again" in lines[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="utils.probing.results_store"):  # repaired: quiet now
        with ResultStore(path):
            pass
    assert not [r for r in caplog.records if "cut off mid-row" in r.getMessage()]
    assert [r["id"] for r in read_complete(path).rows] == [it.id for it in items[:-1]]
