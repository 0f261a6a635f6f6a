"""`--bootstrap items|respondents` in rq1_model_level.py (the pooled score's interval) and
elicitation.py (the alignment intervals of elicitation_methods.csv), on small tables written here,
against independent computations in the test: scipy's Wasserstein distance per item, the item
bootstraps with the scripts' documented draws, and, for `respondents`, a plain loop of multinomials
on utils/analysis/resample.py's documented draw order (per draw: the item picks, then every country x
item cell with answers, countries outer, in the table's item order), so the intervals match exactly.
Two facts of the scripts' arrays shape the draws and are taken from the questionnaire: the item
axis is every questionnaire item (metrics.bootstrap_ci draws one uniform per draw and item of it),
and the counts are zero-padded to the widest item (utils/core/human/human_data.py), which numpy's
multinomial sees in its draws.

The human counts are small (8-15 answers per country and item), so the survey's sampling error is
of the size of the spread between items and the respondent intervals are clearly wider."""
from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wasserstein_distance
from wvs_fixtures import load_script

from utils.analysis.answers import questionnaire_items
from utils.study import analyses

ITEMS = ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6"]  # four options each, codes 1-4 in order
COUNTRIES = [156, 276, 840]
BASE = np.array([.4, .3, .2, .1])
N_BOOT, SEED = 400, 3
_IDS, _ORDERS = questionnaire_items()
N_AXIS, K_MAX = len(_IDS), max(map(len, _ORDERS))  # the scripts' item axis and option width
assert _IDS[:len(ITEMS)] == ITEMS  # our items lead the axis, in our order
COLUMNS = ["id", "question", "choices", "choice_keys", "answer", "type", "response", "distribution", "method",
           "status", "experiment", "model", "steering_method", "country", "language", "variant"]


def w1_score(p, q):
    pos = np.arange(len(p))
    return 1 - wasserstein_distance(pos, pos, p, q) / (len(p) - 1)


