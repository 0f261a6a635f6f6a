"""An imported survey asked and scored end to end (issue 26, parts 3 and 4).

An OpinionQA-format wave folder (tests/survey_fixtures.py) is imported with the real script,
asked by the API prober through a real local HTTP server and by the bundled model, and scored by
show_results/survey_scores.py. The expected scores are computed here from the fixture's raw
counts (refusals dropped, the rest renormalized, by hand) and the answers the run recorded, with
scipy's Wasserstein distance over OpinionQA's option positions: an implementation that shares
nothing with the toolkit's.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openai_server import FakeOpenAIServer
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance
from survey_fixtures import QUESTIONS, SEX, write_wave

from utils.core.results.table import read_table
from utils.core.results.tree import find_results

ROOT = Path(__file__).resolve().parents[1]
API, LOCAL = ROOT / "code" / "RQ1" / "prob_by_api.py", ROOT / "code" / "RQ1" / "prob_by_llm.py"
RQ2_API = ROOT / "code" / "RQ2" / "prob_by_api.py"
SCORES, PAIRS = ROOT / "show_results" / "survey_scores.py", ROOT / "show_results" / "survey_human_pairs.py"
POSITIONS = {"SAFECRIME_W26": {"1": 1, "2": 2, "3": 3, "4": 4}, "WORLDDANGER_W26": {"1": 1, "2": 2, "3": 1.5},
             "GUN_W26": {"1": 1, "2": 2}}  # IMPREASONGUN_W26 is nominal (every position 1)


def run(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=600, cwd=cwd)


@pytest.fixture
def survey(tmp_path) -> Path:
    write_wave(tmp_path / "American_Trends_Panel_W26")
    done = run(ROOT / "dataset" / "import_survey.py", "--format", "opinionqa", "--input",
               tmp_path / "American_Trends_Panel_W26", "--output", tmp_path / "imported")
    assert done.returncode == 0, done.stderr
    return tmp_path / "imported" / "opinionqa.questions.jsonl"


def human_shares(question: str, group: str | None) -> dict[str, float]:
    """The fixture's counts for a sex group (None: everyone, those the file labels `nan` too), refusals
    out, by option code."""
    code = {label: str(int(c)) for c, label in QUESTIONS[question][1]}
    counts: dict[str, float] = {}
    for name, answers in SEX[question].items():
        if group is None or name == group:
            for label, n in answers.items():
                if label != "Refused":
                    counts[code[label]] = counts.get(code[label], 0.0) + n
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()}


def expected_score(question: str, model: dict[str, float], human: dict[str, float]) -> float:
    scored = [str(int(c)) for c, label in QUESTIONS[question][1] if label != "Refused"]
    p = np.array([model.get(c, 0.0) for c in scored])
    q = np.array([human.get(c, 0.0) for c in scored])
    p, q = p / p.sum(), q / q.sum()
    if question not in POSITIONS:  # nominal: W1 under the 0/1 distance is the total variation
        return 1 - np.abs(p - q).sum() / 2
    x = [POSITIONS[question][c] for c in scored]
    return 1 - wasserstein_distance(x, x, p, q) / (max(x) - min(x))


def test_the_api_prober_asks_an_imported_survey_and_the_analysis_scores_it(survey, tmp_path):
    results = tmp_path / "results"
    with FakeOpenAIServer() as srv:
        done = run(API, "--survey", survey, "--model_name_or_path", "m", "--base_url", srv.base_url,
                   "--results-root", results, "--quiet", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        prompts = [m["content"] for body in srv.requests for m in body["messages"] if m["role"] == "user"]
    path = results / "Surveys" / "opinionqa" / "wave-26" / "RQ1" / "m" / "results.csv"
    rows = read_table(path).latest
    assert sorted(rows) == sorted(k for k in QUESTIONS if k in SEX)  # EXTRA_W26 has no answers: not imported
    assert {(r["survey"], r["survey_wave"], r["experiment"]) for r in rows.values()} == {("opinionqa", "26", "RQ1")}
    assert any("3. The world we live in is neither safer nor more dangerous\n99. Refused" in p for p in prompts)
    model = {k: json.loads(r["distribution"]) for k, r in rows.items()}
    assert find_results(results) == []  # the WVS's analyses never read another survey's answers
    assert [f.path for f in find_results(results, survey="opinionqa")] == [path]

    out = tmp_path / "figures"
    done = run(SCORES, "--survey", survey, "--results-root", results, "--out", out, "--formats", "png",
               "--n-boot", "50")
    assert done.returncode == 0, done.stderr
    scores = pd.read_csv(out / "survey_opinionqa_scores.csv", keep_default_na=False)
    assert (out / "survey_opinionqa_m.png").is_file()
    for group in ("Female", "Male", None):
        row = scores[(scores.group_var == ("SEX" if group else "")) & (scores.group == (group or ""))]
        want = np.mean([expected_score(q, model[q], human_shares(q, group)) for q in SEX])
        assert float(row.score.iloc[0]) == pytest.approx(want, abs=1e-6), group
        uniform = np.mean([expected_score(q, dict.fromkeys(model[q], 1.0), human_shares(q, group)) for q in SEX])
        assert float(row.uniform.iloc[0]) == pytest.approx(uniform, abs=1e-6)
        assert int(row.n_items.iloc[0]) == 4 and 0.9 < float(row.ceiling.iloc[0]) <= 1.0  # thousands of people

    done = run(SCORES, "--survey", survey, "--results-root", results, "--out", out, "--formats", "png",
               "--n-boot", "50", "--survey-metric", "jsd")
    assert done.returncode == 0, done.stderr
    jsd = pd.read_csv(out / "survey_opinionqa_scores.csv", keep_default_na=False)
    whole = jsd[jsd.group_var == ""]
    want = []
    for q in SEX:
        scored = [str(int(c)) for c, label in QUESTIONS[q][1] if label != "Refused"]
        p = np.array([model[q].get(c, 0.0) for c in scored])
        h = human_shares(q, None)
        want.append(1 - jensenshannon(p / p.sum(), [h.get(c, 0.0) for c in scored], base=2))
    assert float(whole.score.iloc[0]) == pytest.approx(np.mean(want), abs=1e-6) and set(jsd.metric) == {"jsd"}


def test_the_human_pairs_compare_groups_from_the_table_alone(survey, tmp_path):
    out = tmp_path / "figures"
    done = run(PAIRS, "--survey", survey, "--out", out, "--formats", "png")
    assert done.returncode == 0, done.stderr
    pairs = pd.read_csv(out / "survey_opinionqa_human_pairs.csv", keep_default_na=False)
    row = pairs[(pairs.group_a == "Female") & (pairs.group_b == "Male")]
    want = np.mean([expected_score(q, human_shares(q, "Female"), human_shares(q, "Male")) for q in SEX])
    assert float(row.score.iloc[0]) == pytest.approx(want, abs=1e-6) and int(row.n_items.iloc[0]) == 4


def test_persona_steering_toward_a_group_of_the_survey(survey, tmp_path):
    with FakeOpenAIServer() as srv:
        done = run(RQ2_API, "--survey", survey, "--model_name_or_path", "m", "--base_url", srv.base_url,
                   "--group", "sex=female", "--results-root", tmp_path / "results", "--quiet", "--ids", "GUN_W26")
        assert done.returncode == 0, done.stderr
        (prompt,) = [m["content"] for body in srv.requests for m in body["messages"] if m["role"] == "user"]
    assert "people in the United States whose sex is Female" in prompt
    path = tmp_path / "results" / "Surveys" / "opinionqa" / "wave-26" / "RQ2" / "persona" / "United States" / \
        "SEX=Female" / "m" / "results.csv"
    (row,) = read_table(path).rows
    assert (row["steering_method"], row["country"], row["group_var"], row["group"]) == \
        ("persona", "United States", "SEX", "Female")


@pytest.mark.parametrize("args, message", [
    (["--group", "sex=femal"], "unknown SEX group 'femal' (did you mean Female?)"),
    (["--steering_method", "few-shot"], "--survey steers with persona only, not few-shot"),
    (["--country", "Japan"], "unknown population 'Japan'"),
    (["--protocol", "release"], "--protocol release asks the paper's own WVS questionnaire; leave out --survey"),
])
def test_steering_a_survey_wrongly_is_one_line(survey, tmp_path, args, message):
    done = run(RQ2_API, "--survey", survey, "--model_name_or_path", "m", *args, "--dry-run", tmp_path / "d.jsonl")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert not (tmp_path / "d.jsonl").exists()


@pytest.mark.slow
def test_the_bundled_model_asks_an_imported_survey_by_logprob(survey, tmp_path):
    done = run(LOCAL, "--survey", survey, "--results-root", tmp_path / "results", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (path,) = (tmp_path / "results" / "Surveys" / "opinionqa").rglob("results.csv")
    rows = read_table(path).latest
    assert len(rows) == 4 and all(r["status"] == "ok" and r["method"] == "logprob" for r in rows.values())
    gun = json.loads(rows["GUN_W26"]["distribution"])
    assert sorted(gun) == ["1", "2", "99"] and sum(gun.values()) == pytest.approx(1.0)


GLOBAL = [  # GlobalOpinionQA's columns: one nominal question asked in four countries, one in three
    ("Is the economy doing well?", {"Germany": [0.6, 0.3, 0.1], "Japan": [0.2, 0.5, 0.3], "Brazil": [0.1, 0.1, 0.8],
                                    "Atlantis": [0.3, 0.3, 0.4]}, ["Good", "Bad", "DK/Refused"], "GAS"),
    ("Should the state do more?", {"Germany": [0.7, 0.3], "Japan": [0.4, 0.6], "Brazil": [0.5, 0.5]},
     ["Yes", "No"], "GAS"),
]


def test_a_globalopinionqa_survey_is_scored_by_jsd_and_drawn_on_the_world_map(tmp_path):
    import csv
    from collections import defaultdict

    source = tmp_path / "global_opinions.csv"
    with source.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["question", "selections", "options", "source"])
        w.writerows([q, repr(defaultdict(list, sel)), repr(opts), src] for q, sel, opts, src in GLOBAL)
    done = run(ROOT / "dataset" / "import_survey.py", "--format", "globalopinionqa", "--input", source,
               "--output", tmp_path / "imported")
    assert done.returncode == 0, done.stderr
    survey = tmp_path / "imported" / "globalopinionqa.questions.jsonl"
    results = tmp_path / "results"
    with FakeOpenAIServer() as srv:
        done = run(API, "--survey", survey, "--model_name_or_path", "m", "--base_url", srv.base_url,
                   "--results-root", results, "--quiet")
        assert done.returncode == 0, done.stderr
    (path,) = (results / "Surveys" / "globalopinionqa").rglob("results.csv")
    rows = read_table(path).latest
    model = {rows[k]["question"]: json.loads(rows[k]["distribution"]) for k in rows}
    out = tmp_path / "figures"
    done = run(SCORES, "--survey", survey, "--results-root", results, "--out", out, "--formats", "png",
               "--n-boot", "20")
    assert done.returncode == 0, done.stderr
    assert "not on the world map (not a country name of dataset/countries.json): Atlantis" in done.stdout
    assert (out / "survey_globalopinionqa_map.png").is_file()
    scores = pd.read_csv(out / "survey_globalopinionqa_scores.csv", keep_default_na=False).set_index("population")
    assert set(scores.metric) == {"jsd"} and set(scores.ceiling) == {""}  # shares only: no respondents to split
    for country in ("Germany", "Japan", "Brazil", "Atlantis"):
        want = []
        for question, shares, _, _ in GLOBAL:
            if country in shares:
                p = np.array(list(model[question].values()))  # codes 1..N in order, as the options were listed
                want.append(1 - jensenshannon(p / p.sum(), shares[country], base=2))
        assert float(scores.loc[country, "score"]) == pytest.approx(np.mean(want), abs=1e-6), country
        assert int(scores.loc[country, "n_items"]) == len(want)


def test_one_item_is_scored_over_its_positions_with_ties_and_uneven_gaps():
    from utils.analysis.survey.item_scores import similarity
    from utils.core.survey.data import Item, Option

    positions = {"a": 1.0, "b": 2.0, "c": 2.0, "d": 4.0}  # b and c tie; d lies two steps past them
    item = Item("X", "q", tuple(Option(c, c, x) for c, x in positions.items()) + (Option("9", "Refused"),),
                non_substantive=("9",))
    rng = np.random.default_rng(3)
    for _ in range(20):
        p, q = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(4))
        model = dict(zip("abcd9", p))
        human = dict(zip("abcd", q))
        x = list(positions.values())
        kept = p[:4] / p[:4].sum()  # the refusal dropped, the rest renormalized
        want = 1 - wasserstein_distance(x, x, kept, q) / 3
        assert similarity(item, model, human, "w1", "drop") == pytest.approx(want, abs=1e-12)
        keep = Item("X", "q", item.options[:4] + (Option("9", "Refused", 5.0),), non_substantive=("9",))
        want = 1 - wasserstein_distance(x + [5.0], x + [5.0], p, list(q) + [0.0]) / 4  # "keep": scored at its place
        assert similarity(keep, model, human, "w1", "keep") == pytest.approx(want, abs=1e-12)


@pytest.fixture
def answered(survey, tmp_path) -> tuple[Path, Path]:
    """The survey asked through the API prober: (its questionnaire, the results root)."""
    results = tmp_path / "results"
    with FakeOpenAIServer() as srv:
        done = run(API, "--survey", survey, "--model_name_or_path", "m", "--base_url", srv.base_url,
                   "--results-root", results, "--quiet")
        assert done.returncode == 0, done.stderr
    return survey, results


@pytest.mark.parametrize("content, says", [(b"", "is empty"), (b"id,question,choices,choice_keys,answer,type,response\n",
                                                                  "has a header but no rows")])
def test_an_unusable_survey_results_file_is_one_line(answered, tmp_path, content, says):
    survey, results = answered
    target = results / "Surveys" / "opinionqa" / "wave-26" / "RQ1" / "m" / "results.csv"
    target.write_bytes(content)  # no identity columns left: its folders say what it is
    done = run(SCORES, "--survey", survey, "--results-root", results, "--out", tmp_path / "o", "--formats", "png")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and str(target) in done.stderr, done.stderr
    assert says in done.stderr


def test_a_cut_short_survey_results_file_is_refused_then_scored_with_its_coverage(answered, tmp_path):
    survey, results = answered
    target = results / "Surveys" / "opinionqa" / "wave-26" / "RQ1" / "m" / "results.csv"
    pd.read_csv(target, dtype=str, keep_default_na=False).head(1).to_csv(target, index=False)
    argv = [SCORES, "--survey", survey, "--results-root", results, "--out", tmp_path / "o", "--formats", "png",
            "--n-boot", "10"]
    done = run(*argv)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "below --min-coverage 0.9" in done.stderr
    assert "1/4 items scored" in done.stderr
    done = run(*argv, "--min-coverage", "0")
    assert done.returncode == 0, done.stderr
    assert f"coverage {target} [verbalized]: 1/4 items scored" in done.stdout and "3 absent" in done.stdout
    scores = pd.read_csv(tmp_path / "o" / "survey_opinionqa_scores.csv", keep_default_na=False)
    assert set(scores.n_items) == {1}
