"""Internal consistency (utils/analysis/consistency.py, show_results/internal_consistency.py), the
notebook's "consistency" under --paper-compat, and --paper-compat's default of the paper's seven
models, each checked against a plain re-implementation written here.

The fixed case: two countries, two models, answers to the ten topic items written below.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy
from wvs_fixtures import ROOT, load_script

from utils.analysis import consistency as cons
from utils.core.errors import UserError
from utils.core.questionnaire import load_questionnaire, questionnaire_path

TOPICS = {"gender_fairness": ["Q29", "Q30", "Q31", "Q33"], "atheism": ["Q165", "Q166", "Q167", "Q168"],
          "democracy": ["Q243", "Q250"]}
N = {"Q29": 4, "Q30": 4, "Q31": 4, "Q33": 5, "Q165": 2, "Q166": 2, "Q167": 2, "Q168": 2, "Q243": 10, "Q250": 10}
COUNTRY = {156: "China", 276: "Germany"}

# people: counts per code (negative codes are missing answers and must not count)
PEOPLE = {
    156: {"Q29": {"1": 30, "2": 50, "3": 15, "4": 5, "-1": 9}, "Q30": {"1": 10, "2": 40, "3": 40, "4": 10},
          "Q31": {"1": 25, "2": 45, "3": 20, "4": 10}, "Q33": {"1": 30, "2": 30, "3": 20, "4": 15, "5": 5},
          "Q165": {"1": 20, "2": 80}, "Q166": {"1": 25, "2": 75}, "Q167": {"1": 10, "2": 90},
          "Q168": {"1": 15, "2": 85}, "Q243": {"10": 60, "8": 20, "5": 20}, "Q250": {"10": 50, "9": 30, "1": 20}},
    276: {"Q29": {"1": 2, "2": 8, "3": 40, "4": 50}, "Q30": {"1": 1, "2": 4, "3": 30, "4": 65},
          "Q31": {"1": 3, "2": 7, "3": 45, "4": 45}, "Q33": {"1": 5, "2": 10, "3": 15, "4": 30, "5": 40, "-2": 4},
          "Q165": {"1": 60, "2": 40}, "Q166": {"1": 45, "2": 55}, "Q167": {"1": 20, "2": 80},
          "Q168": {"1": 35, "2": 65}, "Q243": {"10": 80, "9": 15, "7": 5}, "Q250": {"10": 85, "8": 15}},
}
# models: percentages per code
M1 = {"Q29": {"3": 50, "4": 50}, "Q30": {"4": 100}, "Q31": {"2": 50, "3": 50}, "Q33": {"3": 100},
      "Q165": {"1": 50, "2": 50}, "Q166": {"1": 50, "2": 50}, "Q167": {"1": 50, "2": 50}, "Q168": {"1": 50, "2": 50},
      "Q243": {"10": 100}, "Q250": {"1": 100}}
M2 = {"Q29": {"1": 100}, "Q30": {"2": 100}, "Q31": {"1": 100}, "Q33": {"2": 100},
      "Q165": {"1": 90, "2": 10}, "Q166": {"2": 100}, "Q167": {"1": 70, "2": 30}, "Q168": {"1": 60, "2": 40},
      "Q243": {"9": 100}, "Q250": {"10": 100}}
STEERED = {**M1, "Q250": {"10": 100}, "Q165": {"1": 60, "2": 40}, "Q166": {"1": 45, "2": 55},
           "Q167": {"1": 20, "2": 80}, "Q168": {"1": 35, "2": 65}}  # m1 steered to Germany


# ---------- the independent implementation ----------
def ref_position(shares: dict, codes: list[str]) -> float:
    """Mean rank of the answers among `codes` (low stance first), divided by the last rank."""
    total = sum(float(shares.get(c, 0)) for c in codes)
    if total == 0:
        return math.nan
    return sum(k * float(shares.get(c, 0)) for k, c in enumerate(codes)) / total / (len(codes) - 1)


def ref_consistency(answers: dict, items: list[str], codes: dict | None = None) -> float:
    codes = codes or {}
    xs = [ref_position(answers.get(q, {}), codes.get(q, [str(k) for k in range(1, N[q] + 1)])) for q in items]
    if any(math.isnan(x) for x in xs):
        return math.nan
    mean = sum(xs) / len(xs)
    return 1 - sum(abs(x - mean) for x in xs) / len(xs)


def pooled_people() -> dict:
    out: dict = {}
    for per in PEOPLE.values():
        for q, counts in per.items():
            for c, n in counts.items():
                out.setdefault(q, {})[c] = out.get(q, {}).get(c, 0) + n
    return out


# ---------- the module ----------
def test_worked_example_and_bounds():
    assert cons.consistency(np.array([0.2, 0.4, 0.2, 0.6])) == pytest.approx(0.85)
    assert cons.consistency(np.array([0.0, 1.0, 0.0, 1.0])) == pytest.approx(0.5)  # the lowest possible
    assert cons.consistency(np.array([0.3, 0.3])) == pytest.approx(1.0)
    assert np.isnan(cons.consistency(np.array([0.3, np.nan])))


def test_orientation_is_used_and_matches_the_reference(tmp_path):
    """A topic with one item reversed: its codes run 4 -> 1, so its position is 1 - the plain one."""
    path = tmp_path / "topics.json"
    path.write_text(json.dumps({"topics": [{"name": "t", "items": [
        {"id": "Q29", "codes": ["1", "2", "3", "4"]}, {"id": "Q30", "codes": ["4", "3", "2", "1"]},
        {"id": "Q33", "codes": ["1", "2", "3", "4", "5"]}]}]}))
    topics = cons.load_topics(path)
    ids, orders = ["Q30", "Q33", "Q29"], [("1", "2", "3", "4"), ("1", "2", "3", "4", "5"), ("1", "2", "3", "4")]
    rng = np.random.default_rng(3)
    dists = np.zeros((6, 3, 5))
    for i, o in enumerate(orders):
        dists[:, i, :len(o)] = rng.dirichlet(np.ones(len(o)), size=6)
    got = cons.score_topics(dists, ids, orders, topics)[0]
    codes = {"Q29": ["1", "2", "3", "4"], "Q30": ["4", "3", "2", "1"], "Q33": ["1", "2", "3", "4", "5"]}
    for s in range(6):
        answers = {q: {c: dists[s, ids.index(q), orders[ids.index(q)].index(c)] for c in orders[ids.index(q)]}
                   for q in ids}
        assert got.consistency[s] == pytest.approx(ref_consistency(answers, ["Q29", "Q30", "Q33"], codes), abs=1e-12)
        assert got.item_positions[s, 1] == pytest.approx(1 - ref_position(answers["Q30"], ["1", "2", "3", "4"]))


def test_topics_file_matches_the_questionnaire_and_its_wording():
    """Every item's codes are the questionnaire's, and the first option is the low stance the file
    names: agreeing that men are better (gender), believing (atheism), democracy not essential."""
    items = {it.id: it for it in load_questionnaire(questionnaire_path("English"))}
    topics = cons.load_topics()
    assert {t.name: [i.id for i in t.items] for t in topics} == TOPICS
    for t in topics:
        cons.option_index(t, list(items), [items[q].order for q in items])  # raises on a mismatch
        for it in t.items:
            first = items[it.id].choices[list(items[it.id].choice_keys).index(it.codes[0])].lower()
            expected = {"gender_fairness": "agree", "atheism": "yes", "democracy": "not"}[t.name]
            assert expected in first and "disagree" not in first, (it.id, first)
    assert len(next(t for t in topics if t.name == "gender_fairness").items[-1].codes) == 5  # Q33


@pytest.mark.parametrize("text, message", [
    ('{"topics": [{"name": "t", "items": [{"id": "Q29", "codes": ["1", "2"]}]}]}', "at least two items"),
    ('{"topics": [{"name": "t", "items": [{"id": "Q29", "codes": ["1", "1"]}, {"id": "Q30", "codes": ["1", "2"]}]}]}',
     "distinct"),
    ('{"topics": [{"items": []}]}', "not a topics file"),
])
def test_bad_topics_file_is_one_user_error(tmp_path, text, message):
    path = tmp_path / "t.json"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        cons.load_topics(path)


def test_codes_that_differ_from_the_questionnaire_are_refused():
    t = cons.Topic("t", "t", "a", "b", (cons.TopicItem("Q29", ("1", "2", "3")), cons.TopicItem("Q30", ("1", "2"))))
    with pytest.raises(UserError, match="Q29 lists codes"):
        cons.option_index(t, ["Q29", "Q30"], [("1", "2", "3", "4"), ("1", "2")])


# ---------- the script ----------
def write_human(path, people=PEOPLE, extra=()):
    rows = [{"wave": 7, "country_code": c, "country": COUNTRY[c], "item_id": q, "variable": q, "option": o,
             "status": "valid" if int(o) >= 0 else "missing", "count": n, "weighted_count": n}
            for c, per in people.items() for q, counts in per.items() for o, n in counts.items()]
    rows += [{"wave": 7, "country_code": c, "country": COUNTRY[c], "item_id": q, "variable": q, "option": o,
              "status": "valid", "count": n, "weighted_count": n} for c, q, o, n in extra]
    pd.DataFrame(rows).to_csv(path, index=False)
    path.with_suffix(".meta.json").write_text(json.dumps({"wave": 7, "synthetic": True}))
    return path


def write_results(path, answers):
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = {q: [str(k) for k in range(1, n + 1)] for q, n in N.items()} | {"Q1": ["1", "2", "3", "4"],
                                                                         "Q110": [str(k) for k in range(1, 11)]}
    rows = [{"id": q, "question": "q", "choices": str(keys[q]), "choice_keys": str(keys[q]), "answer": "",
             "type": "Opinion-Dependent", "response": str({k: f"{v}%" for k, v in d.items()})}
            for q, d in answers.items()]
    pd.DataFrame(rows).to_csv(path, index=False)


def argv(human, res, out, *extra):
    return ["--human", str(human), "--results-root", str(res), "--out", str(out), "--formats", "png", *extra]


@pytest.fixture
def case(tmp_path):
    res = tmp_path / "results"
    write_results(res / "RQ1" / "org" / "m1" / "results.csv", M1)
    write_results(res / "RQ1" / "m2" / "results.csv", M2)
    write_results(res / "RQ2" / "persona" / "Germany" / "org" / "m1" / "results.csv", STEERED)
    return write_human(tmp_path / "WV7.csv"), res, tmp_path / "out"


def test_script_against_the_reference(case):
    human, res, out = case
    assert load_script("show_results/internal_consistency.py").main(argv(human, res, out)) == 0
    df = pd.read_csv(out / "internal_consistency.csv", keep_default_na=False, na_values=[""])
    got = df.set_index(["kind", "model", "method", "country", "topic"])["consistency"]
    subjects = {("model", "org/m1", "none", ""): M1, ("model", "m2", "none", ""): M2,
                ("model", "org/m1", "persona", "Germany"): STEERED,
                ("people", "", "", "all countries pooled"): pooled_people()} | \
        {("people", "", "", name): PEOPLE[code] for code, name in COUNTRY.items()}
    for (kind, model, method, country), answers in subjects.items():
        for topic, items in TOPICS.items():
            key = (kind, *(v if v else np.nan for v in (model, method, country)), topic)
            want = ref_consistency(answers, items)
            assert got.loc[key] == pytest.approx(want, abs=1e-6), key
    dist = pd.read_csv(out / "internal_consistency_distance.csv")
    none = dist[dist["method"] == "none"].set_index(["model", "country", "topic"])
    for model, answers in (("org/m1", M1), ("m2", M2)):
        for code, name in COUNTRY.items():
            for topic, items in TOPICS.items():
                want = abs(ref_consistency(answers, items) - ref_consistency(PEOPLE[code], items))
                assert none.loc[(model, name, topic), "distance"] == pytest.approx(want, abs=1e-6)
    steer = dist[dist["method"] == "persona"].set_index("topic")
    assert set(steer["country"]) == {"Germany"} and len(steer) == 3
    for topic, items in TOPICS.items():
        germany = ref_consistency(PEOPLE[276], items)
        before, after = abs(ref_consistency(M1, items) - germany), abs(ref_consistency(STEERED, items) - germany)
        assert steer.loc[topic, "unsteered_distance"] == pytest.approx(before, abs=1e-6)
        assert steer.loc[topic, "distance"] == pytest.approx(after, abs=1e-6)
        assert bool(steer.loc[topic, "moved_toward"]) == (after < before)
    # the steered answers copy Germany's atheism items exactly: distance 0 there
    assert steer.loc["atheism", "distance"] == pytest.approx(0, abs=1e-6)
    for stem in ("internal_consistency_table", "internal_consistency_steering"):
        for ext in (".csv", ".md", ".tex"):
            assert (out / f"{stem}{ext}").is_file()
    table = pd.read_csv(out / "internal_consistency_table.csv", dtype=str, keep_default_na=False)
    m2 = table[table["Subject"] == "m2"].iloc[0]
    mean_dist = np.mean([abs(ref_consistency(M2, TOPICS["democracy"]) - ref_consistency(PEOPLE[c], TOPICS["democracy"]))
                         for c in COUNTRY])
    assert float(m2["Democracy: distance"]) == pytest.approx(mean_dist, abs=5e-5)
    assert (out / "internal_consistency.png").is_file() and (out / "internal_consistency_steering.png").is_file()


def test_a_country_missing_an_item_is_left_out_not_guessed(case, tmp_path):
    human, res, out = case
    people = {c: dict(p) for c, p in PEOPLE.items()}
    del people[156]["Q167"]  # China did not ask one atheism item
    human = write_human(tmp_path / "WV7b.csv", people)
    assert load_script("show_results/internal_consistency.py").main(argv(human, res, out)) == 0
    df = pd.read_csv(out / "internal_consistency.csv")
    china = df[(df["country"] == "China") & (df["topic"] == "atheism")].iloc[0]
    assert np.isnan(china["consistency"]) and china["n_items"] == 3
    dist = pd.read_csv(out / "internal_consistency_distance.csv")
    assert not ((dist["country"] == "China") & (dist["topic"] == "atheism")).any()


# ---------- --paper-compat: the notebook's "consistency" ----------
def ref_entropy_last(dists: dict, order: list[str]) -> float:
    last = [q for q in order if q in dists][-1]
    p = np.array([float(v) for v in dists[last].values()])
    return round(float(entropy(p[p > 0] / p[p > 0].sum(), base=2) / math.log2(len(p))), 4)


def test_paper_compat_notebook_consistency_models_and_people(tmp_path):
    """gpt-4's file order decides 'the last item'; it is Q110, which the model-level notebooks leave
    out of the models' answers but not of the people's, so the two rest on different items. Only
    the paper's models are read by default."""
    res, out = tmp_path / "results", tmp_path / "out"
    gpt4 = M1 | {"Q1": {"1": 70, "2": 30, "3": 0, "4": 0}, "Q110": {str(k): 10 for k in range(1, 11)}}
    write_results(res / "RQ1" / "gpt-4" / "results.csv", gpt4)
    chat = M2 | {"Q1": {"1": 10, "2": 20, "3": 30, "4": 40},
                 "Q110": {"1": 50, "2": 50, **{str(k): 0 for k in range(3, 11)}}}
    write_results(res / "RQ1" / "deepseek-chat" / "results.csv", chat)
    write_results(res / "RQ1" / "not-in-the-paper" / "results.csv", chat)  # left out by default
    extra = [(156, "Q1", "1", 40), (156, "Q1", "3", 60), (276, "Q110", "2", 30), (276, "Q110", "7", 10),
             (156, "Q110", "2", 5)]
    human = write_human(tmp_path / "WV7.csv", extra=extra)
    assert load_script("show_results/internal_consistency.py").main(argv(human, res, out, "--paper-compat")) == 0
    df = pd.read_csv(out / "internal_consistency_paper_compat.csv").set_index("model")
    assert set(df.index) == {"gpt-4", "deepseek-chat", "people (all countries pooled)"}
    order = list(gpt4)  # gpt-4's file order: the topic items, Q1, Q110
    skip = {"Q60", "Q70", "Q90", "Q110", "Q130"}
    for model, answers in (("gpt-4", gpt4), ("deepseek-chat", chat)):
        kept = {q: d for q, d in answers.items() if q not in skip}
        assert df.loc[model, "consistency"] == pytest.approx(ref_entropy_last(kept, order), abs=1e-12)
        assert df.loc[model, "item"] == "Q1"
    pooled = pooled_people()
    pooled["Q1"], pooled["Q110"] = {"1": 40, "2": 0, "3": 60, "4": 0}, {str(k): 0 for k in range(1, 11)}
    pooled["Q110"].update({"2": 35, "7": 10})
    people = df.loc["people (all countries pooled)"]
    assert people["item"] == "Q110"
    assert people["consistency"] == pytest.approx(ref_entropy_last(pooled, order), abs=1e-12)
    # the model-level script puts the same people figure beside the models'
    assert load_script("show_results/rq1_model_level.py").main(argv(human, res, out, "--paper-compat")) == 0
    ml = pd.read_csv(out / "rq1_model_scores_paper_compat.csv")
    assert set(ml["people_consistency"]) == {people["consistency"]}
    assert ml.set_index("model").loc["deepseek-chat", "consistency"] == df.loc["deepseek-chat", "consistency"]