def write_counts(path, counts):
    rows = [{"country_code": c, "item_id": q, "option": str(k + 1), "count": int(counts[ci, qi, k])}
            for ci, c in enumerate(COUNTRIES) for qi, q in enumerate(ITEMS) for k in range(4)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def write_shares(path, counts, known=None):
    """Shares of each cell's answers, with `n` where `known` [C, I] (None: nowhere)."""
    rows = []
    for ci, c in enumerate(COUNTRIES):
        for qi, q in enumerate(ITEMS):
            total = counts[ci, qi].sum()
            n = int(total) if known is not None and known[ci, qi] else None
            rows += [{"country_code": c, "item_id": q, "option": str(k + 1), "share": counts[ci, qi, k] / total,
                      "n": n} for k in range(4)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def write_results(path, model, answers, method):
    """Our results.csv for `answers` {item: distribution}; items left out are not answered."""
    path.mkdir(parents=True, exist_ok=True)
    with open(path / "results.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, COLUMNS)
        w.writeheader()
        for q, d in answers.items():
            w.writerow({"id": q, "question": "?", "choices": repr(["a"] * 4), "choice_keys": "['1', '2', '3', '4']",
                        "answer": "", "type": "Opinion-Dependent", "response": "",
                        "distribution": json.dumps({str(k + 1): float(d[k]) for k in range(4)}), "method": method,
                        "status": "ok", "experiment": "RQ1", "model": model, "steering_method": "none",
                        "country": "", "language": "English", "variant": "default"})


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """Counts [C, I, K]; model-a answers every item, model-b all but Q6 (logprob, root A); model-a's
    sampled answers (root B) miss Q6 too, so the methods compare on Q1-Q5."""
    root = tmp_path_factory.mktemp("boot")
    rng = np.random.default_rng(7)
    counts = np.array([[rng.multinomial(rng.integers(8, 16), BASE) for _ in ITEMS] for _ in COUNTRIES], float)
    answers = {"org/model-a": rng.dirichlet(BASE * 60, size=len(ITEMS)),
               "org/model-b": rng.dirichlet(BASE * 60, size=len(ITEMS))}
    answers["org/model-b"][-1] = np.nan
    sampled = rng.dirichlet(BASE * 20, size=len(ITEMS))
    sampled[-1] = np.nan
    for model, ans in answers.items():
        write_results(root / "A" / "RQ1" / model, model, {q: a for q, a in zip(ITEMS, ans) if np.isfinite(a).all()},
                      "logprob")
    write_results(root / "B" / "RQ1" / "org/model-a", "org/model-a", dict(zip(ITEMS[:-1], sampled[:-1])), "sample")
    return {"root": root, "counts": counts, "answers": answers, "sampled": sampled,
            "human": write_counts(root / "human.csv", counts)}


def run_script(name, human, out, *extra):
    script = load_script(f"show_results/{name}.py")
    assert script.main(["--human", str(human), "--out", str(out), "--formats", "png", "--min-coverage", "0",
                        "--n-boot", str(N_BOOT), "--seed", str(SEED), *extra]) == 0


# ------------------------------------------------------------------ independent computations

def shares(counts):
    return counts / counts.sum(-1, keepdims=True)


def item_ci(scores):
    """metrics.bootstrap_ci's documented draws: one uniform per draw and item from the seed, the
    first m of them picking among the m scored items (in order)."""
    present = scores[np.isfinite(scores)]
    m = present.size
    u = np.random.default_rng(SEED).random((N_BOOT, N_AXIS))
    idx = np.minimum((u[:, :m] * m).astype(int), m - 1)
    return np.percentile(present[idx].mean(1), [2.5, 97.5])


def respondent_loop(counts, score_draw, n_items, known=None):
    """resample.py's draw order as a plain loop: per draw, the picks of `n_items` items (from the
    seed's stream), then (from the stream of [seed, 1]) one multinomial per cell with answers (and `known`), countries outer, over the options padded with
    zeros to K_MAX; `score_draw(drawn counts [C, I, 4], picks)` -> one value per answer set.
    Returns [draws, sets]."""
    rng, people = np.random.default_rng(SEED), np.random.default_rng([SEED, 1])
    out = []
    for _ in range(N_BOOT):
        picks = rng.integers(0, n_items, n_items)
        drawn = counts.copy()
        for c in range(counts.shape[0]):
            for i in range(counts.shape[1]):
                n = counts[c, i].sum()
                if n > 0 and (known is None or known[c, i]):
                    p = np.zeros(K_MAX)
                    p[:4] = counts[c, i] / n
                    p /= p.sum()  # as resample_counts: shares summing to 1 (an ulp off moves a draw)
                    drawn[c, i] = people.multinomial(int(round(n)), p)[:4]
        out.append(score_draw(drawn, picks))
    return np.array(out)


def pooled_scores(ans, pooled):
    """[I] scipy W1 score of [I, K] answers against [I, K] pooled counts, NaN where either is missing."""
    return np.array([w1_score(a, p / p.sum()) if np.isfinite(a).all() and np.isfinite(p).all() and p.sum() > 0
                     else np.nan for a, p in zip(ans, pooled)])


def pooled_loop(counts, answer_sets, known=None):
    """[sets, 2] respondent intervals of the pooled scores; items where some country's count is
    unknown have no pooled population (and no score), and the picks are among the items some set
    scores."""
    all_known = np.ones(len(ITEMS), bool) if known is None else known.all(0)
    scored = all_known & np.any([np.isfinite(a).all(-1) for a in answer_sets], axis=0)

    def score_draw(drawn, picks):
        pooled = drawn.sum(0)
        return [np.nanmean(pooled_scores(a[scored], pooled)[picks]) for a in answer_sets]

    draws = respondent_loop(counts[:, scored], score_draw, int(scored.sum()),
                            None if known is None else known[:, scored])
    return np.percentile(draws, [2.5, 97.5], axis=0).T


def alignment_loop(counts, answer_sets, items, mode):
    """[sets, 2] intervals of the mean over countries of each country's mean over the picked
    `items` ([I] bool): `respondents` resamples every cell (of those items), `none` no cell."""
    sub = counts[:, items]
    m = int(items.sum())

    def score_draw(drawn, picks):
        s = shares(drawn)
        return [np.mean([np.mean([w1_score(a[items][i], s[c, i]) for i in picks]) for c in range(len(sub))])
                for a in answer_sets]

    known = None if mode == "respondents" else np.zeros(sub.shape[:2], bool)
    return np.percentile(respondent_loop(sub, score_draw, m, known), [2.5, 97.5], axis=0).T


UNIFORM = np.full((len(ITEMS), 4), 0.25)


# ------------------------------------------------------------------ rq1_model_level.py

@pytest.fixture(scope="module")
def model_level(case, tmp_path_factory):
    out = tmp_path_factory.mktemp("model_level")
    got = {}
    for mode in ("default", "items", "respondents"):
        run_script("rq1_model_level", case["human"], out / mode, "--results-root", str(case["root"] / "A"),
                   *([] if mode == "default" else ["--bootstrap", mode]))
        got[mode] = pd.read_csv(out / mode / "rq1_model_scores.csv")
    return got


def test_model_level_items_is_the_item_bootstrap_of_before(case, model_level):
    got = model_level["items"]
    pd.testing.assert_frame_equal(got, model_level["default"])
    pooled = case["counts"].sum(0)
    rows = got.set_index(["kind", "model", "items_of"])
    for model, ans in case["answers"].items():
        s = pooled_scores(ans, pooled)
        r = rows.loc[("model", model, model)]
        assert r["pooled_score"] == pytest.approx(np.nanmean(s), abs=1e-6)
        assert (r["pooled_ci_low"], r["pooled_ci_high"]) == pytest.approx(tuple(item_ci(s)), abs=1e-6)
        uni = rows.loc[("baseline", "uniform answer", model)]  # the models answered different items
        u = pooled_scores(np.where(np.isfinite(ans), UNIFORM, np.nan), pooled)
        assert (uni["pooled_ci_low"], uni["pooled_ci_high"]) == pytest.approx(tuple(item_ci(u)), abs=1e-6)


def test_model_level_respondents_matches_a_loop_and_is_wider(case, model_level):
    items, resp = model_level["items"], model_level["respondents"]
    ci = ["pooled_ci_low", "pooled_ci_high"]
    pd.testing.assert_frame_equal(resp.drop(columns=ci), items.drop(columns=ci))  # only the interval moves
    answers = list(case["answers"].values())
    sets = answers + [np.where(np.isfinite(a), UNIFORM, np.nan) for a in answers]  # the rows' order
    want = pooled_loop(case["counts"], sets)
    got = np.r_[resp.loc[resp["kind"] == "model", ci].to_numpy(), resp.loc[resp["kind"] == "baseline", ci].to_numpy()]
    np.testing.assert_allclose(got, want, atol=1e-6)
    scored = resp["kind"] != "ceiling"
    width = {m: (d.loc[scored, "pooled_ci_high"] - d.loc[scored, "pooled_ci_low"]).to_numpy() for m, d in
             model_level.items()}
    assert (width["respondents"] > width["items"]).all(), width
    assert resp.loc[~scored, ci].isna().all().all()  # the ceiling has no pooled score in either mode


def test_model_level_shares_without_n(case, tmp_path):
    """Shares without `n` have no pooled population: no pooled score and no interval in either
    mode, the rest as with items. With `n` for all cells but one, that item is left out of the
    pooled score and the other cells are resampled."""
    got, human = {}, write_shares(tmp_path / "none.csv", case["counts"])
    for mode in ("items", "respondents"):
        run_script("rq1_model_level", human, tmp_path / mode, "--results-root", str(case["root"] / "A"),
                   "--bootstrap", mode)
        got[mode] = pd.read_csv(tmp_path / mode / "rq1_model_scores.csv")
    pd.testing.assert_frame_equal(got["respondents"], got["items"])
    assert got["items"][["pooled_score", "pooled_ci_low", "pooled_ci_high"]].isna().all().all()

    known = np.ones((len(COUNTRIES), len(ITEMS)), bool)
    known[1, 2] = False  # Germany's Q3: shares without n
    run_script("rq1_model_level", write_shares(tmp_path / "some.csv", case["counts"], known), tmp_path / "some",
               "--results-root", str(case["root"] / "A"), "--bootstrap", "respondents")
    d = pd.read_csv(tmp_path / "some" / "rq1_model_scores.csv")
    a = case["answers"]["org/model-a"]
    pooled = np.where(known.all(0)[:, None], case["counts"].sum(0), np.nan)
    r = d[(d["kind"] == "model") & (d["model"] == "org/model-a")].iloc[0]
    assert r["pooled_score"] == pytest.approx(np.nanmean(pooled_scores(a, pooled)), abs=1e-6)
    share = case["counts"] / case["counts"].sum(-1, keepdims=True)  # as written, then read back as documented:
    read = share / share.sum(-1, keepdims=True) * case["counts"].sum(-1, keepdims=True)  # n * share / sum of shares
    want = pooled_loop(read, [a], known)[0]
    assert (r["pooled_ci_low"], r["pooled_ci_high"]) == pytest.approx(tuple(want), abs=1e-6)


def test_model_level_paper_compat_refuses_respondents(case, tmp_path, capsys):
    script = load_script("show_results/rq1_model_level.py")
    argv = ["--human", str(case["human"]), "--results-root", str(case["root"] / "A"), "--out", str(tmp_path),
            "--paper-compat", "--bootstrap", "respondents"]
    with pytest.raises(SystemExit) as exc:  # refused with the flags, before anything is read
        script.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "cannot be combined with --bootstrap respondents" in err


# ------------------------------------------------------------------ elicitation.py

@pytest.fixture(scope="module")
def elicited(case, tmp_path_factory):
    out = tmp_path_factory.mktemp("elicitation")
    got = {}
    for mode in ("default", "items", "respondents"):
        run_script("elicitation", case["human"], out / mode, "--compare", str(case["root"] / "A"),
                   str(case["root"] / "B"), *([] if mode == "default" else ["--bootstrap", mode]))
        got[mode] = {t: pd.read_csv(out / mode / f"elicitation_{t}.csv") for t in ("items", "pairs", "methods")}
    return got


def method_sets(case):
    """The rows of elicitation_methods.csv with an interval, in its order, and their answers."""
    return {"uniform answer": UNIFORM, "logprob": case["answers"]["org/model-a"], "sample": case["sampled"]}


COMMON = np.array([True] * 5 + [False])  # Q1-Q5: both methods answered


def test_elicitation_items_is_the_item_bootstrap_of_before(case, elicited):
    got = elicited["items"]
    for t in ("items", "pairs", "methods"):
        pd.testing.assert_frame_equal(got[t], elicited["default"][t])
    m = got["methods"].set_index("method")
    sh = shares(case["counts"])
    idx = np.random.default_rng(SEED).integers(0, 5, size=(N_BOOT, 5))  # bootstrap_country_mean's draws
    for method, ans in method_sets(case).items():
        s = np.array([[w1_score(ans[i], sh[c, i]) for i in range(5)] for c in range(len(COUNTRIES))])
        assert m.loc[method, "alignment"] == pytest.approx(s.mean(), abs=1e-6)
        boot = s[:, idx].mean(-1).mean(0)
        assert (m.loc[method, "ci_low"], m.loc[method, "ci_high"]) == pytest.approx(
            tuple(np.percentile(boot, [2.5, 97.5])), abs=1e-6)


def test_elicitation_respondents_matches_a_loop_and_is_wider(case, elicited):
    items, resp = elicited["items"], elicited["respondents"]
    pd.testing.assert_frame_equal(resp["items"], items["items"])
    pd.testing.assert_frame_equal(resp["pairs"], items["pairs"])  # method against method: no human answers
    ci = ["ci_low", "ci_high"]
    pd.testing.assert_frame_equal(resp["methods"].drop(columns=ci), items["methods"].drop(columns=ci))
    sets = method_sets(case)
    want = alignment_loop(case["counts"], list(sets.values()), COMMON, "respondents")
    got = resp["methods"].set_index("method")
    np.testing.assert_allclose(got.loc[list(sets), ci].to_numpy(), want, atol=1e-6)
    before = items["methods"].set_index("method").loc[list(sets)]
    width = got.loc[list(sets), "ci_high"] - got.loc[list(sets), "ci_low"]
    width_before = before["ci_high"] - before["ci_low"]
    assert (width > width_before).all(), (width, width_before)
    assert got.loc["human (mean over countries)", ci].isna().all()


def test_elicitation_shares_without_n_are_not_resampled(case, tmp_path):
    """Without `n` no cell is resampled: the interval is the bootstrap over items, on
    resample.py's draws (one set of picks per draw), and the alignments stay as they are."""
    human = write_shares(tmp_path / "none.csv", case["counts"])
    got = {}
    for mode in ("items", "respondents"):
        run_script("elicitation", human, tmp_path / mode, "--compare", str(case["root"] / "A"),
                   str(case["root"] / "B"), "--bootstrap", mode)
        got[mode] = pd.read_csv(tmp_path / mode / "elicitation_methods.csv").set_index("method")
    ci = ["ci_low", "ci_high"]
    pd.testing.assert_frame_equal(got["respondents"].drop(columns=ci), got["items"].drop(columns=ci))
    sets = method_sets(case)
    want = alignment_loop(case["counts"], list(sets.values()), COMMON, "none")
    np.testing.assert_allclose(got["respondents"].loc[list(sets), ci].to_numpy(), want, atol=1e-6)


# ------------------------------------------------------------------ the study runner

def test_study_script_flags_pass_bootstrap_respondents(case, model_level, elicited, tmp_path):
    """`[analysis.scripts.rq1_model_level] bootstrap = "respondents"` (and elicitation's) reach the
    scripts as --bootstrap respondents; the paper-compat pass leaves it out."""
    flags = {"min_coverage": 0, "formats": ["png"], "seed": SEED, "paper_compat": True}
    script_flags = {s: {"bootstrap": "respondents", "n_boot": N_BOOT} for s in ("rq1_model_level", "elicitation")}
    fig = tmp_path / "figs"
    out = analyses.run_analyses(case["root"] / "A", fig, {7: case["human"]}, flags, script_flags, log=lambda s: None,
                                only=("rq1_model_level",))
    assert [(o.script, o.status, o.paper_compat) for o in out] == [("rq1_model_level", "ok", False),
                                                                   ("rq1_model_level", "ok", True)]
    pd.testing.assert_frame_equal(pd.read_csv(fig / "rq1_model_scores.csv"), model_level["respondents"])
    out = analyses.run_comparison([case["root"] / "A", case["root"] / "B"], fig / "cmp", {7: case["human"]}, flags,
                                  script_flags, log=lambda s: None)
    assert [(o.script, o.status) for o in out] == [("elicitation", "ok")]
    said = []
    again = analyses.run_comparison([case["root"] / "A", case["root"] / "B"], fig / "cmp", {7: case["human"]},
                                    flags, script_flags, log=said.append)
    assert said == ["  elicitation: up to date"] and [(o.script, o.status) for o in again] == [("elicitation", "ok")]
    pd.testing.assert_frame_equal(pd.read_csv(fig / "cmp" / "elicitation_methods.csv"),
                                  elicited["respondents"]["methods"])
    log = (fig / "logs" / "rq1_model_level.paper_compat.log").read_text()  # the paper's pass, items bootstrap
    assert log.splitlines()[0].endswith("--paper-compat, as the study ran it") and "wrote " in log


def test_both_modes_pick_the_same_items():
    """The item picks have their own stream, the people another: a score that does not depend on
    the shares gives the same draws in both modes, so the two intervals are paired (and differ by
    the survey's error alone)."""
    from utils.analysis import resample
    rng = np.random.default_rng(5)
    counts = rng.integers(1, 30, size=(3, 6, 4)).astype(float)
    fixed = rng.random((3, 6))
    items = resample.country_draws([lambda shares: fixed], counts, 50, seed=3, mode="items")
    people = resample.country_draws([lambda shares: fixed], counts, 50, seed=3, mode="respondents")
    np.testing.assert_array_equal(people, items)
    picks = np.random.default_rng(3)
    expected = [fixed[:, picks.integers(0, 6, 6)].mean(1) for _ in range(50)]
    np.testing.assert_allclose(items[0], expected)
