"""--paper-compat against a small independent re-implementation of the original arithmetic.

The reference below works as the release's notebooks and `rq2_results.py` do: on respondent
microdata (value counts of a country's column), with plain dicts and lists. Our code works on
the prepared long table. Scores must agree to 4 decimals.
"""
from __future__ import annotations

import ast
import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ttest_ind, wasserstein_distance
from wvs_fixtures import load_script, microdata

from utils.analysis.answers import AnswerPolicy, load_answers, model_files, questionnaire_items
from utils.core.human.human_data import load_human
from utils.analysis.paper.answers import first_rows, read_answer, rq1_questions
from utils.analysis.paper.human import PaperHuman, load_paper_human
from utils.analysis.paper.notebooks import item_scores, matrix
from utils.analysis.paper.rq2 import file_scores as rq2_file_scores
from utils.analysis.paper.rules import PaperSide, PAPER
from utils.analysis.rq1.model_level import notebook_tables
from utils.analysis.rules import country_table
from utils.analysis.scoring import Scoring
from utils.analysis.significance import stars
from utils.core.errors import UserError
from utils.core.questionnaire import load_questionnaire, questionnaire_path

prepare_wvs = load_script("dataset/prepare_wvs.py")
rq2_script = load_script("show_results/rq2_steering.py")
SKIP5 = ["Q60", "Q70", "Q90", "Q110", "Q130"]


# ---------------------------------------------------------------- the independent reference
def ref_parse(text):
    try:
        d = ast.literal_eval(text)
    except Exception:  # noqa: BLE001
        d = ast.literal_eval(re.sub(r"(\d+):\s*([\d.]+%)", r"'\1': '\2'", text))
    return {k: float(v.strip("%")) / 100 for k, v in d.items()}


def ref_human(micro, country, item, keys):
    col = micro[item] if country is None else micro[micro["B_COUNTRY"] == country][item]
    n = {k: int((col == int(k)).sum()) for k in keys}
    tot = sum(n.values())
    return None if tot == 0 else {k: v / tot for k, v in n.items()}


def ref_score(support, a, b):
    return 1 - wasserstein_distance(support, support, a, b) / (len(support) - 1)


def ref_matrix_score(a, b):
    """One cell of the matrix notebook, pair by pair with scipy: support 1..N in listed order."""
    s = [ref_score(np.arange(1, len(a[q]) + 1), a[q], b[q]) for q in sorted(set(a) & set(b)) if len(a[q]) == len(b[q])]
    return round(float(np.mean(s)), 4)


def ref_rq1(d1, d2, ids):
    out = []
    for q in ids:
        if q in d1 and q in d2 and len(d1[q]) == len(d2[q]):
            s1, s2 = sorted(d1[q].items()), sorted(d2[q].items())
            out.append(ref_score(np.array([int(k) for k, _ in s1]), [v for _, v in s1], [v for _, v in s2]))
    return out


def ref_first_rows(path, ids):
    df = pd.read_csv(path)
    df = df[df["type"] == "Opinion-Dependent"]
    return {q: ref_parse(df[df["id"] == q]["response"].values[0]) for q in ids if (df["id"] == q).any()}


def ref_rq2_items(path, micro, country, skip):
    df = pd.read_csv(path)
    df = df[df["type"] == "Opinion-Dependent"]
    q_list, probs, options = [], {}, {}
    for _, row in df.iterrows():
        q_list.append(row["id"])
        d = ref_parse(row["response"])
        for k in ast.literal_eval(row["choice_keys"]):
            if k not in d:
                d[k] = 0
        probs[row["id"]], options[row["id"]] = list(d.values()), list(d.keys())
    cm = micro[micro["B_COUNTRY"] == country]
    hum = {}
    for q, opts in options.items():
        n = [len(cm[cm[q] == int(o)]) for o in opts]
        if sum(n):
            hum[q] = [x / sum(n) for x in n]
    for q in skip:
        if q in q_list:
            q_list.remove(q)
    return [ref_score(np.arange(1, len(probs[q]) + 1), probs[q], hum[q]) for q in q_list if q in hum]


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def micro():
    return microdata(7, seed=5)


