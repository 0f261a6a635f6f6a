"""Scores by respondent group (`--by`), checked against an independent computation: answers
counted per group by walking every respondent, scored item by item with scipy's Wasserstein
distance, for every country and group, weighted and unweighted."""
from __future__ import annotations

import doctest
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wasserstein_distance
from wvs_fixtures import ROOT, group_microdata, hand_group, load_script

from utils.analysis import group_scores as group_scores_module
from utils.analysis.group_scores import gap_test
from utils.core.questionnaire import load_questionnaire, questionnaire_path

ITEMS = load_questionnaire(questionnaire_path("English"))


def test_doctests():
    assert doctest.testmod(group_scores_module).failed == 0


def test_gap_test_by_hand():
    s = np.array([[.80, .70, .75], [.82, .76, .80], [.78, .71, .74]])
    t = gap_test(s, n_boot=500, n_perm=999)
    # group means .8, .7233, .7633: best 0, worst 1, gap .0767
    assert (t.best, t.worst, t.n_countries) == (0, 1, 3)
    assert t.gap == pytest.approx((.80 + .82 + .78 - .70 - .76 - .71) / 3)
    assert t.ci_low <= t.gap <= t.ci_high
    # the same groups in every country: shuffling labels leaves no gap, every shuffle reaches it
    same = gap_test(np.repeat([[.8], [.7], [.75]], 3, axis=1), n_boot=100, n_perm=99)
    assert same.gap == pytest.approx(0) and same.p_value == pytest.approx(1.0)
    # a constant lead of .05 in 40 countries: no shuffle is as extreme, p is the smallest possible
    rng = np.random.default_rng(0)
    base = rng.uniform(.6, .9, size=(40, 1))
    lead = gap_test(np.hstack([base + .05, base]), n_boot=200, n_perm=199)
    assert lead.gap == pytest.approx(.05) and lead.p_value == pytest.approx(1 / 200)
    assert lead.ci_low == pytest.approx(.05) and lead.ci_high == pytest.approx(.05)
    # pure noise: picking the extreme pair after the fact must not look significant
    p = [gap_test(rng.normal(.8, .02, size=(30, 4)), n_boot=50, n_perm=199, seed=k).p_value for k in range(20)]
    assert np.mean(np.array(p) < .05) <= .2


def model_answers(seed: int) -> dict[str, dict[str, float]]:
    """A made-up model: for every questionnaire item, random percentages over its choice keys."""
    rng = np.random.default_rng(seed)
    out = {}
    for it in ITEMS:
        p = rng.dirichlet(np.ones(len(it.choice_keys)))
        out[it.id] = {k: round(100 * v, 2) for k, v in zip(it.choice_keys, p)}
    return out


def write_results(path, answers):
    path.parent.mkdir(parents=True, exist_ok=True)
    by_id = {it.id: it for it in ITEMS}
    rows = [{"id": i, "question": "q", "choices": str(list(by_id[i].choices)),
             "choice_keys": str(list(by_id[i].choice_keys)), "answer": "", "type": "Opinion-Dependent", "response": str({k: f"{v}%" for k, v in d.items()})}
            for i, d in answers.items()]
    pd.DataFrame(rows).to_csv(path, index=False)


def hand_scores(df: pd.DataFrame, var: str, column: str, answers: dict, weighted: bool, metric: str = "w1") -> dict:
    """(country, group) -> mean over items of 1 - W1/(N-1) (or 1 - TVD), from counts made row by row."""
    counts: dict = defaultdict(lambda: defaultdict(float))
    for _, row in df.iterrows():
        group = hand_group(var, float(row[column]))
        if group is None:
            continue
        for it in ITEMS:
            code = str(int(row[it.id]))
            if code in it.order:
                counts[(int(row["B_COUNTRY"]), group, it.id)][code] += row["W_WEIGHT"] if weighted else 1.0
    per_item: dict = defaultdict(list)
    for (c, g, item), by_code in counts.items():
        it = next(x for x in ITEMS if x.id == item)
        n = len(it.order)
        q = np.array([by_code.get(k, 0.0) for k in it.order])
        p = np.array([answers[item].get(k, 0.0) for k in it.order])
        if q.sum() == 0 or p.sum() == 0:
            continue
        p, q = p / p.sum(), q / q.sum()
        if metric == "tvd":
            per_item[(c, g)].append(1 - 0.5 * np.abs(p - q).sum())
        else:
            per_item[(c, g)].append(1 - wasserstein_distance(np.arange(n), np.arange(n), p, q) / (n - 1))
    return {k: (float(np.mean(v)), len(v)) for k, v in per_item.items()}


