"""Coverage lines and the --min-coverage floor, and every show_results script on an empty,
header-only, garbled or cut-short results file: one line and exit code 2, or the coverage line."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from test_figures import HUMAN, M1, M2, _steering_inputs, write_human, write_results
from wvs_fixtures import load_script

from utils.analysis import coverage
from utils.analysis.answers import answer_policy
from utils.analysis.config import AnalysisConfig
from utils.analysis.coverage import Coverage, Said
from utils.core.errors import UserError

# Every script in show_results/, so a new one is tested too (its setup below if it needs more),
# except report.py: the study's HTML page lists each file's state, an unreadable one included.
# survey_human_pairs reads an imported survey's human table alone; survey_scores reads results of an
# imported survey, not these WVS ones (tests/test_survey_run.py tests its unusable and cut-short files).
NOT_READERS = {"report", "survey_human_pairs", "survey_scores"}
SCRIPTS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "show_results").glob("*.py")
                 if p.stem not in NOT_READERS)
SCORING = [s for s in SCRIPTS if s != "parse_report"]
HEADER = "id,question,choices,choice_keys,answer,type,response\n"
BAD = {  # content -> what the one line says
    "empty": (b"", "is empty"),
    "header-only": (HEADER.encode(), "has a header but no rows"),
    "not-utf8": (bytes(range(256)) * 4, "not a results file (not UTF-8"),
    "other-columns": (b"name,age\nBob,3\nAda,4\n",
                      "does not have this toolkit's columns (no id, choice_keys, response column)"),
}


def test_coverage_line_and_ratio():
    cov = Coverage("f.csv", 6)
    for item, reason in [("Q1", "scored"), ("Q2", "scored"), ("Q3", "unparsed"), ("Q4", "error"),
                         ("Q5", "absent"), ("Q6", "not asked")]:
        cov.add(item, reason)
    assert cov.ratio == pytest.approx(2 / 5)  # not asked items are not held against the file
    assert cov.line() == ("f.csv: 2/6 items scored (40.0% of the 5 the human data asked); "
                          "left out: 1 not asked (Q6), 1 unparsed (Q3), 1 error (Q4), 1 absent (Q5)")


def test_a_file_is_said_once():
    said = Said()
    cov = Coverage("f.csv", 2, scored=["Q1"])
    said.coverage(cov)
    said.coverage(cov)  # read again (RQ2 reads a model's RQ1 file once per country)
    said.note("a note")
    said.note("a note")
    assert said.shown() == ["coverage f.csv: 1/2 items scored (50.0%)", "note: a note"] and said.summary() == ""


def test_answer_policy_checks_the_floor():
    with pytest.raises(UserError, match="--min-coverage is a fraction between 0 and 1, not 90"):
        answer_policy(AnalysisConfig(min_coverage=90))
    p = answer_policy(AnalysisConfig(min_coverage=0.5, probe_method="logprob", questions_dir=None))
    assert (p.min_coverage, p.probe_method, p.asked) == (0.5, "logprob", None)


def setup(tmp_path: Path, script: str) -> tuple[list[str], Path]:
    """A results root with m1's RQ1 answers (and what the script needs), the script's command
    line, and the results file it reads that a test makes bad."""
    res, out = tmp_path / "results", tmp_path / "out"
    human = write_human(tmp_path / "WV7.csv")
    write_results(res / "RQ1" / "org" / "m1" / "results.csv", M1)
    argv = ["--human", str(human), "--results-root", str(res), "--out", str(out), "--formats", "png"]
    target = res / "RQ1" / "org" / "m1" / "results.csv"
    if script == "parse_report":
        argv = ["--results-root", str(res), "--out", str(out / "report.csv")]
    elif script == "rq3_temporal":
        waves = [write_human(tmp_path / f"WV{w}.csv", HUMAN, w) for w in (5, 6)]
        argv[1:2] = [str(w) for w in waves] + [str(human)]
    elif script == "rq2_steering":
        target = res / "RQ2" / "persona" / "China" / "org" / "m1" / "results.csv"
        write_results(target, M2)
        argv += ["--inputs-dir", str(_steering_inputs(tmp_path))]
    elif script == "sensitivity":
        target = res / "Discussion" / "sensitivity" / "number" / "org" / "m1" / "results.csv"
        write_results(target, M2)
    elif script == "robustness":  # one perturbed prompt beside the original, identified by its columns
        perturbed = res / "Robustness" / "RQ1" / "order-1" / "org" / "m1" / "results.csv"
        write_results(perturbed, M2)
        pd.read_csv(perturbed, dtype=str).assign(experiment="RQ1", model="org/m1", perturb_family="order",
                                                 perturb_index="1", perturb_seed="0").to_csv(perturbed, index=False)
        argv += ["--n-boot", "10"]
    elif script == "rq1_groups":  # a table with group rows: the whole countries' counts, again as both sexes
        table = pd.read_csv(human, dtype={"option": str}).assign(group_var="all", group="all")
        pd.concat([table] + [table.assign(group_var="sex", group=g) for g in ("male", "female")]).to_csv(human,
                                                                                                         index=False)
        argv += ["--n-boot", "10", "--n-perm", "9"]
    elif script == "elicitation":  # m1 by a second probe method, in its own results root
        write_ours(tmp_path / "logprob" / "RQ1" / "org" / "m1" / "results.csv", M2, "logprob")
        argv += ["--compare", str(tmp_path / "logprob"), "--n-boot", "10"]
    return argv, target


def call(script: str, argv: list[str], capsys) -> tuple[int, str, str]:
    mod = load_script(f"show_results/{script}.py")
    rc = mod.main(argv)
    got = capsys.readouterr()
    return rc, got.out, got.err


@pytest.mark.parametrize("bad", list(BAD))
@pytest.mark.parametrize("script", SCRIPTS)
def test_an_unusable_results_file_is_one_line(tmp_path, capsys, script, bad):
    argv, target = setup(tmp_path, script)
    content, says = BAD[bad]
    target.write_bytes(content)
    rc, _, err = call(script, argv, capsys)
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and str(target) in err and says in err


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_cut_short_file_is_refused_or_scored_with_its_coverage(tmp_path, capsys, script):
    argv, target = setup(tmp_path, script)
    full = pd.read_csv(target, dtype=str)
    full.head(1).to_csv(target, index=False)  # 1 of its 3 items
    rc, out, err = call(script, argv, capsys)
    if script == "parse_report":  # not a scoring: it says what is absent
        assert rc == 0 and "143 of the questionnaire's 144 items absent" in out
        return
    assert rc == 2 and err.count("\n") == 1 and str(target) in err
    assert "items scored" in err and "below --min-coverage 0.9" in err
    rc, out, err = call(script, argv + ["--min-coverage", "0"], capsys)
    if script == "internal_consistency":  # none of its topics' items answered: it says so instead of "ok"
        assert rc == 2 and err.startswith("error: no model answered every item of a topic") and "org/m1" in err
    else:
        assert rc == 0, err
    line = next(x for x in out.splitlines() if x.startswith(f"coverage {target}"))
    assert "1/" in line and "items scored" in line and "2 absent" in line if script != "rq3_temporal" \
        else "1 absent (Q57)" in line  # rq3: the two items asked in all three waves


@pytest.mark.parametrize("script", SCORING)
def test_every_scoring_script_prints_coverage(tmp_path, capsys, script):
    argv, _ = setup(tmp_path, script)
    rc, out, err = call(script, argv, capsys)
    assert rc == (2 if script == "internal_consistency" else 0), err  # its topics' items are not among the three
    rq1 = Path(argv[argv.index("--results-root") + 1]) / "RQ1" / "org" / "m1" / "results.csv"
    lines = [x for x in out.splitlines() if x.startswith("coverage ")]
    expected = "2/" if script == "rq3_temporal" else "3/"
    assert any(x.startswith(f"coverage {rq1}:") and f"{expected}" in x for x in lines), out
    assert len(lines) == len(set(lines))  # once per file


def write_ours(path: Path, answers: dict, method: str, model: str = "org/m1") -> Path:
    """Our columns with identity: the distribution as JSON, the status, the probe method."""
    keys = {"Q1": ["1", "2", "3", "4"], "Q57": ["1", "2"], "Q119": ["1", "2", "3", "4", "0"]}
    rows = [{"id": i, "question": "q", "choices": str(keys[i]), "choice_keys": str(keys[i]), "answer": "",
             "type": "Opinion-Dependent", "response": "", "status": "ok", "method": method,
             "distribution": json.dumps({k: v / 100 for k, v in d.items()}), "experiment": "RQ1",
             "model": model, "steering_method": "none", "country": "", "language": "English", "variant": "default"}
            for i, d in answers.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_probe_method_chooses_between_two_runs_of_one_model(tmp_path, capsys):
    res, out = tmp_path / "results", tmp_path / "out"
    human = write_human(tmp_path / "WV7.csv")
    write_ours(res / "RQ1" / "org" / "m1" / "results.csv", M1, "logprob")
    write_ours(res / "verbalized" / "results.csv", M2, "verbalized")  # same model, its own folder
    argv = ["--human", str(human), "--results-root", str(res), "--out", str(out), "--formats", "png", "--n-boot", "10"]
    rc, _, err = call("rq1_country_level", argv, capsys)
    assert rc == 2 and err.count("\n") == 1
    assert "org/m1 has RQ1 results by more than one probe method" in err and "--probe-method" in err
    china = {}
    for method in ("logprob", "verbalized"):
        rc, _, err = call("rq1_country_level", argv + ["--probe-method", method], capsys)
        assert rc == 0, err
        df = pd.read_csv(out / "rq1_country_scores.csv")
        assert df["model"].tolist() == ["org/m1", "org/m1"]
        china[method] = df.set_index("country").loc["China", "score"]
    assert china == pytest.approx({"logprob": (5 / 6 + 0.75 + 0) / 3, "verbalized": 1.0})  # M1 and M2 by hand
    rc, _, err = call("rq1_country_level", argv + ["--probe-method", "sample"], capsys)
    assert rc == 2 and "no results by probe method sample (found logprob, verbalized)" in err


def test_a_file_mixing_two_methods_is_refused_by_the_analysis(tmp_path, capsys):
    argv, target = setup(tmp_path, "rq1_country_level")
    write_ours(target, M1, "logprob")
    df = pd.read_csv(target, dtype=str)
    df.loc[2, "method"] = "verbalized"  # the run: two logprob rows, then a verbalized one
    df.to_csv(target, index=False)
    rc, _, err = call("rq1_country_level", argv, capsys)
    assert rc == 2 and err.count("\n") == 1
    assert f"{target} mixes conditions (method: logprob, verbalized)" in err


EDITS = {  # a hand edit of an `ok` row -> what the prober and now the analysis say about it
    "sums to 1.367": ('{"1": 0.867, "2": 0.5}', "distribution sums to 1.367, not 1"),
    "a negative share": ('{"1": 1.2, "2": -0.2}', "distribution is not a JSON mapping"),
    "not JSON": ("1: 50%, 2: 50%", "distribution is not a JSON mapping"),
}


def stored_run(path: Path) -> Path:
    """m1's RQ1 answers to the fixture's three items, written by the prober's own store."""
    from utils.core.questionnaire import load_questionnaire, questionnaire_path
    from utils.core.records import ProbeResult
    from utils.core.results.spec import Experiment, RunSpec
    from utils.probing.results_store import ResultStore, result_row

    items = {it.id: it for it in load_questionnaire(questionnaire_path("English"))}
    ident = RunSpec(Experiment.RQ1, model="org/m1", language="English").columns()
    path.parent.mkdir(parents=True, exist_ok=True)
    with ResultStore(path) as store:
        for item_id, answer in M1.items():
            dist = {k: v / 100 for k, v in answer.items()}
            store.append(result_row(items[item_id], ProbeResult(item_id, "ok", dist, response=str(dist)),
                                    "verbalized", {**ident, "prompt_sha256": "s"}))
    return path


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_row_the_prober_refuses_is_never_scored(tmp_path, capsys, edit):
    """Issue 28: an `ok` row whose distribution sums to 1.367 was scored with exit 0, and a negative
    share or a distribution that is not JSON read as "unparsed". The analysis applies the prober's
    own row checks (utils/core/results/schema.py row_problem): the file is damaged, named with its line and item in
    one line, exit 2, by every reader (the default scoring, --paper-compat, parse_report) and by the
    prober itself."""
    from utils.probing.results_store import ResultStore

    res = tmp_path / "results"
    target = stored_run(res / "RQ1" / "org" / "m1" / "results.csv")
    df = pd.read_csv(target, dtype=str, keep_default_na=False)
    df.loc[df["id"] == "Q57", "distribution"] = EDITS[edit][0]  # the second record
    df.to_csv(target, index=False)
    text = target.read_text(encoding="utf-8")
    line = text[:text.index("\nQ57,")].count("\n") + 2  # the line an editor shows it on (fields span lines)
    human = write_human(tmp_path / "WV7.csv")
    says = f"{target}, line {line} (Q57) is 'ok' but its {EDITS[edit][1]}"
    common = ["--results-root", str(res)]
    for script, argv in (("rq1_country_level", ["--human", str(human), "--out", str(tmp_path / "o"), "--formats",
                                                "png", "--min-coverage", "0"]),
                         ("rq1_country_level", ["--human", str(human), "--out", str(tmp_path / "o"), "--paper-compat"]),
                         ("parse_report", ["--out", str(tmp_path / "o" / "report.csv")])):
        rc, _, err = call(script, common + argv, capsys)
        assert rc == 2 and err.count("\n") == 1 and err.startswith("error: ") and says in err, (script, argv, err)
    with pytest.raises(UserError, match=EDITS[edit][1].split(",")[0]):  # the prober refuses the same file
        with ResultStore(target):
            pass