@pytest.fixture(scope="module")
def human_table(tmp_path_factory, micro):
    d = tmp_path_factory.mktemp("human")
    micro.to_csv(d / "micro.csv", index=False)
    assert prepare_wvs.main(["--wave", "7", "--input", str(d / "micro.csv"), "--output", str(d / "WV7.csv")]) == 0
    return d / "WV7.csv"


def test_doctests():
    import doctest

    from utils.analysis import significance
    from utils.analysis.paper import answers, human, models, notebooks

    for module in (answers, human, models, notebooks, significance):
        assert doctest.testmod(module).failed == 0


def test_read_answer_rules():
    assert read_answer("{'1': '30%', '2': '70%'}") == {"1": 0.3, "2": 0.7}
    assert read_answer("{1: 30%, 2: 70%}") == {"1": 0.3, "2": 0.7}  # bare keys quoted
    assert read_answer("{1: '30%', 2: '80%'}") == {1: 0.3, 2: 0.8}  # int keys kept, no renormalization
    with pytest.raises(UserError, match="cannot read"):
        read_answer("I think 30% say yes", "f.csv, line 3")
    assert [stars(p) for p in (0.2, 0.04, 0.009, 0.0009, float("nan"))] == ["", "*", "**", "***", ""]


def test_hand_worked_rules(tmp_path):
    # RQ1: keys sorted, support from the first argument: W1 = 0.5 over [0, 1, 2] -> 0.75
    assert item_scores({"Q": {"2": .5, "1": .5, "0": 0}}, {"Q": {"2": 1.0, "1": 0.0, "0": 0.0}}, ["Q"]) == [0.75]
    # RQ2: {1: '60%', 2: '40%'} with codes ['1', '2'] -> options [1, 2, '1', '2'], weights [.6, .4, 0, 0];
    # humans {1: 3, 2: 1} looked up by integer value -> [3, 1, 3, 1] / 8; CDF gaps .225 + .5 + .125 = .85
    path = tmp_path / "r.csv"
    write_results(path, [["Q1", "q", "[]", "['1', '2']", "", "Opinion-Dependent", "{1: '60%', 2: '40%'}"]])
    human = PaperHuman({(156, "Q1"): {1: 3.0, 2: 1.0, -1: 5.0}}, {156: "China"}, synthetic=True)
    assert rq2_file_scores(path, human, 156, []) == [pytest.approx(1 - 0.85 / 3, abs=1e-12)]


def test_rq1_country_scores_on_release_answers(reference, human_table, micro):
    files = model_files(reference / "results", "RQ1", "gpt-4,meta-llama/Meta-Llama-3-70B-Instruct")
    side = PaperSide(load_paper_human(human_table), rq1_questions(None, files))
    questions = side.questions
    answers = PAPER.answers(side, files, AnswerPolicy())
    ours = country_table(PAPER, side, {m: PAPER.country_scores(side, a) for m, a in answers.items()})
    assert len(ours) == 2 * 3
    for r in ours.itertuples():
        llm = ref_first_rows(next(f.path for f in files if f.spec.model == r.model), questions)
        hum = {q: h for q, k in questions.items() if (h := ref_human(micro, r.country_code, q, k)) is not None}
        s = ref_rq1(llm, hum, questions)
        assert (r.score, r.std, r.n_items) == (round(np.mean(s), 4), round(np.std(s), 4), len(s))


def test_rq1_model_level_extras_on_release_answers(reference, human_table, micro):
    files = model_files(reference / "results", "RQ1", "deepseek-chat,meta-llama/Meta-Llama-3-70B-Instruct")
    questions = rq1_questions(None, model_files(reference / "results", "RQ1"))
    assert list(questions)[-1] == "Q110"  # gpt-4's row order, which picks the consistency item
    side = PaperSide(load_paper_human(human_table), questions)
    summary, per_country = notebook_tables(PAPER, side, PAPER.answers(side, files, AnswerPolicy()))
    pooled = {q: h for q, k in questions.items() if (h := ref_human(micro, None, q, k)) is not None}
    for r in summary.itertuples():
        llm = {q: d for q, d in ref_first_rows(next(f.path for f in files if f.spec.model == r.model), questions).items()
               if q not in SKIP5}
        s = ref_rq1(pooled, llm, questions)  # the notebook passes the human side first
        score = round(np.mean(s), 4)
        assert r.pooled_score == score
        assert r.max_minus_score == round(round(max(s), 4) - score, 4)
        assert r.score_minus_min == round(score - round(min(s), 4), 4)
        last = list(llm.values())[-1]  # only the last item's entropy reaches the notebook's list
        p = [v for v in last.values() if v > 0]
        p = [v / sum(p) for v in p]
        assert r.consistency == round(-sum(v * math.log2(v) for v in p) / math.log2(len(last)), 4)
        country = [round(np.mean(ref_rq1(llm, {q: h for q, k in questions.items()
                                               if (h := ref_human(micro, c, q, k)) is not None}, questions)), 4)
                   for c in (156, 276, 840)]
        mine = per_country[per_country["model"] == r.model].set_index("country_code")["score"]
        assert [mine[c] for c in (156, 276, 840)] == country
        assert r.mean_country_score == pytest.approx(np.mean(country), abs=1e-12)