@pytest.fixture(scope="module")
def sex_case(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("by_sex")
    df = group_microdata(seed=3)
    src = tmp / "wvs.csv"
    df.to_csv(src, index=False)
    human = tmp / "WV7.csv"
    prepare = load_script("dataset/prepare_wvs.py")
    assert prepare.main(["--wave", "7", "--input", str(src), "--output", str(human), "--groups", "sex,age",
                         "--min-group-n", "10"]) == 0
    res = tmp / "results"
    answers = {"m1": model_answers(1), "m2": model_answers(2)}
    for name, a in answers.items():
        write_results(res / "RQ1" / name / "results.csv", a)
    return df, human, res, answers, tmp


@pytest.mark.parametrize("weights", ["none", "survey"])
def test_rq1_country_level_by_sex_matches_hand_scores(sex_case, weights):
    df, human, res, answers, tmp = sex_case
    out = tmp / f"out_{weights}"
    script = load_script("show_results/rq1_country_level.py")
    rc = script.main(["--human", str(human), "--results-root", str(res), "--out", str(out), "--formats", "png",
                      "--n-boot", "50", "--by", "sex", "--weights", weights])
    assert rc == 0
    got = pd.read_csv(out / "rq1_group_scores.csv")
    assert list(got.columns) == ["model", "country", "country_code", "group_var", "group", "score", "n_items",
                                 "n_respondents"]
    assert set(got["group_var"]) == {"sex"}
    for model, a in answers.items():
        expected = hand_scores(df, "sex", "Q260", a, weights == "survey")
        rows = got[got["model"] == model]
        assert {(int(r.country_code), r.group) for r in rows.itertuples()} == set(expected)
        for r in rows.itertuples():
            score, n_items = expected[(int(r.country_code), r.group)]
            assert r.score == pytest.approx(score, abs=1e-6) and r.n_items == n_items
            assert r.n_respondents == ((df["B_COUNTRY"] == r.country_code)
                                       & (df["Q260"] == {"male": 1, "female": 2}[r.group])).sum()
    assert (out / "rq1_group_scores.png").stat().st_size > 0


def test_rq1_groups_counts_and_gap_match_hand_scores(sex_case, capsys):
    df, human, res, answers, tmp = sex_case
    out = tmp / "groups"
    script = load_script("show_results/rq1_groups.py")
    assert script.main(["--human", str(human), "--results-root", str(res), "--out", str(out), "--formats", "png",
                        "--by", "sex", "--n-boot", "200", "--n-perm", "199"]) == 0
    summary = pd.read_csv(out / "rq1_groups.csv").set_index("model")
    per_group = pd.read_csv(out / "rq1_groups_by_group.csv").set_index(["model", "group"])
    for model, a in answers.items():
        hand = hand_scores(df, "sex", "Q260", a, False)
        countries = sorted({c for c, _ in hand})
        male = np.array([hand[(c, "male")][0] for c in countries])
        female = np.array([hand[(c, "female")][0] for c in countries])
        assert per_group.loc[(model, "male"), "n_closest"] == (male > female).sum()
        assert per_group.loc[(model, "female"), "n_closest"] == (female > male).sum()
        assert per_group.loc[(model, "male"), "mean_score"] == pytest.approx(male.mean(), abs=1e-6)
        best, worst = ("male", "female") if male.mean() > female.mean() else ("female", "male")
        row = summary.loc[model]
        assert (row["best_group"], row["worst_group"], row["n_countries"]) == (best, worst, len(countries))
        assert row["gap"] == pytest.approx(abs(male.mean() - female.mean()), abs=1e-6)
        assert 0 < row["p_value"] <= 1 and row["ci_low"] <= row["gap"] <= row["ci_high"]
    assert "| Model | Groups |" in (out / "rq1_groups.md").read_text()
    assert r"\begin{tabular}" in (out / "rq1_groups.tex").read_text() and (out / "rq1_groups.png").is_file()


def test_rq1_groups_says_when_no_country_has_every_group(sex_case, tmp_path, capsys):
    """Each country keeps one sex only (as when --min-group-n drops the other there): no gap can be
    computed. The script says so in one note instead of printing `gap  -  nan [nan, nan]` per model."""
    _, human, res, _, _ = sex_case
    table = pd.read_csv(human, dtype={"option": str, "group_var": str, "group": str})
    first = sorted(table["country_code"].unique())[0]
    sex = table["group_var"] == "sex"
    drop = sex & (((table["group"] == "female") & (table["country_code"] == first))
                  | ((table["group"] == "male") & (table["country_code"] != first)))
    lopsided = tmp_path / "WV7.csv"
    table[~drop].to_csv(lopsided, index=False)
    script = load_script("show_results/rq1_groups.py")
    capsys.readouterr()
    assert script.main(["--human", str(lopsided), "--results-root", str(res), "--out",
                                    str(tmp_path / "out"), "--formats", "png", "--by", "sex", "--n-boot", "20",
                                    "--n-perm", "19"]) == 0
    out = capsys.readouterr().out
    assert "note: no country has a score for every sex group" in out
    assert not [line for line in out.splitlines() if line.startswith(("m1", "m2"))]  # no per-model line of nothing


@pytest.mark.parametrize("script, argv, message", [
    ("rq1_country_level", ["--by", "sex", "--paper-compat"], "--paper-compat reproduces the paper's arithmetic and "
                                                             "cannot be combined with --by sex"),
    ("rq1_country_level", ["--by", "religion"], "unknown group variable religion; known: sex, age, education"),
    ("rq1_country_level", ["--by", "education"], "has no education groups (it has: sex, age)"),
    ("rq1_groups", ["--by", "sex,height"], "unknown group variable height"),
])
def test_bad_by_is_one_line(sex_case, capsys, script, argv, message):
    df, human, res, answers, tmp = sex_case
    try:
        rc = load_script(f"show_results/{script}.py").main(["--human", str(human), "--results-root", str(res),
                                                                 "--out", str(tmp / "bad"), "--formats", "png", *argv])
    except SystemExit as exc:  # argparse's one-line error, before the script runs
        rc = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and message in err[0]


def write_rq2(path, answers, model, method, country, group=None):
    """An RQ2 results file whose rows carry the identity columns, as our runs write them."""
    write_results(path, answers)
    df = pd.read_csv(path)
    df = df.assign(experiment="RQ2", model=model, method="verbalized", steering_method=method, country=country,
                   group_var=group[0] if group else "", group=group[1] if group else "")
    df.to_csv(path, index=False)


def test_rq2_steering_by_sex_scores_against_the_group_and_the_country(sex_case):
    df, human, res, answers, tmp = sex_case
    steered, to_country = model_answers(3), model_answers(4)
    write_rq2(res / "RQ2" / "persona" / "Germany" / "sex=female" / "m1" / "results.csv", steered, "m1", "persona",
              "Germany", ("sex", "female"))
    write_rq2(res / "RQ2" / "persona" / "Germany" / "m1" / "results.csv", to_country, "m1", "persona", "Germany")
    out = tmp / "rq2"
    script = load_script("show_results/rq2_steering.py")
    assert script.main(["--human", str(human), "--results-root", str(res), "--out", str(out), "--formats", "png",
                        "--by", "sex"]) == 0
    got = pd.read_csv(out / "rq2_group_steering.csv")
    assert len(got) == 1
    row = got.iloc[0]
    assert (row["model"], row["country"], row["method"], row["group"]) == ("m1", "Germany", "persona", "female")
    few_shot = {ex["id"] for ex in pd.read_json(ROOT / "inputs" / "few_shot" / "Germany.json")["items"]}
    women = df[(df["B_COUNTRY"] == 276) & (df["Q260"] == 2)]
    whole = df[df["B_COUNTRY"] == 276]

    def score(a, people):
        out = []
        for it in ITEMS:
            if it.id in few_shot:
                continue
            n = len(it.order)
            q = np.array([(people[it.id] == int(k)).sum() for k in it.order], dtype=float)
            p = np.array([a[it.id].get(k, 0.0) for k in it.order])
            out.append(1 - wasserstein_distance(np.arange(n), np.arange(n), p / p.sum(), q / q.sum()) / (n - 1))
        return np.mean(out), len(out)

    assert row["score_group"] == pytest.approx(score(steered, women)[0], abs=1e-6)
    assert row["score_country"] == pytest.approx(score(steered, whole)[0], abs=1e-6)
    assert row["base_group"] == pytest.approx(score(to_country, women)[0], abs=1e-6)
    assert row["none_group"] == pytest.approx(score(answers["m1"], women)[0], abs=1e-6)
    assert row["gain_group"] == pytest.approx(row["score_group"] - row["base_group"], abs=1e-6)
    assert row["n_items"] == score(steered, women)[1]
    # the group-steered run stays out of the paper's table: one persona row for Germany, the country's
    scores = pd.read_csv(out / "rq2_steering_scores.csv")
    persona = scores[(scores["model"] == "m1") & (scores["method"] == "persona")]
    assert len(persona) == 1 and (out / "rq2_group_steering.png").is_file()


def test_by_follows_the_metric(sex_case):
    df, human, res, answers, tmp = sex_case
    out = tmp / "tvd"
    assert load_script("show_results/rq1_country_level.py").main(
        ["--human", str(human), "--results-root", str(res), "--out", str(out), "--formats", "png", "--n-boot", "50",
         "--by", "sex", "--metric", "tvd", "--models", "m1"]) == 0
    got = pd.read_csv(out / "rq1_group_scores_tvd.csv")
    expected = hand_scores(df, "sex", "Q260", answers["m1"], False, "tvd")
    assert len(got) == len(expected) > 0
    for r in got.itertuples():
        assert r.score == pytest.approx(expected[(int(r.country_code), r.group)][0], abs=1e-6)
