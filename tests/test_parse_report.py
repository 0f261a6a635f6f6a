"""parse_report.py over our own results and over the original release's."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.records import ProbeResult
from utils.core.results.tree import describe
from utils.probing.results_store import ResultStore, result_row

SCRIPT = Path(__file__).resolve().parents[1] / "show_results" / "parse_report.py"


def report(root: Path, out: Path) -> tuple[list[dict], str]:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--results-root", str(root), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    with out.open() as fh:
        return list(csv.DictReader(fh)), proc.stdout


def test_layout_is_read_from_paths(tmp_path):
    f = describe(tmp_path / "RQ2" / "persona" / "China" / "Qwen" / "Q-7B" / "results.csv", tmp_path).spec
    assert (f.experiment, f.condition, f.country, f.model) == ("RQ2", "persona", "China", "Qwen/Q-7B")
    f = describe(tmp_path / "Discussion" / "sensitivity" / "order" / "m" / "results.csv", tmp_path).spec
    assert (f.experiment, f.condition, f.country, f.model) == ("sensitivity", "order", None, "m")


def test_tidy_rows_for_our_results(tmp_path):
    items = load_questionnaire(questionnaire_path())[:2]
    dist = {"1": 0.3, "2": 0.123456789012, "3": 0.576543210988, "4": 0.0}  # full precision, as logprob writes it
    with ResultStore(tmp_path / "RQ1" / "org" / "m" / "results.csv") as store:
        store.append(result_row(items[0], ProbeResult("Q1", "ok", dist, response="{'1': '30%', '2': '12.35%'}"),
                                "logprob"))
        store.append(result_row(items[1], ProbeResult("Q2", "unparsed", None, response="no idea"), "logprob"))
    rows, stdout = report(tmp_path, tmp_path / "out.csv")
    q1 = [r for r in rows if r["id"] == "Q1"]
    assert [(r["option"], r["probability"]) for r in q1] == [("1", "0.3"), ("2", "0.123456789012"),
                                                             ("3", "0.576543210988"), ("4", "0")]
    assert {(r["probe_method"], r["remap"]) for r in rows} == {("logprob", "")}
    assert {(r["experiment"], r["method"], r["country"], r["model"]) for r in rows} == {("RQ1", "none", "", "org/m")}
    q2 = [r for r in rows if r["id"] == "Q2"]
    assert len(q2) == 1 and q2[0]["option"] == "" and q2[0]["status"] == "no_mapping"
    assert "overall: 1/2 parsed" in stdout


def test_paper_release_parses(reference, tmp_path):
    rows, stdout = report(reference / "results", tmp_path / "paper.csv")
    line = [x for x in stdout.splitlines() if x.startswith("overall")][0]
    ok, total = map(int, line.split()[1].split("/"))
    assert total >= 1200 and ok / total >= 0.995
    assert {r["model"] for r in rows} >= {"Qwen/Qwen2.5-72B-Instruct", "gpt-4", "deepseek-reasoner"}


def test_missing_results_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--results-root", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "prob_by" in proc.stderr


def test_no_float_noise(tmp_path):
    """'8.47%' / 100 is 0.08470000000000001 in floating point; the report writes 0.0847."""
    from test_answers import release, write

    write(tmp_path / "RQ1" / "m" / "results.csv", [release("Q57", ["1", "2"], {"1": 8.47, "2": 91.53})])
    rows, _ = report(tmp_path, tmp_path / "out.csv")
    assert 8.47 / 100 != 0.0847 and [r["probability"] for r in rows] == ["0.0847", "0.9153"]
    assert "0000000" not in (tmp_path / "out.csv").read_text()


def test_renumbered_options_are_named_in_the_report(tmp_path):
    """A Korean answer file numbering Q122's options 1, 2, 3 (WVS codes 2, 1, 0)."""
    from test_answers import release, write

    path = write(tmp_path / "RQ2" / "language" / "Korea" / "m" / "results.csv", [
        release("Q122", ["1", "2", "3"], {"1": 20, "2": 30, "3": 50}), release("Q1", ["1", "2", "3", "4"], {"1": 100})])
    rows, stdout = report(tmp_path, tmp_path / "out.csv")
    q122 = [(r["option"], r["file_option"], r["probability"], r["remap"]) for r in rows if r["id"] == "Q122"]
    assert q122 == [("2", "1", "0.2", "by_position"), ("1", "2", "0.3", "by_position"), ("0", "3", "0.5", "by_position")]
    assert {r["remap"] for r in rows if r["id"] == "Q1"} == {""}
    notes = [x for x in stdout.splitlines() if "mapped by position" in x]
    assert len(notes) == 1 and str(path) in notes[0] and "(Q122)" in notes[0]


def test_a_large_tree_is_summed_up_per_condition(tmp_path):
    """Issue 28: on the release (372 files) the report printed one line per file, 423 lines. Beyond
    12 files it prints the files with something to say (up to 12 lines), one line per experiment
    and condition, and how many lines it left out; every row stays in the CSV."""
    from test_answers import release, write

    keys = ["1", "2", "3", "4"]
    for i in range(15):  # complete
        write(tmp_path / "RQ1" / f"m{i}" / "results.csv", [release("Q1", keys, {"1": 100})])
    for i in range(14):  # one row unreadable each
        write(tmp_path / "RQ2" / "persona" / "Japan" / f"m{i}" / "results.csv",
              [release("Q1", keys, {"1": 100}), release("Q57", ["1", "2"], {"9": 100})])
    rows, stdout = report(tmp_path, tmp_path / "out.csv")
    lines = stdout.splitlines()
    assert len({r["model"] for r in rows}) == 15 and len(rows) == 15 * 4 + 14 * (4 + 1)  # every row, by option
    # every file lacks most of the questionnaire: the first 12 are shown, the other 17 counted
    assert sum("of the questionnaire's 144 items absent" in x for x in lines) == 12
    assert [x.split() for x in lines if " files  " in x] == [["RQ1", "none", "15", "files", "15/15", "parsed", "(100.00%)"],
                                                           ["RQ2", "persona", "14", "files", "14/28", "parsed", "(50.00%)"]]
    assert "17 more line(s) on files with rows not parsed" in stdout and lines[-2].startswith("overall: 29/43 parsed")
    assert lines[-1] == f"wrote {tmp_path / 'out.csv'}" and len(lines) == 12 + 2 + 2 + 1