def test_rq1_default_and_paper_compat_differ_only_on_q119(reference, human_table):
    """The same answers and humans: only Q119, whose code 0 the original sorts first and the
    default places last (its semantic order), scores differently."""
    path = reference / "results" / "RQ1" / "gpt-4" / "results.csv"
    ids, orders = questionnaire_items()
    sc = Scoring.build(load_human(human_table, ids, orders))
    default = sc.scores(load_answers(path, ids, orders))  # [C, I]
    questions = rq1_questions(None)
    paper = first_rows(model_files(reference / "results", "RQ1", "gpt-4")[0].path, questions)
    h = load_paper_human(human_table)
    for ci, c in enumerate(sc.human.country_codes):
        hum = h.dists(questions, int(c))
        for ii, q in enumerate(ids):
            (p,) = item_scores(paper, hum, [q])
            if q == "Q119":
                assert abs(p - default[ci, ii]) > 1e-3
            else:
                assert p == pytest.approx(default[ci, ii], abs=1e-12)


def test_matrix_rule_support_in_listed_order(reference, human_table, micro):
    questions = rq1_questions(None)
    h = load_paper_human(human_table)
    a, b = ({q: list(d.values()) for q, d in h.dists(questions, c).items()} for c in (156, 276))
    ref = []
    def shares(country, q):
        n = [int((micro[micro.B_COUNTRY == country][q] == int(k)).sum()) for k in questions[q]]
        return [x / sum(n) for x in n]

    for q in sorted(set(a) & set(b)):
        pa, pb = shares(156, q), shares(276, q)
        ref.append(ref_score(np.arange(1, len(pa) + 1), pa, pb))
    assert ref_matrix_score(a, b) == round(np.mean(ref), 4)
    m = {q: list(d.values()) for q, d in first_rows(reference / "results" / "RQ1" / "gpt-4" / "results.csv",
                                                   questions, any_type=True).items()}
    full = matrix([a, b, m])  # the fast all-pairs version gives the same digits as scipy's per pair
    assert full[0, 1] == full[1, 0] == round(np.mean(ref), 4)
    assert full[2, 0] == ref_matrix_score(m, a) and full[1, 2] == ref_matrix_score(b, m)
    raw = pd.read_csv(reference / "results" / "RQ1" / "gpt-4" / "results.csv").drop_duplicates("id").set_index("id")
    assert m["Q119"] == [float(v.strip("%")) / 100 for v in ast.literal_eval(raw.loc["Q119", "response"]).values()]


# ---------------------------------------------------------------- RQ2, answer files written here
ITEMS = ["Q1", "Q2", "Q45", "Q60", "Q70", "Q106", "Q110", "Q119", "Q122", "Q150", "Q160"]


def _fmt(keys, p, int_keys=False, bare=False):
    parts = [f"{k if int_keys or bare else repr(k)}: {x * 100:.1f}%" if bare else
             f"{int(k) if int_keys else repr(k)}: '{x * 100:.1f}%'" for k, x in zip(keys, p)]
    return "{" + ", ".join(parts) + "}"


def write_results(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["id", "question", "choices", "choice_keys", "answer", "type", "response"]).to_csv(
        path, index=False)


