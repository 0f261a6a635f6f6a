"""Bad input: each case is refused with one line that says what to do (exit 2), and nothing is
written or lost: the results folder is byte-for-byte what it was before the command.

The scripts' entry points are called in-process (`api_main`, `local_main`, `prepare_wvs.main`),
exactly as `code/RQ*/prob_by_*.py` call them; one case also goes through the real script.
"""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from openai_server import FakeOpenAIServer
from reliability_figures import report_figures
from wvs_fixtures import load_script, microdata

from utils.core.errors import UserError
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.records import ProbeResult
from utils.core.results.table import read_table
from utils.probing.cli import api_main, local_main
from utils.probing.conditions import steering_countries
from utils.probing.group_steering import group_phrases
from utils.probing.prompts import load_prompt_set
from utils.probing.results_store import COLUMNS, MAX_TEXT_CHARS, ResultStore, result_row
from utils.probing.survey_steering import survey_phrases

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = questionnaire_path("English")
FIGURES: Counter = Counter()
prepare_wvs = load_script("dataset/prepare_wvs.py")


_report = report_figures("bad_inputs", FIGURES)


@pytest.fixture(scope="module")
def srv():
    with FakeOpenAIServer() as s:
        yield s


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def call(main, argv: list[str], capsys, **kw) -> tuple[int, str]:
    try:
        rc = main(argv, **kw)
    except SystemExit as exc:  # argparse
        rc = exc.code
    return rc, capsys.readouterr().err


def assert_refused(rc: int, err: str, *needles: str) -> None:
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)


@pytest.fixture
def done_run(tmp_path, srv, capsys):
    """A results root holding a finished 5-item run, to show a bad command leaves it alone."""
    root = tmp_path / "results"
    rc, err = call(api_main, base_args(srv, root) + ["--limit", "5"], capsys)
    assert rc == 0, err
    return root


def base_args(srv, root: Path, model: str = "m") -> list[str]:
    return ["--model_name_or_path", model, "--base_url", srv.base_url, "--results-root", str(root), "--quiet"]


# -- questionnaires ------------------------------------------------------------------------------
def _edit_line(lines: list[bytes], n: int, fn) -> list[bytes]:
    obj = json.loads(lines[n])
    fn(obj)
    return lines[:n] + [json.dumps(obj, ensure_ascii=False).encode() + b"\n"] + lines[n + 1:]


QUESTIONNAIRES = {
    "malformed JSON line": (lambda ls: ls[:4] + [b'{"id": "Q5", "question": \n'] + ls[5:], "line 5: not valid JSON"),
    "non-UTF-8 bytes": (lambda ls: ls[:6] + [ls[6].replace(b"question", b"qu\xe9stion", 1)] + ls[7:],
                        "line 7: not UTF-8"),
    "answer shows other codes": (lambda ls: _edit_line(ls, 2, lambda o: o.update(answer=o["answer"] + "\n9. Other")),
                                 "line 3: item Q3 shows options"),
    "codes and options do not pair": (lambda ls: _edit_line(ls, 1, lambda o: o["choice_keys"].pop()), "line 2:"),
    "repeated option code": (lambda ls: _edit_line(ls, 1, lambda o: o.update(choice_keys=["1", "1", "3", "4"])),
                             "repeats an option code"),
    "order with other codes": (lambda ls: _edit_line(ls, 0, lambda o: o.update(order=["1", "2", "3", "7"])),
                               "line 1: item Q1 'order'"),
    "duplicate id": (lambda ls: ls[:3] + [ls[0]] + ls[4:], "line 4: item id Q1 appears twice"),
    "missing field": (lambda ls: _edit_line(ls, 7, lambda o: o.pop("choices")), "line 8: missing field(s) choices"),
    "unknown scale": (lambda ls: _edit_line(ls, 7, lambda o: o.update(scale="interval")), "scale must be"),
}


