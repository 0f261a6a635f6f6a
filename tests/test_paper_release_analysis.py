"""The analysis on the original release's RQ1 answers, with WVS-shaped test microdata.

The first test is the issue's acceptance check: prepare_wvs.py on a Wave 7 file, then
rq1_country_level.py on the release's results, must agree to 1e-4 with an independent
computation (plain regex reading of the answers, pandas value counts of the microdata,
scipy.stats.wasserstein_distance). Skips when ../shared/reference is absent.
"""
from __future__ import annotations

import ast
import re

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE
from scipy.stats import wasserstein_distance
from wvs_fixtures import load_script, microdata

from utils.analysis.paper.models import PAPER_MODELS
from utils.core.questionnaire import load_questionnaire, questionnaire_path

pytestmark = pytest.mark.skipif(not REFERENCE.is_dir(), reason="../shared/reference/paper-release is not present")
RESULTS = REFERENCE / "results"
_PAIR = re.compile(r"""['"]?(\w+)['"]?\s*:\s*['"]([0-9.]+)%['"]""")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Wave 5, 6 and 7 test files -> prepared tables (the paths) and the Wave 7 microdata."""
    tmp = tmp_path_factory.mktemp("release")
    prepare = load_script("dataset/prepare_wvs.py")
    tables, frames = {}, {}
    for wave in (5, 6, 7):
        frames[wave] = df = microdata(wave, seed=10 + wave)
        df.to_csv(tmp / f"wvs{wave}.csv", sep=";" if wave == 6 else ",", index=False)
        tables[wave] = tmp / f"WV{wave}.csv"
        assert prepare.main(["--wave", str(wave), "--input", str(tmp / f"wvs{wave}.csv"),
                             "--output", str(tables[wave])]) == 0
    return tables, frames, tmp


def independent_scores(df: pd.DataFrame) -> pd.DataFrame:
    items = load_questionnaire(questionnaire_path("English"))
    human = {}  # (country, item) -> counts in semantic order, by pandas value counts
    for country, people in df.groupby("B_COUNTRY"):
        for it in items:
            counts = people[it.id].value_counts()
            human[(int(country), it.id)] = np.array([counts.get(int(code), 0) for code in it.order], dtype=float)
    rows = []
    for path in sorted((RESULTS / "RQ1").rglob("results.csv")):  # the release holds RQ2 and sensitivity too
        model = str(path.parent.relative_to(RESULTS / "RQ1"))
        answers = {}
        for r in pd.read_csv(path, dtype=str).itertuples():
            keys = [str(k) for k in ast.literal_eval(r.choice_keys)]
            found = {k: float(v) for k, v in _PAIR.findall(r.response or "")}
            total = sum(found.get(k, 0.0) for k in keys)
            if total:
                answers[r.id] = {k: found.get(k, 0.0) / total for k in keys}
        for country in sorted(df["B_COUNTRY"].unique()):
            scores = []
            for it in items:
                h = human[(int(country), it.id)]
                if it.id not in answers or not h.sum():
                    continue
                n = len(it.order)
                p = np.array([answers[it.id][code] for code in it.order])
                scores.append(1 - wasserstein_distance(np.arange(n), np.arange(n), p, h) / (n - 1))
            rows.append({"model": model, "country_code": int(country), "score": np.mean(scores),
                         "std": np.std(scores), "n_items": len(scores)})
    return pd.DataFrame(rows)


def test_prepare_then_country_scores_match_independent_computation(prepared, tmp_path):
    tables, frames, _ = prepared
    out = tmp_path / "out"
    script = load_script("show_results/rq1_country_level.py")
    argv = ["--human", str(tables[7]), "--results-root", str(RESULTS), "--out", str(out), "--formats", "png",
            "--n-boot", "100", "--repeats", "2"]
    assert script.main(argv) == 0
    got = pd.read_csv(out / "rq1_country_scores.csv")
    want = independent_scores(frames[7])
    assert len(got) == len(want) == 7 * 3
    merged = got.merge(want, on=["model", "country_code"], suffixes=("", "_ref"))
    assert len(merged) == 21
    assert np.abs(merged["score"] - merged["score_ref"]).max() < 1e-4
    assert np.abs(merged["std"] - merged["std_ref"]).max() < 1e-4
    assert (merged["n_items"] == merged["n_items_ref"]).all() and merged["n_items"].max() == 144


def test_every_script_runs_on_the_release(prepared, capsys):
    tables, _, tmp = prepared
    out = tmp / "figures"
    common = ["--results-root", str(RESULTS), "--out", str(out), "--formats", "png"]
    for name, extra in (("rq1_model_level", ["--n-boot", "100", "--repeats", "2"]), ("human_alignment_matrix", [])):
        mod = load_script(f"show_results/{name}.py")
        assert mod.main(["--human", str(tables[7]), *common, *extra]) == 0, name
    mod = load_script("show_results/rq3_temporal.py")
    assert mod.main(["--human", *(str(tables[w]) for w in (5, 6, 7)), *common]) == 0
    rq3 = pd.read_csv(out / "rq3_temporal.csv")
    assert set(rq3["wave"]) == {5, 6, 7} and rq3["n_items"].max() == 75  # the release's models answered Q151
    models = pd.read_csv(out / "rq1_model_scores.csv")
    assert (models["kind"] == "model").sum() == 7
    matrix = pd.read_csv(out / "human_alignment_matrix.csv")
    assert len(matrix) == 3 + 7
    capsys.readouterr()
    # the release's sensitivity answers: 7 models x 3 variants beside their RQ1 answers
    mod = load_script("show_results/sensitivity.py")
    assert mod.main(["--human", str(tables[7]), *common]) == 0
    sens = pd.read_csv(out / "sensitivity_scores.csv")
    assert sens.groupby("model")["variant"].nunique().tolist() == [4] * 7  # default, number, prob, order


@pytest.fixture(scope="module")
def rq2_human(tmp_path_factory):
    """A Wave 7 table of three RQ2 countries, Korea among them (the stray gpt-4o's one cell)."""
    tmp = tmp_path_factory.mktemp("rq2")
    microdata(7, seed=3, countries={156: 100, 392: 100, 410: 100}).to_csv(tmp / "wvs7.csv", index=False)
    assert load_script("dataset/prepare_wvs.py").main(["--wave", "7", "--input", str(tmp / "wvs7.csv"),
                                                       "--output", str(tmp / "WV7.csv")]) == 0
    return tmp / "WV7.csv"


def test_rq2_on_the_release_leaves_out_its_stray_model(rq2_human, tmp_path, capsys, recwarn):
    """Issue 28: the default RQ2 analysis of the release mixed in `RQ2/language_persona/Korea/gpt-4o`
    (a one-cell panel, a column of the paper table, Korea's +Language Persona AVG over eight models),
    printed a raw numpy warning and 488 lines. Now gpt-4o is named in one line and left out, AVG is
    over the seven, nothing is warned raw, and the console is a summary."""
    out = tmp_path / "out"
    mod = load_script("show_results/rq2_steering.py")
    capsys.readouterr()
    assert mod.main(["--human", str(rq2_human), "--results-root", str(RESULTS), "--out", str(out),
                              "--formats", "png"]) == 0
    said = capsys.readouterr()
    assert [x for x in said.out.splitlines() if "gpt-4o" in x] == [
        "note: gpt-4o has a single RQ2 condition (language_persona, Korea) where the other models have up to 50; "
        "left out of the tables, figures and averages (--models all, or --models gpt-4o, includes it)"]
    assert len(said.out.splitlines()) <= 60 and "Warning" not in said.err
    closing = [x for x in said.out.splitlines() if x.startswith("coverage of ")]  # the lines not shown, counted
    assert len(closing) == 1 and "more results file(s) not shown" in closing[0]
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    scores = pd.read_csv(out / "rq2_steering_scores.csv")
    assert set(scores["model"]) == set(PAPER_MODELS) | {"AVG"}
    paper = pd.read_csv(out / "rq2_paper_table.csv")
    assert list(paper.columns[2:]) == [m.rsplit("/", 1)[-1] for m in PAPER_MODELS] + ["AVG"]  # the paper's order
    cell = scores[(scores["country"] == "Korea") & (scores["method"] == "language_persona")].set_index("model")
    assert cell.loc["AVG", "score"] == pytest.approx(cell.drop("AVG")["score"].mean(), abs=1e-6)  # over seven
    assert len(cell) == 8 and set(pd.read_csv(out / "rq2_steering_table.csv")["model"]) == set(PAPER_MODELS) | {"AVG"}
    assert "best_beats_none" in pd.read_csv(out / "rq2_steering_table.csv").columns
    # asked for, it is there, as its one cell
    assert mod.main(["--human", str(rq2_human), "--results-root", str(RESULTS), "--out", str(out),
                              "--formats", "png", "--models", "all"]) == 0
    scores = pd.read_csv(out / "rq2_steering_scores.csv")
    assert scores[scores["model"] == "gpt-4o"][["country", "method"]].values.tolist() == [["Korea", "language_persona"]]
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