def rq2_rows(seed, messy):
    """Answers for ITEMS; `messy`: integer keys, a missing key, bare keys, duplicated ids, a culture row."""
    rng = np.random.default_rng(seed)
    q = {it.id: {"choice_keys": list(it.choice_keys)} for it in load_questionnaire(questionnaire_path("English"))}
    rows = []
    for i, item in enumerate(ITEMS):
        keys = q[item]["choice_keys"]
        p = rng.dirichlet(np.ones(len(keys)))
        resp = _fmt(keys, p)
        if messy and i % 4 == 1:
            resp = _fmt(keys, p, int_keys=True)  # {1: '30%'}: 2N options
        elif messy and i % 4 == 2:
            resp = _fmt(keys[:-1], p[:-1] / p[:-1].sum())  # last option missing
        elif messy and i % 4 == 3:
            resp = _fmt(keys, p, bare=True)  # {1: 30%}: the fallback
        rows.append([item, "q", "[]", repr(keys), "", "Opinion-Dependent", resp])
    if messy:
        rows.append(["Q60", "q", "[]", repr(q["Q60"]["choice_keys"]), "", "Opinion-Dependent", _fmt(["1", "2", "3", "4"], [.7, .1, .1, .1])])
        rows.append(["Q2", "q", "[]", repr(q["Q2"]["choice_keys"]), "", "Opinion-Dependent", _fmt(["1", "2", "3", "4"], [.1, .2, .3, .4])])
        rows.append(["Q1", "q", "[]", "['1', '2']", "", "Culture-Dependent", "{'1': '100%'}"])
    return rows


@pytest.fixture(scope="module")
def rq2_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    for m, model in enumerate(["model-a", "org/model-b"]):
        write_results(root / "RQ1" / model / "results.csv", rq2_rows(10 + m, messy=False))
        for j, method in enumerate(["persona", "language", "few-shot"]):
            write_results(root / "RQ2" / method / "China" / model / "results.csv", rq2_rows(20 + 3 * m + j, messy=j > 0))
    return root


def test_rq2_scores_and_stars_match_the_reference(tmp_path, rq2_root, human_table, micro):
    out = tmp_path / "out"
    assert rq2_script.main(["--paper-compat", "--human", str(human_table), "--results-root", str(rq2_root),
                            "--out", str(out)]) == 0
    df = pd.read_csv(out / "rq2_steering_scores_paper_compat.csv", keep_default_na=False, na_values=[""])
    skip = ["Q60", "Q70", "Q110", "Q150", "Q160"]  # China's few-shot items; Q60 twice, so once stays
    items = {}
    for model in ["model-a", "org/model-b"]:
        for method in ["none", "persona", "language", "few-shot"]:
            path = rq2_root / ("RQ1" if method == "none" else f"RQ2/{method}/China") / model / "results.csv"
            items[(model, method)] = s = ref_rq2_items(path, micro, 156, skip)
            r = df[(df.model == model) & (df.method == method)].iloc[0]
            assert (r.score, r.n_items) == (round(np.mean(s), 4), len(s))
            if method != "none":
                p = ttest_ind(s, items[(model, "none")]).pvalue
                assert r.p_value == pytest.approx(p, rel=1e-5)  # written with 6 significant digits
                assert (r.stars if isinstance(r.stars, str) else "") == stars(p)
    for method in ["none", "persona", "language", "few-shot"]:
        r = df[(df.model == "AVG") & (df.method == method)].iloc[0]
        rounded = [round(np.mean(items[(m, method)]), 4) for m in ["model-a", "org/model-b"]]
        assert r.score == round(np.mean(rounded), 4)
        if method != "none":
            pooled = items[("model-a", method)] + items[("org/model-b", method)]
            base = items[("model-a", "none")] + items[("org/model-b", "none")]
            assert r.p_value == pytest.approx(ttest_ind(pooled, base).pvalue, rel=1e-5)
    # the messy files really exercise the slips: 2N options, duplicates kept twice, first Q60 removed
    assert len(items[("model-a", "language")]) == len(ITEMS) - 5 + 1 + 1
    table = pd.read_csv(out / "rq2_paper_table_paper_compat.csv", keep_default_na=False)
    assert list(table["Condition"]) == ["No Steering", "+Language", "Persona", "Few-shot"]
    assert list(table.columns) == ["Country", "Condition", "model-a", "model-b", "AVG"]