@pytest.mark.parametrize("case", list(QUESTIONNAIRES))
def test_bad_questionnaire(case, done_run, tmp_path, srv, capsys):
    edit, needle = QUESTIONNAIRES[case]
    qdir = tmp_path / "questions"
    qdir.mkdir()
    (qdir / "WV7_English.jsonl").write_bytes(b"".join(edit(ENGLISH.read_bytes().splitlines(keepends=True))))
    before = snapshot(done_run)
    rc, err = call(api_main, base_args(srv, done_run) + ["--questions-dir", str(qdir)], capsys)
    assert_refused(rc, err, needle, "WV7_English.jsonl")
    assert snapshot(done_run) == before
    FIGURES["bad inputs tried"] += 1
    FIGURES["bad questionnaires"] += 1


# -- flags ---------------------------------------------------------------------------------------
FLAGS = {
    "unknown country": (api_main, "RQ2", ["--country", "Narnia"], "unknown country 'Narnia'; choose one of: "),
    "unknown steering method": (api_main, "RQ2", ["--steering_method", "hypnosis"], "unknown steering method"),
    "unknown variant": (api_main, "RQ1", ["--variant", "sideways"], "unknown variant 'sideways'; choose one of: "),
    "unknown method": (local_main, "RQ1", ["--method", "telepathy"], "unknown method 'telepathy'; choose one of: "),
    "unknown item id": (api_main, "RQ1", ["--ids", "Q1,Q999"], "unknown item id(s) Q999"),
    "--limit 0": (api_main, "RQ1", ["--limit", "0"], "--limit must be at least 1"),
    "a key as a flag": (api_main, "RQ1", ["--api-key", "sk-abc"], "unrecognized arguments"),
    "a number that is not": (api_main, "RQ1", ["--concurrency", "many"], "'many' is not a whole number"),
    "--concurrency 0": (api_main, "RQ1", ["--concurrency", "0"], "must be at least 1, not 0"),
    "--batch-size 0": (local_main, "RQ1", ["--batch-size", "0"], "must be at least 1, not 0"),
}


@pytest.mark.parametrize("case", list(FLAGS))
def test_bad_flag(case, done_run, srv, capsys):
    main, experiment, extra, needle = FLAGS[case]
    before = snapshot(done_run)
    argv = (base_args(srv, done_run) if main is api_main else ["--results-root", str(done_run), "--quiet"]) + extra
    rc, err = call(main, argv, capsys, script=experiment)
    assert_refused(rc, err, needle)
    assert snapshot(done_run) == before
    FIGURES["bad inputs tried"] += 1
    FIGURES["bad flags"] += 1


# -- model names that would write outside the results root --------------------------------------
@pytest.mark.parametrize("model", ["../evil", "a/../../evil", "/tmp/evil-model-that-does-not-exist", "..", "",
                                   "../../../../etc", "a/./../.."])
def test_model_name_cannot_escape_the_results_root(model, tmp_path, srv, capsys):
    root = tmp_path / "root" / "results"
    root.mkdir(parents=True)
    rc, err = call(api_main, base_args(srv, root, model), capsys)
    assert_refused(rc, err, "cannot be used as a results folder")
    assert not any((tmp_path / "root").rglob("*.csv")) and not any(tmp_path.glob("evil*"))
    assert not Path("/tmp/evil-model-that-does-not-exist").exists()
    FIGURES["bad inputs tried"] += 1
    FIGURES["model names outside the results root"] += 1


# -- results files edited by hand -----------------------------------------------------------------
def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