def test_a_large_tree_shows_some_lines_and_counts_the_rest():
    """Issue 28: the release's 351 RQ2 files printed one coverage line each (484 lines in all). A
    run shows the lines of the first SHOW_COMPLETE complete files and the first SHOW_PROBLEMS with
    items left out or renumbered, counts the others and says so in one closing line; a small run
    shows every line and no closing line, as before."""
    def cov(name: str, left_out: bool = False, remapped: bool = False) -> Coverage:
        c = Coverage(name, 2, scored=["Q1"] if left_out else ["Q1", "Q2"])
        if left_out:
            c.add("Q2", "unparsed")
        if remapped:
            c.remapped.append("Q1")
        return c

    said = Said()
    for i in range(3):
        said.coverage(cov(f"small{i}.csv"))
    assert len(said.shown()) == 3 and said.summary() == ""
    said = Said()
    files = [cov(f"ok{i}.csv") for i in range(30)] + [cov(f"bad{i}.csv", left_out=True) for i in range(20)] + \
        [cov(f"ko{i}.csv", remapped=True) for i in range(5)]
    for c in files:
        said.coverage(c)
    lines = said.shown()
    assert sum("2/2 items scored" in x and "ok" in x for x in lines) == coverage.SHOW_COMPLETE
    assert len(lines) == coverage.SHOW_COMPLETE + coverage.SHOW_PROBLEMS
    assert said.summary() == ("coverage of 35 more results file(s) not shown: 22 with every item scored, "
                                  "8 with items left out, 5 with options mapped by position "
                                  "(python show_results/parse_report.py lists every row)")