def test_default_and_paper_compat_differ_where_they_should(tmp_path, rq2_root, human_table):
    """Clean answers (string keys in the item's order, no Q119): both modes give the same score
    and, with --test ind, the same p-value; messy answers (integer keys, duplicates): they differ."""
    a, b = tmp_path / "a", tmp_path / "b"
    common = ["--human", str(human_table), "--results-root", str(rq2_root), "--test", "ind"]
    assert rq2_script.main([*common, "--paper-compat", "--out", str(a)]) == 0
    assert rq2_script.main([*common, "--min-coverage", "0", "--out", str(b)]) == 0
    pc = pd.read_csv(a / "rq2_steering_scores_paper_compat.csv").set_index(["model", "method"])
    de = pd.read_csv(b / "rq2_steering_scores.csv").set_index(["model", "method"])
    for model in ["model-a", "org/model-b"]:
        # clean files differ only by Q119's code 0 (support 1..5 in listed order vs the semantic order: same here)
        assert pc.loc[(model, "persona"), "score"] == round(de.loc[(model, "persona"), "score"], 4)
        assert pc.loc[(model, "persona"), "p_value"] == pytest.approx(de.loc[(model, "persona"), "p_value"], rel=1e-9)
        assert abs(pc.loc[(model, "language"), "score"] - de.loc[(model, "language"), "score"]) > 1e-3


SCRIPTS = {"show_results/rq1_country_level.py": ["rq1_country_scores_paper_compat.csv"],
           "show_results/rq1_model_level.py": ["rq1_model_scores_paper_compat.csv",
                                               "rq1_model_country_scores_paper_compat.csv"],
           "show_results/human_alignment_matrix.py": ["human_alignment_matrix_paper_compat.csv",
                                                      "human_alignment_matrix_12_paper_compat.csv"],
           "show_results/sensitivity.py": ["sensitivity_scores_paper_compat.csv"],
           "show_results/rq3_temporal.py": ["rq3_country_scores_paper_compat.csv", "rq3_temporal_paper_compat.csv"]}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_script_takes_paper_compat(tmp_path, script, rq2_root, human_table):
    root = tmp_path / "results"
    for model in ("model-a", "org/model-b"):
        write_results(root / "RQ1" / model / "results.csv", rq2_rows(1 if model == "model-a" else 2, messy=False))
    write_results(root / "Discussion" / "sensitivity" / "order" / "model-a" / "results.csv", rq2_rows(3, False))
    human = [str(human_table)]
    if script.endswith("rq3_temporal.py"):
        human = []
        for wave in (5, 6):
            microdata(wave, seed=wave).to_csv(tmp_path / f"m{wave}.csv", index=False)
            assert prepare_wvs.main(["--wave", str(wave), "--input", str(tmp_path / f"m{wave}.csv"),
                                     "--output", str(tmp_path / f"WV{wave}.csv")]) == 0
            human.append(str(tmp_path / f"WV{wave}.csv"))
        human.append(str(human_table))
    out = tmp_path / "out"
    assert load_script(script).main(["--paper-compat", "--human", *human, "--results-root", str(root),
                                     "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(SCRIPTS[script])  # no default-mode outputs
    first = pd.read_csv(out / SCRIPTS[script][0])
    if script.endswith("rq1_country_level.py"):
        assert sorted(first["country_code"].unique()) == [156, 276, 840] and set(first["model"]) == {"model-a",
                                                                                                   "org/model-b"}
    if script.endswith("rq3_temporal.py"):
        assert sorted(first["wave"].unique()) == [5, 6, 7]
    if script.endswith("sensitivity.py"):
        assert sorted(first["variant"]) == ["default", "default", "order"]
    if script.endswith("human_alignment_matrix.py"):
        assert first["kind"].tolist() == ["country"] * 3 + ["model"] * 2
        assert first["label"].tolist()[3:] == ["model-a", "model-b"]  # short names, as the default's
        m = first.drop(columns=["label", "kind"]).to_numpy()
        assert np.allclose(m, m.T, equal_nan=True)
        small = pd.read_csv(out / SCRIPTS[script][1])  # of the default 12, the fixture has 840 and 156
        names = first["label"].tolist()
        us, china = names[[156, 276, 840].index(840)], names[[156, 276, 840].index(156)]
        assert small["label"].tolist() == [us, china, "model-a", "model-b"]
        assert small.loc[0, china] == first.set_index("label").loc[us, china]