def _write(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode()


def _set(row: int, column: str, value: str):
    def edit(data: bytes) -> bytes:
        rows = _rows(data)
        rows[row][COLUMNS.index(column)] = value
        return _write(rows)
    return edit


# (the edit, what the one line says is wrong, what it says to do)
RESULTS = {
    "other columns": (lambda d: b"id,answer\n" + d.split(b"\n", 1)[1], "does not have this toolkit's columns",
                      "move it away"),
    "a row short of fields": (lambda d: _write(_rows(d)[:2] + [_rows(d)[2][:5]] + _rows(d)[3:]),
                              "record 3 has 5 fields", "delete that row"),
    "a stray quote": (lambda d: d.replace(b',"[', b',"x"[', 1), "not a valid CSV record", "delete that row"),
    "an unknown status": (_set(2, "status", "done"), "status 'done'", "delete the row"),
    "ok without a distribution": (_set(3, "distribution", "{'1': 0.5"), "not a JSON mapping", "delete the row"),
    "ok summing to 2": (_set(3, "distribution", '{"1": 1.5, "2": 0.5}'), "sums to 2", "delete the row"),
    "a negative share": (_set(1, "distribution", '{"1": 1.5, "2": -0.5}'), "not a JSON mapping", "delete the row"),
    "an empty id": (_set(4, "id", ""), "has no id", "delete the row"),
    "non-UTF-8 bytes": (lambda d: d.replace(b"important", b"import\xe0nt", 1), "not a results file (not UTF-8",
                        "restore it or move it away"),
    "answered over other codes": (_set(1, "choice_keys", "['1', '2']"), "Q1 was answered over options",
                                  "delete that row"),
}


@pytest.mark.parametrize("case", list(RESULTS))
def test_hand_edited_results_file(case, done_run, srv, capsys):
    edit, needle, action = RESULTS[case]
    path = done_run / "RQ1" / "m" / "results.csv"
    path.write_bytes(edit(path.read_bytes()))
    before = snapshot(done_run)
    rc, err = call(api_main, base_args(srv, done_run) + ["--limit", "8"], capsys)
    assert_refused(rc, err, needle)
    assert action in err  # says what to do
    assert snapshot(done_run) == before
    FIGURES["bad inputs tried"] += 1
    FIGURES["hand-edited results files"] += 1


def test_a_torn_last_row_is_repaired_not_refused(done_run, srv, capsys):
    path = done_run / "RQ1" / "m" / "results.csv"
    data = path.read_bytes()
    path.write_bytes(data[:-40])  # as a kill in the middle of the last write would leave it
    rc, err = call(api_main, base_args(srv, done_run) + ["--limit", "5"], capsys)
    assert rc == 0, err
    assert [r["id"] for r in read_table(path).rows] == ["Q1", "Q2", "Q3", "Q4", "Q5"]


# -- WVS files -------------------------------------------------------------------------------------
def _wvs(tmp_path, df, raw_edit=None) -> tuple[int, str, Path]:
    src, out = tmp_path / "wvs.csv", tmp_path / "human" / "WV7.csv"
    df.to_csv(src, index=False)
    if raw_edit:
        src.write_bytes(raw_edit(src.read_bytes()))
    return prepare_wvs.main(["--wave", "7", "--input", str(src), "--output", str(out)]), "", out


WVS = {
    "no country column": (lambda df: df.drop(columns=["B_COUNTRY"]), None, "no country column B_COUNTRY; name it with --country-column"),
    "an item column missing": (lambda df: df.drop(columns=["Q46"]), None, "no column Q46"),
    "text labels in a numeric column": (lambda df: df.assign(Q1=df["Q1"].map(lambda v: f"Answer {v}")), None,
                                        "column Q1 holds text"),
    "non-UTF-8 bytes in the header": (lambda df: df, lambda b: b.replace(b"Q2,", b"Q\xff2,", 1), "no column Q2"),
}


@pytest.mark.parametrize("case", list(WVS))
def test_bad_wvs_file(case, tmp_path, capsys):
    df_edit, raw_edit, needle = WVS[case]
    rc, _, out = _wvs(tmp_path, df_edit(microdata(7)), raw_edit)
    assert_refused(rc, capsys.readouterr().err, needle)
    assert not out.exists() and not out.parent.exists()
    FIGURES["bad inputs tried"] += 1
    FIGURES["bad WVS files"] += 1


# -- answers of several megabytes --------------------------------------------------------------------
@pytest.mark.parametrize("size", [150_000, 5_000_000])
def test_an_answer_of_megabytes_is_stored_capped(size, tmp_path, capsys):
    """A runaway answer (5 MB) is recorded, capped to MAX_TEXT_CHARS in the file; the file stays
    readable. The answer is parsed before it is capped, on the full text: the parser reads up to
    200,000 characters, so 150 kB with its mapping at the end is `ok` and 5 MB is `too_long`."""
    mapping = "{'1': '40%', '2': '30%', '3': '20%', '4': '10%'}"
    content = "Let me think. " * (size // 14) + mapping
    with FakeOpenAIServer() as s:
        # Q1 first; unparsed, it is asked again after Q2, in each later attempt (Q2 answered as usual)
        s.script.extend([("content", content)] if size < 200_000 else
                        [("content", content), None, ("content", content), ("content", content)])
        rc, err = call(api_main, base_args(s, tmp_path) + ["--limit", "2"], capsys)
    assert rc == (0 if size < 200_000 else 1), err  # 1: a row is not ok (the 5 MB answer is unparsed)
    rows = read_table(tmp_path / "RQ1" / "m" / "results.csv").rows
    q1 = rows[0]
    assert len(q1["response"]) < MAX_TEXT_CHARS + 100 and len(q1["raw_text"]) < MAX_TEXT_CHARS + 100
    assert "characters cut" in q1["raw_text"] and q1["raw_text"].endswith(mapping)  # the answer's end is kept
    if size < 200_000:
        assert q1["status"] == "ok" and json.loads(q1["distribution"]) == {"1": 0.4, "2": 0.3, "3": 0.2, "4": 0.1}
    else:
        assert q1["status"] == "unparsed" and q1["error"] == "too_long" and q1["attempts"] == "3"
    assert rows[1]["status"] == "ok"
    assert (tmp_path / "RQ1" / "m" / "results.csv").stat().st_size < 1_000_000
    FIGURES["bad inputs tried"] += 1
    FIGURES["answers of 150 kB to 5 MB stored capped"] += 1


def test_a_file_with_an_uncapped_megabyte_field_still_loads(tmp_path):
    """Files written before the cap (or by hand) may hold fields over csv's 131,072 limit."""
    item = load_questionnaire(ENGLISH)[0]
    path = tmp_path / "results.csv"
    with ResultStore(path) as store:
        store.append(result_row(item, ProbeResult(item.id, "ok", {"1": 1.0, "2": 0, "3": 0, "4": 0}), "verbalized"))
    rows = _rows(path.read_bytes())
    rows[1][COLUMNS.index("raw_text")] = "x" * 1_000_000
    path.write_bytes(_write(rows))
    with ResultStore(path) as store:
        assert store.finished_ids() == {"Q1"}


def test_one_line_through_the_real_script(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "code" / "RQ2" / "prob_by_api.py"), "--model_name_or_path",
                           "m", "--base_url", "http://127.0.0.1:9/v1", "--country", "Atlantis",
                           "--results-root", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert_refused(proc.returncode, proc.stderr, "unknown country 'Atlantis'")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("read, relative, hint", [
    (lambda d: load_prompt_set("English", inputs_dir=d), "prompts/English.json", "needs its prompt files"),
    (lambda d: steering_countries(d), "steering/countries.json", "part of the project's inputs"),
    (lambda d: group_phrases("English", "Japan", ("sex", "female"), d), "groups/phrases/English.json",
     "no group phrases for English"),
    (lambda d: survey_phrases("United States", None, d), "surveys/phrases/English.json", "steer toward a survey"),
])
def test_an_input_file_absent_or_broken_is_one_line(tmp_path, read, relative, hint):
    """Every JSON file under inputs/ is read by one function: absent, the line says what to do; not
    JSON, the line names the file and the parser's complaint."""
    with pytest.raises(UserError) as absent:
        read(tmp_path)
    assert str(absent.value) == f"{tmp_path / relative} not found; " + str(absent.value).split("; ", 1)[1]
    assert hint in str(absent.value)
    (tmp_path / relative).parent.mkdir(parents=True)
    (tmp_path / relative).write_text("{'not': json}", encoding="utf-8")
    with pytest.raises(UserError) as broken:
        read(tmp_path)
    assert str(broken.value).startswith(f"{tmp_path / relative} is not valid UTF-8 JSON: Expecting property name")
    assert "\n" not in str(absent.value) + str(broken.value)
