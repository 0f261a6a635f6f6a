"""show_results/elicitation.py on a tiny case worked out by hand (the countries of test_figures).

m1 answered by two probe methods, in two results roots:

    item  verbalized (root A)   logprob (root B)     China           Germany
    Q1    1: 100%               1: 50%, 2: 50%       10, 10, 0, 0    0, 0, 0, 20
    Q57   1: 50%, 2: 50%        1: 75%, 2: 25%       30, 10          10, 30
    Q119  1: 100%               (not answered)

Only Q1 and Q57 are compared. Agreement (W1): Q1 CDFs (1,1,1) vs (.5,1,1) -> 1 - .5/3 = 5/6;
Q57 -> .75. Alignment, verbalized: China (5/6 + .75)/2, Germany (0 + .75)/2 -> mean .583333;
logprob: China 1, Germany (1/6 + .5)/2 -> mean 2/3. Entropy: verbalized (0 + 1)/2; logprob
(.5 + H(.75, .25)/log 2)/2.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from test_figures import write_human
from wvs_fixtures import load_script

KEYS = {"Q1": ["1", "2", "3", "4"], "Q57": ["1", "2"], "Q119": ["1", "2", "3", "4", "0"]}
VERBALIZED = {"Q1": {"1": 100}, "Q57": {"1": 50, "2": 50}, "Q119": {"1": 100}}
LOGPROB = {"Q1": {"1": 50, "2": 50}, "Q57": {"1": 75, "2": 25}}
SAMPLE = {"Q1": {"2": 100}, "Q57": {"1": 100}, "Q119": {"1": 100}}
H = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25)) / np.log(2)


def write_run(path, answers, method=None, **identity):
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"id": i, "question": "q", "choices": str(KEYS[i]), "choice_keys": str(KEYS[i]), "answer": "",
             "type": "Opinion-Dependent", "response": str({k: f"{v}%" for k, v in d.items()}),
             **({"method": method} if method else {}), **identity} for i, d in answers.items()]
    pd.DataFrame(rows).to_csv(path, index=False)


@pytest.fixture
def roots(tmp_path):
    a, b = tmp_path / "paper", tmp_path / "logprob"
    write_run(a / "RQ1" / "org" / "m1" / "results.csv", VERBALIZED)  # the release's columns: verbalized
    write_run(b / "RQ1" / "org" / "m1" / "results.csv", LOGPROB, "logprob")
    write_run(b / "RQ1" / "m2" / "results.csv", LOGPROB, "logprob")  # one method only: a note
    return write_human(tmp_path / "WV7.csv"), a, b, tmp_path / "out"


def run(human, out, *extra):
    script = load_script("show_results/elicitation.py")
    return script.main(["--human", str(human), "--out", str(out), "--formats", "png", "--n-boot", "300",
                        "--min-coverage", "0", *extra])


def test_two_roots_hand_values(roots, capsys):
    human, a, b, out = roots
    assert run(human, out, "--compare", str(a), str(b)) == 0
    assert "note: m2: only logprob results" in capsys.readouterr().out
    items = pd.read_csv(out / "elicitation_items.csv")
    assert items[["method_a", "method_b"]].drop_duplicates().values.tolist() == [["logprob", "verbalized"]]
    assert dict(zip(items["item_id"], items["agreement"])) == pytest.approx({"Q1": 5 / 6, "Q57": 0.75}, abs=1e-6)
    pairs = pd.read_csv(out / "elicitation_pairs.csv").iloc[0]
    assert pairs["agreement"] == pytest.approx((5 / 6 + 0.75) / 2, abs=1e-6) and pairs["n_items"] == 2
    assert pairs["ci_low"] == pytest.approx(0.75, abs=1e-6) and pairs["ci_high"] == pytest.approx(5 / 6, abs=1e-6)
    m = pd.read_csv(out / "elicitation_methods.csv").set_index("method")
    assert m.loc["verbalized", "alignment"] == pytest.approx(((5 / 6 + 0.75) / 2 + 0.375) / 2, abs=1e-6)
    assert m.loc["logprob", "alignment"] == pytest.approx(2 / 3, abs=1e-6)
    assert m.loc["verbalized", "entropy"] == pytest.approx(0.5, abs=1e-6)
    assert m.loc["logprob", "entropy"] == pytest.approx((0.5 + H) / 2, abs=1e-6)
    assert m.loc["human (mean over countries)", "entropy"] == pytest.approx((0.5 + H + 0 + H) / 4, abs=1e-6)
    # uniform answer on Q1, Q57: China (2/3 + .75)/2, Germany (.5 + .75)/2
    assert m.loc["uniform answer", "alignment"] == pytest.approx(((2 / 3 + 0.75) / 2 + 0.625) / 2, abs=1e-6)
    for method in ("verbalized", "logprob"):
        assert m.loc[method, "ci_low"] <= m.loc[method, "alignment"] <= m.loc[method, "ci_high"]
    assert m.loc["verbalized", "ci_low"] < m.loc["verbalized", "ci_high"]  # items differ, so does the resample
    assert (out / "elicitation.png").stat().st_size > 0


def test_three_methods_with_jsd(roots, tmp_path):
    human, a, b, out = roots
    c = tmp_path / "sample"
    write_run(c / "RQ1" / "org" / "m1" / "results.csv", SAMPLE, "sample")
    assert run(human, out, "--compare", str(a), str(b), str(c), "--metric", "jsd", "--models", "org/m1") == 0
    items = pd.read_csv(out / "elicitation_items_jsd.csv")
    pairs = list(dict.fromkeys(zip(items["method_a"], items["method_b"])))
    assert pairs == [("logprob", "verbalized"), ("logprob", "sample"), ("verbalized", "sample")]
    got = items.set_index(["method_a", "method_b", "item_id"])["agreement"]
    assert got[("verbalized", "sample", "Q1")] == pytest.approx(0.0, abs=1e-9)  # disjoint answers
    assert got[("logprob", "sample", "Q57")] == pytest.approx(1 - jensenshannon([.75, .25], [1, 0], base=2), abs=1e-6)
    m = pd.read_csv(out / "elicitation_methods_jsd.csv").set_index("method")
    assert m.loc["sample", "entropy"] == pytest.approx(0.0) and m.loc["sample", "n_items"] == 2
    assert (out / "elicitation_jsd.png").is_file()


def test_one_root_holding_both_methods_and_errors(roots, tmp_path, capsys):
    human, a, b, out = roots
    both = tmp_path / "both"
    write_run(both / "RQ1" / "m1" / "results.csv", VERBALIZED)
    # our runs name their model and experiment in columns, so they may lie anywhere under the root
    write_run(both / "logprob_runs" / "m1" / "results.csv", LOGPROB, "logprob", experiment="RQ1", model="m1")
    assert run(human, out, "--results-root", str(both)) == 0
    assert pd.read_csv(out / "elicitation_pairs.csv")["agreement"].iloc[0] == pytest.approx((5 / 6 + 0.75) / 2,
                                                                                            abs=1e-6)
    script = load_script("show_results/elicitation.py")
    base = ["--human", str(human), "--out", str(out), "--min-coverage", "0"]
    assert script.main(base + ["--compare", str(a)]) == 2
    err = capsys.readouterr().err.strip()
    assert "more than one probe method" in err and "\n" not in err
    assert script.main(base + ["--compare", str(a), str(b), str(b / "RQ1" / "..")]) == 0  # one root
    capsys.readouterr()
    copy = tmp_path / "copy"
    write_run(copy / "RQ1" / "org" / "m1" / "results.csv", LOGPROB, "logprob")
    assert script.main(base + ["--compare", str(a), str(b), str(copy)]) == 2
    assert "org/m1 has two logprob RQ1 results files" in capsys.readouterr().err


def test_bootstrap_country_mean_against_a_loop():
    import doctest

    from utils.analysis import elicitation
    assert doctest.testmod(elicitation).failed == 0
    rng = np.random.default_rng(5)
    s = rng.uniform(0.5, 1.0, size=(4, 9))
    s[1, 3] = np.nan  # a country that did not ask an item
    mean, lo, hi = elicitation.bootstrap_country_mean(s, n_boot=400, seed=3)
    assert mean == pytest.approx(np.mean([np.nanmean(row) for row in s]))
    draws = np.random.default_rng(3).integers(0, 9, size=(400, 9))
    boot = [np.mean([np.nanmean(row[d]) for row in s]) for d in draws]
    assert (lo, hi) == pytest.approx(tuple(np.percentile(boot, [2.5, 97.5])), abs=1e-12)


def test_a_method_without_any_readable_answer_is_left_out_with_a_note(roots, tmp_path, capsys):
    human, a, b, out = roots
    c = tmp_path / "garbled"
    c.joinpath("RQ1", "org", "m1").mkdir(parents=True)
    rows = [{"id": i, "question": "q", "choices": str(KEYS[i]), "choice_keys": str(KEYS[i]), "answer": "",
             "type": "Opinion-Dependent", "response": "I cannot say.", "method": "sample"} for i in KEYS]
    pd.DataFrame(rows).to_csv(c / "RQ1" / "org" / "m1" / "results.csv", index=False)
    assert run(human, out, "--compare", str(a), str(b), str(c)) == 0
    assert "org/m1: no sample answer could be read" in capsys.readouterr().out
    m = pd.read_csv(out / "elicitation_methods.csv")
    assert set(m.loc[m["kind"] == "method", "method"]) == {"logprob", "verbalized"}


def test_runs_in_one_process_each_say_their_own_lines(roots, tmp_path, capsys):
    """Analyses run one after another in one process (the study runner, the tests) each show the
    coverage lines of their own files and nothing of an earlier run's: nothing is kept between them."""
    human, a, b, out = roots
    assert run(human, out, "--compare", str(a), str(b)) == 0
    first = [line for line in capsys.readouterr().out.splitlines() if line.startswith("coverage ")]
    other = tmp_path / "other"
    write_run(other / "RQ1" / "x" / "results.csv", VERBALIZED)
    write_run(other / "logprob" / "x" / "results.csv", LOGPROB, "logprob", experiment="RQ1", model="x")
    assert run(human, out, "--results-root", str(other)) == 0
    second = [line for line in capsys.readouterr().out.splitlines() if line.startswith("coverage ")]
    assert len(first) == len(second) == 2
    assert all(str(tmp_path / "paper") in x or str(tmp_path / "logprob") in x for x in first)
    assert all(str(other) in x for x in second)