# ---------- --paper-compat: the paper's seven models, in its order ----------
def _steering_inputs(tmp_path):
    inputs = tmp_path / "inputs"
    (inputs / "steering").mkdir(parents=True)
    (inputs / "steering" / "countries.json").write_text(json.dumps(
        {"countries": {"China": {"language": "Chinese", "wvs_code": 156},
                       "Korea": {"language": "Korean", "wvs_code": 410}}}))
    (inputs / "steering" / "methods.json").write_text(json.dumps({"methods": {"language_persona": {}}}))
    (inputs / "few_shot").mkdir()
    for country in ("China", "Korea"):
        (inputs / "few_shot" / f"{country}.json").write_text(json.dumps(
            {"country": country, "items": [{"id": "Q250", "percentages": {"10": 100}}]}))
    return inputs


def test_paper_compat_reads_the_papers_models_in_its_order(tmp_path, capsys):
    res, out = tmp_path / "results", tmp_path / "out"
    models = {"gpt-4": M1, "CohereLabs/aya-23-35B": M2, "gpt-4o": STEERED}  # gpt-4o: the stray eighth
    for m, answers in models.items():
        write_results(res / "RQ1" / m / "results.csv", answers)
        for country in ("China", "Korea"):  # Korea has no human data here
            write_results(res / "RQ2" / "language_persona" / country / m / "results.csv", STEERED)
    human, inputs = write_human(tmp_path / "WV7.csv"), _steering_inputs(tmp_path)
    script = load_script("show_results/rq2_steering.py")
    assert script.main(argv(human, res, out, "--paper-compat", "--inputs-dir", str(inputs))) == 0
    assert capsys.readouterr().out.count("note: no human data for Korea") == 1  # once, not per model
    table = pd.read_csv(out / "rq2_paper_table_paper_compat.csv", dtype=str)
    assert list(table.columns) == ["Country", "Condition", "aya-23-35B", "gpt-4", "AVG", "human_data"]  # Aya23 first
    long = pd.read_csv(out / "rq2_steering_scores_paper_compat.csv")
    china = long[(long["country"] == "China") & (long["method"] == "language_persona")].set_index("model")["score"]
    assert china["AVG"] == pytest.approx(round((china["gpt-4"] + china["CohereLabs/aya-23-35B"]) / 2, 4), abs=1e-12)
    assert script.main(argv(human, res, out, "--paper-compat", "--inputs-dir", str(inputs), "--models", "all")) == 0
    table = pd.read_csv(out / "rq2_paper_table_paper_compat.csv", dtype=str)
    assert list(table.columns) == ["Country", "Condition", "aya-23-35B", "gpt-4", "gpt-4o", "AVG", "human_data"]


