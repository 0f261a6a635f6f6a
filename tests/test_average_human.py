"""Each model against the average human (rq1_average_human.py) and the RQ3 selection built on it.

The expected numbers come from a small independent implementation written here (scipy's
`wasserstein_distance` over the options' positions in semantic order), not from our metrics.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr, wasserstein_distance
from wvs_fixtures import load_script

from utils.analysis.rq1.average_human import aligned, classify, compare, pearson, select_aligned

ORDER = {"Q1": ["1", "2", "3", "4"], "Q57": ["1", "2"], "Q119": ["1", "2", "3", "4", "0"]}
NAMES = {156: "China", 276: "Germany", 392: "Japan", 410: "Korea", 643: "Russia", 704: "Vietnam",
         32: "Argentina", 76: "Brazil"}


def write_human(path, counts: dict, wave: int = 7):
    """counts: {(country, item): {code: n}} -> a prepared long table (plus a missing code per cell)."""
    rows = []
    for (c, item), cells in counts.items():
        for code, n in {**cells, "-1": 2}.items():
            rows.append({"wave": wave, "country_code": c, "country": NAMES[c], "item_id": item, "variable": item,
                         "option": code, "status": "valid" if int(code) >= 0 else "missing", "count": n,
                         "weighted_count": float(n)})
    pd.DataFrame(rows).to_csv(path, index=False)
    path.with_suffix(".meta.json").write_text(json.dumps({"wave": wave, "synthetic": True}))
    return path


def write_results(path, answers: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"id": i, "question": "q", "choices": str(ORDER[i]), "choice_keys": str(ORDER[i]), "answer": "",
             "type": "Opinion-Dependent", "response": str({k: f"{v}%" for k, v in d.items()})}
            for i, d in answers.items()]
    pd.DataFrame(rows).to_csv(path, index=False)


# --- an independent implementation of the scores ------------------------------------------------

def shares(cells: dict, item: str) -> np.ndarray:
    v = np.array([float(cells.get(k, 0)) for k in ORDER[item]])
    return v / v.sum()


def item_score(p, q) -> float:
    pos = np.arange(len(p))
    return 1 - wasserstein_distance(pos, pos, p, q) / (len(p) - 1)


def expected(counts: dict, model: dict, tau: float) -> dict:
    countries = sorted({c for c, _ in counts})
    items = sorted({i for _, i in counts})
    pooled = {i: sum(np.array([counts[(c, i)].get(k, 0) for k in ORDER[i]], float) for c in countries
                     if (c, i) in counts) for i in items}
    out = {}
    for c in countries:
        here = [i for i in items if (c, i) in counts and i in model]
        m = np.mean([item_score(shares(model[i], i), shares(counts[(c, i)], i)) for i in here])
        h = np.mean([item_score(pooled[i] / pooled[i].sum(), shares(counts[(c, i)], i)) for i in here])
        status = "over" if m - h >= tau else "under" if m - h < -tau else "appropriate"
        out[NAMES[c]] = (m, h, status)
    return out


COUNTS = {  # three countries, three items; Q119's code 0 comes last in the semantic order
    (156, "Q1"): {"1": 10, "2": 10}, (156, "Q57"): {"1": 30, "2": 10}, (156, "Q119"): {"0": 20},
    (276, "Q1"): {"4": 20}, (276, "Q57"): {"1": 10, "2": 30}, (276, "Q119"): {"1": 20},
    (392, "Q1"): {"2": 5, "3": 15}, (392, "Q57"): {"1": 20, "2": 20},
}
MODEL = {"Q1": {"1": 50, "2": 50}, "Q57": {"1": 75, "2": 25}, "Q119": {"0": 100}}


def test_classify_worked_example_and_boundaries():
    assert classify([0.03, -0.01, -0.07, 0.02, -0.02]).tolist() == ["over", "appropriate", "under", "over",
                                                                     "appropriate"]
    assert classify([0.72 - 0.70]).tolist() == ["over"]  # 0.0199999... in floating point
    assert classify([-0.0201, 0.0199], tau=0.02).tolist() == ["under", "appropriate"]
    assert aligned([-0.02, -0.0201, 0.5]).tolist() == [True, False, True]
    assert classify([0.05], tau=0.1).tolist() == ["appropriate"]


def test_script_matches_an_independent_implementation(tmp_path):
    human = write_human(tmp_path / "WV7.csv", COUNTS)
    write_results(tmp_path / "res" / "RQ1" / "m1" / "results.csv", MODEL)
    out = tmp_path / "out"
    script = load_script("show_results/rq1_average_human.py")
    assert script.main(["--human", str(human), "--results-root", str(tmp_path / "res"), "--out", str(out),
                        "--formats", "png", "--tau", "0.02"]) == 0
    df = pd.read_csv(out / "rq1_average_human.csv")
    assert list(df.columns) == ["model", "country_code", "country", "model_score", "human_score", "diff",
                                "status", "n_items", "human_data"]  # the test table is synthetic
    want = expected(COUNTS, MODEL, 0.02)
    assert set(df["country"]) == set(want)
    for r in df.itertuples():
        m, h, status = want[r.country]
        assert (r.model_score, r.human_score, r.diff) == pytest.approx((m, h, m - h), abs=1e-6), r.country
        assert r.status == status, r.country
    assert {s for *_, s in want.values()} == {"over", "under"}  # the case covers more than one status
    summary = pd.read_csv(out / "rq1_average_human_summary.csv").iloc[0]
    r, _ = pearsonr([v[1] for v in want.values()], [v[0] for v in want.values()])
    assert summary["pearson_r"] == pytest.approx(r, abs=1e-6)
    assert summary[["n_over", "n_appropriate", "n_under"]].tolist() == [
        sum(v[2] == s for v in want.values()) for s in ("over", "appropriate", "under")]
    assert (out / "rq1_average_human.png").stat().st_size > 10_000


def test_bad_tau_is_one_line(tmp_path, capsys):
    human = write_human(tmp_path / "WV7.csv", COUNTS)
    write_results(tmp_path / "res" / "RQ1" / "m1" / "results.csv", MODEL)
    script = load_script("show_results/rq1_average_human.py")
    assert script.main(["--human", str(human), "--results-root", str(tmp_path / "res"), "--tau", "-1"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --tau is a margin of alignment score, at least 0\n"


def _table(rows):
    df = pd.DataFrame(rows, columns=["model", "country_code", "country", "model_score", "human_score"])
    return compare(df, 0.02)


def test_select_aligned_eligible_threshold_and_notes():
    rows = [("m", c, NAMES[c], 0.80, 0.80 + d) for c, d in
            [(156, 0.0), (276, 0.02), (392, -0.05), (410, 0.021), (643, 0.01), (704, 0.0), (32, -0.5)]]
    rows += [("few", 156, "China", 0.9, 0.5), ("few", 276, "Germany", 0.1, 0.5)]
    sel = select_aligned(_table(rows), eligible=[156, 276, 392, 410, 643, 704, 76], tau=0.02)
    # m: diff 0, -0.02 (boundary: kept), +0.05, -0.021 (out), -0.01, 0; Argentina (32) is not eligible
    assert sel.chosen == {"m": [156, 276, 392, 643, 704]}
    t = sel.table.set_index("model")
    assert t.loc["m", "countries"] == "China; Germany; Japan; Russia; Vietnam" and bool(t.loc["m", "included"])
    assert not bool(t.loc["few", "included"]) and t.loc["few", "n_countries"] == 1
    assert len(sel.notes) == 1 and sel.notes[0].startswith("few: aligns with 1 ") and "fewer than 5" in sel.notes[0]
    assert select_aligned(_table(rows), eligible=None, tau=0.02).chosen["m"] == [32, 156, 276, 392, 643, 704]
    assert select_aligned(_table(rows), eligible=[156, 276], tau=0.02, min_countries=2).chosen == {"m": [156, 276]}


def test_pearson_counts_statuses():
    rows = [("m", c, NAMES[c], s, h) for c, s, h in [(156, 0.9, 0.8), (276, 0.7, 0.8), (392, 0.81, 0.8)]]
    p = pearson(_table(rows)).iloc[0]
    assert (p["n_over"], p["n_appropriate"], p["n_under"]) == (1, 1, 0 + 1) and p["n_countries"] == 3


# --- rq3_temporal.py --select aligned, end to end ---------------------------------------------

def _wave_counts(codes):
    """Countries 156..704 and 32 answer code 1 on Q1 and Q57; 76 answers 4 and 2."""
    out = {}
    for c in codes:
        first = c != 76
        out[(c, "Q1")] = {"1": 30} if first else {"4": 30}
        out[(c, "Q57")] = {"1": 30} if first else {"2": 30}
    return out


def test_rq3_select_aligned(tmp_path, capsys):
    all_codes = [156, 276, 392, 410, 643, 704, 32, 76]
    paths = [write_human(tmp_path / "WV5.csv", _wave_counts(all_codes), 5),
             write_human(tmp_path / "WV6.csv", _wave_counts([c for c in all_codes if c != 392]), 6),
             write_human(tmp_path / "WV7.csv", _wave_counts(all_codes), 7)]
    res = tmp_path / "res"
    write_results(res / "RQ1" / "m1" / "results.csv", {"Q1": {"1": 100}, "Q57": {"1": 100}})
    write_results(res / "RQ1" / "m2" / "results.csv", {"Q1": {"4": 100}, "Q57": {"2": 100}})
    out = tmp_path / "out"
    script = load_script("show_results/rq3_temporal.py")
    assert script.main(["--human", *map(str, paths), "--results-root", str(res), "--out", str(out),
                        "--formats", "png", "--select", "aligned", "--tau", "0.02"]) == 0
    assert "note: m2: aligns with 1 of the eligible countries (fewer than 5)" in capsys.readouterr().out
    sel = pd.read_csv(out / "rq3_selected_countries.csv").set_index("model")
    # m1 matches the seven code-1 countries (score 1 > the average human's 0.875); Japan (392) was
    # not surveyed in Wave 6, so six remain; m2 matches Brazil (76) only and is left out
    assert sel.loc["m1", "countries"] == "Argentina; China; Germany; Korea; Russia; Vietnam"
    assert bool(sel.loc["m1", "included"]) and not bool(sel.loc["m2", "included"])
    summary = pd.read_csv(out / "rq3_temporal.csv")
    picked = summary[summary["countries"] == "all waves, aligned with the model in Wave 7"]
    assert set(picked["model"]) == {"m1"} and picked["n_countries"].tolist() == [6, 6, 6]
    assert picked["score"].tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_rq3_select_needs_wave_7(tmp_path):
    paths = [write_human(tmp_path / f"WV{w}.csv", _wave_counts([156, 276]), w) for w in (5, 6)]
    write_results(tmp_path / "res" / "RQ1" / "m1" / "results.csv", {"Q1": {"1": 100}, "Q57": {"1": 100}})
    script = load_script("show_results/rq3_temporal.py")
    assert script.main(["--human", *map(str, paths), "--results-root", str(tmp_path / "res"),
                        "--out", str(tmp_path / "o"), "--select", "aligned"]) == 2


def test_paper_compat_uses_the_notebook_arithmetic(tmp_path):
    """--paper-compat: support = the codes sorted as numbers (Q119's 0 first), means rounded to 4
    decimals; checked against that arithmetic written out here."""
    model = {"Q1": {"1": 50, "2": 50, "3": 0, "4": 0}, "Q57": {"1": 75, "2": 25},
             "Q119": {"1": 0, "2": 0, "3": 0, "4": 0, "0": 100}}
    human = write_human(tmp_path / "WV7.csv", COUNTS)
    write_results(tmp_path / "res" / "RQ1" / "m1" / "results.csv", model)
    out = tmp_path / "out"
    script = load_script("show_results/rq1_average_human.py")
    assert script.main(["--human", str(human), "--results-root", str(tmp_path / "res"), "--out", str(out),
                        "--formats", "png", "--paper-compat"]) == 0
    df = pd.read_csv(out / "rq1_average_human_paper_compat.csv").set_index("country")

    def score(a: dict, b: dict) -> float:
        codes = sorted(a, key=int)
        pa, pb = np.array([a[k] for k in codes], float), np.array([b.get(k, 0) for k in codes], float)
        s = np.array([int(k) for k in codes])
        return 1 - wasserstein_distance(s, s, pa / pa.sum(), pb / pb.sum()) / (len(codes) - 1)

    pooled = {}
    for (c, i), cells in COUNTS.items():
        for k in ORDER[i]:
            pooled.setdefault(i, {}).setdefault(k, 0)
            pooled[i][k] += cells.get(k, 0)
    for c in (156, 276, 392):
        items = [i for i in ORDER if (c, i) in COUNTS]
        full = {i: {k: COUNTS[(c, i)].get(k, 0) for k in ORDER[i]} for i in items}
        m = round(float(np.mean([score(model[i], full[i]) for i in items])), 4)
        h = round(float(np.mean([score(pooled[i], full[i]) for i in items])), 4)
        assert (df.loc[NAMES[c], "model_score"], df.loc[NAMES[c], "human_score"]) == pytest.approx((m, h), abs=1e-9)