def test_default_analysis_warns_once_per_missing_country(tmp_path, capsys):
    res, out = tmp_path / "results", tmp_path / "out"
    for m in ("a", "b"):
        write_results(res / "RQ1" / m / "results.csv", M1)
        for country in ("China", "Korea"):
            write_results(res / "RQ2" / "language_persona" / country / m / "results.csv", STEERED)
    human, inputs = write_human(tmp_path / "WV7.csv"), _steering_inputs(tmp_path)
    script = load_script("show_results/rq2_steering.py")
    assert script.main(argv(human, res, out, "--inputs-dir", str(inputs), "--min-coverage", "0")) == 0
    assert capsys.readouterr().out.count("no human data for Korea") == 1


def test_release_answers_when_present():
    """On the release's RQ1 answers (skipped without them): every model answers every topic item,
    so every model has a consistency on each topic."""
    release = ROOT.parent / "shared" / "reference" / "paper-release" / "results" / "RQ1"
    if not release.is_dir():
        pytest.skip("the paper release is not at ../shared/reference/paper-release")
    from utils.analysis.answers import AnswerPolicy, load_answers, model_files
    items = load_questionnaire(questionnaire_path("English"))
    ids, orders = [it.id for it in items], [it.order for it in items]
    files = model_files(release.parent, "RQ1", policy=AnswerPolicy(0.0))
    assert len(files) == 7
    for f in files:
        ans = load_answers(f.path, ids, orders, AnswerPolicy(0.0))
        for s in cons.score_topics(ans, ids, orders, cons.load_topics()):
            assert 0.5 <= float(s.consistency) <= 1.0, (f.spec.model, s.topic.name)


@pytest.mark.parametrize("models", [["org/m1"], ["org/m1", "m2"]])
def test_panel_titles_do_not_overlap(case, monkeypatch, models):
    """Issue 28: with one or two models the three panels were so narrow that their titles
    ("Gender fairness (Q29, Q30, Q31, Q33)", ...) ran into each other. Each title's drawn box must
    lie inside its own panel's column, left of the next title."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    human, res, out = case
    kept, real = [], Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: kept.append(fig) or real(fig, *a, **k))
    assert load_script("show_results/internal_consistency.py").main(
        argv(human, res, out, "--models", ",".join(models))) == 0
    fig = next(f for f in kept if f._suptitle is not None
               and f._suptitle.get_text().startswith("Internal consistency per topic"))
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [ax.title.get_window_extent(renderer) for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert len(boxes) == 3
    for left, right in zip(boxes, boxes[1:]):
        assert left.x1 < right.x0, (left, right)  # no overlap, left to right
