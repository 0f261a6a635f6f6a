"""Every show_results analysis script on a tiny case whose numbers are worked out by hand.

Two countries, three items, two models:

    item  options (semantic)  China (156)       Germany (276)     m1           m2
    Q1    1 2 3 4             10, 10, 0, 0      0, 0, 0, 20       1: 100%      1: 50%, 2: 50%
    Q57   1 2                 30, 10            10, 30            50%, 50%     75%, 25%
    Q119  1 2 3 4 0           0: 20             1: 20             1: 100%      0: 100%

m1 vs China: Q1 CDFs (1,1,1) vs (.5,1,1) -> W1 .5 / 3 -> .833333; Q57 W1 .25 -> .75; Q119 "1" vs
"0" are 4 steps apart in the semantic order -> 0. Mean .527778. m1 vs Germany: 0, .75, 1 -> .583333.
m2 equals China's distributions (score 1); m2 vs Germany: 1/6, .5, 0 -> .222222.
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from wvs_fixtures import load_script

COUNTRY = {156: "China", 276: "Germany"}
HUMAN = [  # country, item, option, count (negative codes must be ignored)
    (156, "Q1", "1", 10), (156, "Q1", "2", 10), (156, "Q1", "-1", 7),
    (156, "Q57", "1", 30), (156, "Q57", "2", 10),
    (156, "Q119", "0", 20),
    (276, "Q1", "4", 20),
    (276, "Q57", "1", 10), (276, "Q57", "2", 30),
    (276, "Q119", "1", 20), (276, "Q119", "-2", 3),
]
KEYS = {"Q1": ["1", "2", "3", "4"], "Q57": ["1", "2"], "Q119": ["1", "2", "3", "4", "0"]}
M1 = {"Q1": {"1": 100}, "Q57": {"1": 50, "2": 50}, "Q119": {"1": 100}}
M2 = {"Q1": {"1": 50, "2": 50}, "Q57": {"1": 75, "2": 25}, "Q119": {"0": 100}}


def write_human(path, rows=HUMAN, wave=7, weight=None):
    weight = weight or {}
    df = pd.DataFrame([{"wave": wave, "country_code": c, "country": COUNTRY[c], "item_id": i, "variable": i,
                        "option": o, "status": "valid" if int(o) >= 0 else "missing", "count": n,
                        "weighted_count": n * weight.get((c, i, o), 1.0)} for c, i, o, n in rows])
    df.to_csv(path, index=False)
    path.with_suffix(".meta.json").write_text(json.dumps({"wave": wave, "synthetic": True}))
    return path


def write_results(path, answers, keys=KEYS):
    """A results.csv in the original release's columns (id, ..., response)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"id": i, "question": "q", "choices": str(keys[i]), "choice_keys": str(keys[i]), "answer": "",
             "type": "Opinion-Dependent", "response": str({k: f"{v}%" for k, v in d.items()})}
            for i, d in answers.items()]
    pd.DataFrame(rows).to_csv(path, index=False)


@pytest.fixture
def case(tmp_path):
    res = tmp_path / "results"
    write_results(res / "RQ1" / "org" / "m1" / "results.csv", M1)
    write_results(res / "RQ1" / "m2" / "results.csv", M2)
    return write_human(tmp_path / "WV7.csv"), res, tmp_path / "out"


def args(human, res, out, *extra):
    """Command line of a script; PNG only (PDF font embedding is slow), unless `extra` says otherwise."""
    return ["--human", str(human), "--results-root", str(res), "--out", str(out), "--formats", "png", *extra]


def test_rq1_country_level(case):
    human, res, out = case
    assert load_script("show_results/rq1_country_level.py").main(args(human, res, out, "--n-boot", "200", "--formats", "png,pdf")) == 0
    df = pd.read_csv(out / "rq1_country_scores.csv")
    assert list(df.columns) == ["model", "country_code", "country", "score", "std", "n_items", "human_data"]  # synthetic
    got = {(r.model, r.country): (r.score, r.std, r.n_items) for r in df.itertuples()}
    m1_cn, m1_de = [5 / 6, 0.75, 0.0], [0.0, 0.75, 1.0]
    assert got[("org/m1", "China")] == pytest.approx((np.mean(m1_cn), np.std(m1_cn), 3), abs=1e-6)
    assert got[("org/m1", "Germany")] == pytest.approx((np.mean(m1_de), np.std(m1_de), 3), abs=1e-6)
    assert got[("m2", "China")] == pytest.approx((1.0, 0.0, 3), abs=1e-6)
    assert got[("m2", "Germany")][0] == pytest.approx((1 / 6 + 0.5 + 0) / 3, abs=1e-6)
    assert df[df["model"] == "org/m1"]["country"].tolist() == ["Germany", "China"]  # sorted by score
    det = pd.read_csv(out / "rq1_country_details.csv").set_index(["model", "country"])
    # uniform answer vs China: Q1 (.25,.5,.75) vs (.5,1,1) -> 1/3 off -> .666667; Q57 .75; Q119 2/4 off -> .5
    assert det.loc[("org/m1", "China"), "uniform"] == pytest.approx((2 / 3 + 0.75 + 0.5) / 3, abs=1e-6)
    assert 0.5 < det.loc[("org/m1", "China"), "ceiling"] <= 1
    assert det.loc[("org/m1", "China"), "ci_low"] <= 0.527778 <= det.loc[("org/m1", "China"), "ci_high"]
    for stem in ("rq1_country_top_bottom", "rq1_country_all"):
        assert (out / f"{stem}.png").stat().st_size > 0 and (out / f"{stem}.pdf").is_file()


def test_options_switch_and_survey_weights(case, tmp_path):
    human, res, out = case
    script = load_script("show_results/rq1_country_level.py")
    assert script.main(args(human, res, out, "--drop-nonsubstantive", "--models", "org/m1")) == 0
    df = pd.read_csv(out / "rq1_country_scores.csv").set_index("country")
    # Q119 without "hard to say": China has no answer left (item skipped), Germany's "1" matches m1
    assert df.loc["China", "score"] == pytest.approx((5 / 6 + 0.75) / 2, abs=1e-6)
    assert df.loc["China", "n_items"] == 2
    assert df.loc["Germany", "score"] == pytest.approx((0 + 0.75 + 1) / 3, abs=1e-6)
    weighted = write_human(tmp_path / "WV7w.csv", weight={(156, "Q57", "2"): 3.0})  # China Q57 -> 30:30
    assert script.main(args(weighted, res, out, "--weights", "survey", "--models", "org/m1")) == 0
    df = pd.read_csv(out / "rq1_country_scores.csv").set_index("country")
    assert df.loc["China", "score"] == pytest.approx((5 / 6 + 1.0 + 0) / 3, abs=1e-6)


def test_rq1_model_level(case):
    human, res, out = case
    assert load_script("show_results/rq1_model_level.py").main(args(human, res, out, "--n-boot", "200")) == 0
    df = pd.read_csv(out / "rq1_model_scores.csv").set_index("model")
    m1 = df.loc["org/m1"]
    assert m1["mean"] == pytest.approx((0.527778 + 0.583333) / 2, abs=1e-5)
    assert m1["std"] == pytest.approx(0.027778, abs=1e-5)
    # pooled: Q1 (.25,.25,0,.5) -> 1.75/3 off; Q57 (.5,.5) -> 1; Q119 half "0", half "1" -> 2/4 off
    assert m1["pooled_score"] == pytest.approx((1 - 1.75 / 3 + 1 + 0.5) / 3, abs=1e-6)
    assert m1["entropy"] == pytest.approx(1 / 3, abs=1e-6)  # only Q57 is spread: (0 + 1 + 0) / 3
    uni = df.loc["uniform answer"]
    assert uni["kind"] == "baseline" and uni["mean"] == pytest.approx(((2 / 3 + 0.75 + 0.5) / 3 + (0.5 + 0.75 + 0.5) / 3) / 2, abs=1e-6)
    assert df.loc["split-half human", "kind"] == "ceiling"
    assert (out / "rq1_model_level.png").is_file()


def test_human_alignment_matrix(case):
    human, res, out = case
    script = load_script("show_results/human_alignment_matrix.py")
    assert script.main(args(human, res, out, "--countries", "156,276,999")) == 0
    m = pd.read_csv(out / "human_alignment_matrix.csv").set_index("label")
    assert m.loc["China", "Germany"] == pytest.approx((1 / 6 + 0.5 + 0) / 3, abs=1e-6)
    assert m.loc["Germany", "China"] == pytest.approx(m.loc["China", "Germany"])
    assert m.loc["m1", "China"] == pytest.approx(0.527778, abs=1e-6)
    assert m.loc["m1", "m2"] == pytest.approx((5 / 6 + 0.75 + 0) / 3, abs=1e-6)
    assert m.loc["China", "China"] == pytest.approx(1.0)
    assert m["kind"].tolist().count("model") == 2
    assert (out / "human_alignment_matrix_3.csv").is_file() and (out / "human_alignment_matrix_3.png").is_file()


def test_rq3_temporal(case, tmp_path):
    human, res, out = case
    wave5 = write_human(tmp_path / "WV5.csv", [(156, "Q1", "2", 20), (156, "Q57", "1", 20), (156, "Q57", "2", 20)], 5)
    wave6 = write_human(tmp_path / "WV6.csv", HUMAN, 6)
    argv = ["--human", str(wave5), str(wave6), str(human), "--results-root", str(res), "--out", str(out),
            "--formats", "png"]
    assert load_script("show_results/rq3_temporal.py").main(argv) == 0
    df = pd.read_csv(out / "rq3_temporal.csv").set_index(["model", "wave", "countries"])
    # only Q1 and Q57 are in WV567 (Q119 is not): m1 vs China in wave 7: (.833333 + .75) / 2
    each7 = df.loc[("org/m1", 7, "each wave")]
    assert each7["score"] == pytest.approx(((5 / 6 + 0.75) / 2 + (0 + 0.75) / 2) / 2, abs=1e-6)
    assert each7["n_countries"] == 2 and each7["n_items"] == 2
    # wave 5, China only: Q1 "1" vs "2" is one step -> 1 - 1/3; Q57 matches -> 1
    assert df.loc[("org/m1", 5, "each wave"), "score"] == pytest.approx((2 / 3 + 1) / 2, abs=1e-6)
    assert df.loc[("org/m1", 7, "all waves"), "score"] == pytest.approx((5 / 6 + 0.75) / 2, abs=1e-6)
    assert df.loc[("org/m1", 7, "all waves"), "n_countries"] == 1
    assert (out / "rq3_temporal.png").is_file()


def _steering_inputs(tmp_path, few_shot=True):
    inputs = tmp_path / "inputs"
    (inputs / "steering").mkdir(parents=True)
    (inputs / "steering" / "countries.json").write_text(json.dumps(
        {"countries": {"China": {"language": "Chinese", "wvs_code": 156}}}))
    (inputs / "steering" / "methods.json").write_text(json.dumps(
        {"methods": {m: {} for m in ["persona", "few-shot", "language", "language_persona", "language_few-shot"]}}))
    if few_shot:
        (inputs / "few_shot").mkdir()
        (inputs / "few_shot" / "China.json").write_text(json.dumps(
            {"country": "China", "items": [{"id": "Q57", "percentages": {"1": 75.0, "2": 25.0}}]}))
    return inputs


def test_rq2_steering(case, tmp_path):
    human, res, out = case
    write_results(res / "RQ2" / "persona" / "China" / "org" / "m1" / "results.csv", M2)
    write_results(res / "RQ2" / "language" / "China" / "org" / "m1" / "results.csv", M1)
    inputs = _steering_inputs(tmp_path)
    script = load_script("show_results/rq2_steering.py")
    assert script.main(args(human, res, out, "--inputs-dir", str(inputs))) == 0
    wide = pd.read_csv(out / "rq2_steering_table.csv").iloc[0]
    # Q57 is China's few-shot item, so every condition is scored on Q1 and Q119 only
    assert wide["n_items"] == 2
    assert wide["none"] == pytest.approx((5 / 6 + 0) / 2, abs=1e-6)
    assert wide["persona"] == pytest.approx(1.0) and wide["language"] == pytest.approx(wide["none"])
    assert wide["best_method"] == "persona" and wide["best_gain"] == pytest.approx(1 - 5 / 12, abs=1e-6)
    long = pd.read_csv(out / "rq2_steering_scores.csv")
    assert set(long["method"]) == {"none", "persona", "language"}
    assert (out / "rq2_steering_table.png").is_file() and (out / "rq2_steering_gains.png").is_file()


def test_rq2_flags_a_best_method_that_loses_to_no_steering(case, tmp_path, capsys):
    """Issue 28: the "best" steering method was boxed in gold and named best even when it scored
    below no steering. best_beats_none says whether it beats it, and a note counts the rows where not."""
    human, res, out = case
    worse = {"Q1": {"4": 100}, "Q57": {"1": 50, "2": 50}, "Q119": {"1": 100}}  # China: Q1 0.1667, Q119 0
    write_results(res / "RQ2" / "language" / "China" / "org" / "m1" / "results.csv", worse)
    script, inputs = load_script("show_results/rq2_steering.py"), str(_steering_inputs(tmp_path))
    capsys.readouterr()
    assert script.main(args(human, res, out, "--inputs-dir", inputs)) == 0
    wide = pd.read_csv(out / "rq2_steering_table.csv").set_index("model")
    row = wide.loc["org/m1"]
    assert row["best_method"] == "language" and row["best_gain"] == pytest.approx((1 / 6 - 5 / 6) / 2, abs=1e-6)
    assert not row["best_beats_none"]
    said = capsys.readouterr().out
    assert "note: in 2 of 2 rows (model or AVG, and country) no steering method beats no steering" in said
    write_results(res / "RQ2" / "persona" / "China" / "org" / "m1" / "results.csv", M2)  # 1.0: beats it
    assert script.main(args(human, res, out, "--inputs-dir", inputs)) == 0
    assert pd.read_csv(out / "rq2_steering_table.csv").set_index("model").loc["org/m1", "best_beats_none"]
    assert "no steering method beats no steering" not in capsys.readouterr().out


def test_rq2_leaves_out_a_model_with_a_single_condition_unless_asked(case, tmp_path, capsys):
    """Issue 28: the release's stray `gpt-4o` (one RQ2 cell, no RQ1 answer) became a one-cell panel,
    a column of the ready-to-paste table and one AVG cell over eight models where all others are
    over seven, with a raw numpy warning. By default such a model is named in one line and left
    out; `--models all` (or naming it) brings it back, and the figure still draws without a warning."""
    human, res, out = case
    for model, persona, language in (("org/m1", M2, M1), ("m2", M1, M2)):
        write_results(res / "RQ2" / "persona" / "China" / model / "results.csv", persona)
        write_results(res / "RQ2" / "language" / "China" / model / "results.csv", language)
    write_results(res / "RQ2" / "persona" / "China" / "lone" / "results.csv", M1)  # one condition, no RQ1
    inputs = ["--inputs-dir", str(_steering_inputs(tmp_path))]
    script = load_script("show_results/rq2_steering.py")
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a raw numpy warning fails the test
        assert script.main(args(human, res, out, *inputs)) == 0
    said = capsys.readouterr()
    notes = [line for line in said.out.splitlines() if "lone" in line]
    assert notes == ["note: lone has a single RQ2 condition (persona, China) where the other models have up to 2; "
                     "left out of the tables, figures and averages (--models all, or --models lone, includes it)"]
    assert "Warning" not in said.err
    long = pd.read_csv(out / "rq2_steering_scores.csv")
    assert set(long["model"]) == {"org/m1", "m2", "AVG"}
    assert "lone" not in pd.read_csv(out / "rq2_paper_table.csv").columns
    persona = long[long["method"] == "persona"].set_index("model")["score"]
    assert persona["AVG"] == pytest.approx((persona["org/m1"] + persona["m2"]) / 2, abs=2e-6)  # over the two
    for chosen in ("all", "lone,org/m1"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            assert script.main(args(human, res, out, *inputs, "--models", chosen)) == 0
        assert "lone" in set(pd.read_csv(out / "rq2_steering_scores.csv")["model"])
        assert "lone" in pd.read_csv(out / "rq2_paper_table.csv").columns
        assert "note: lone" not in capsys.readouterr().out


def test_rq2_without_few_shot_file_says_what_is_missing(case, tmp_path, capsys):
    human, res, out = case
    write_results(res / "RQ2" / "persona" / "China" / "org" / "m1" / "results.csv", M2)
    inputs = _steering_inputs(tmp_path, few_shot=False)
    script = load_script("show_results/rq2_steering.py")
    assert script.main(args(human, res, out, "--inputs-dir", str(inputs))) == 2
    err = capsys.readouterr().err.strip()
    assert "few_shot" in err and "China.json" in err and "\n" not in err


def test_sensitivity(case):
    human, res, out = case
    write_results(res / "Discussion" / "sensitivity" / "number" / "org" / "m1" / "results.csv", M2)
    shuffled = {"Q1": ["4", "2", "1", "3"], "Q57": ["2", "1"], "Q119": ["0", "3", "1", "4", "2"]}
    write_results(res / "Discussion" / "sensitivity" / "order" / "org" / "m1" / "results.csv", M1, shuffled)
    assert load_script("show_results/sensitivity.py").main(args(human, res, out)) == 0
    df = pd.read_csv(out / "sensitivity_scores.csv").set_index("variant")
    default = (0.527778 + 0.583333) / 2
    assert df.loc["default", "score"] == pytest.approx(default, abs=1e-5)
    assert df.loc["number", "score"] == pytest.approx((1 + 0.222222) / 2, abs=1e-5)
    assert df.loc["number", "delta"] == pytest.approx((1 + 0.222222) / 2 - default, abs=1e-5)
    assert df.loc["order", "delta"] == pytest.approx(0, abs=1e-9)  # options shown shuffled, scored by code
    assert np.isnan(df.loc["number", "rank_corr"])  # two countries are too few for a rank correlation
    assert (out / "sensitivity.png").is_file()


@pytest.mark.parametrize("script", ["rq1_country_level", "rq1_model_level", "human_alignment_matrix",
                                    "rq2_steering", "sensitivity"])
def test_missing_inputs_are_one_line(case, tmp_path, capsys, script):
    human, res, out = case
    mod = load_script(f"show_results/{script}.py")
    assert mod.main(args(tmp_path / "nope.csv", res, out)) == 2
    err = capsys.readouterr().err.strip()
    assert "prepare_wvs.py" in err and "\n" not in err
    empty = tmp_path / "empty_results"
    empty.mkdir()
    assert mod.main(args(human, empty, out)) == 2
    err = capsys.readouterr().err.strip()
    assert "first" in err and "\n" not in err


def test_rq3_missing_wave_table(case, tmp_path, capsys):
    human, res, out = case
    mod = load_script("show_results/rq3_temporal.py")
    argv = ["--human", str(tmp_path / "WV5.csv"), str(human), "--results-root", str(res), "--out", str(out)]
    assert mod.main(argv) == 2
    assert "WV5.csv not found; run dataset/prepare_wvs.py" in capsys.readouterr().err


def test_rq1_country_level_with_jsd_end_to_end(case):
    """--metric jsd: every score, the uniform baseline and the ceiling are 1 - JS distance (base 2),
    checked against scipy; files get a _jsd suffix so the paper's w1 files are not overwritten."""
    from scipy.spatial.distance import jensenshannon
    human, res, out = case
    script = load_script("show_results/rq1_country_level.py")
    assert script.main(args(human, res, out, "--n-boot", "200", "--metric", "jsd")) == 0
    assert not (out / "rq1_country_scores.csv").exists()
    df = pd.read_csv(out / "rq1_country_details_jsd.csv").set_index(["model", "country"])

    def sim(p, q):
        return 1 - jensenshannon(p, q, base=2)
    m1_cn = [sim([1, 0, 0, 0], [.5, .5, 0, 0]), sim([.5, .5], [.75, .25]), sim([1, 0, 0, 0, 0], [0, 0, 0, 0, 1])]
    assert df.loc[("org/m1", "China"), "score"] == pytest.approx(np.mean(m1_cn), abs=1e-6)
    assert df.loc[("org/m1", "China"), "std"] == pytest.approx(np.std(m1_cn), abs=1e-6)
    assert df.loc[("m2", "China"), "score"] == pytest.approx(1.0, abs=1e-6)
    uni_cn = [sim([.25] * 4, [.5, .5, 0, 0]), sim([.5, .5], [.75, .25]), sim([.2] * 5, [0, 0, 0, 0, 1])]
    assert df.loc[("org/m1", "China"), "uniform"] == pytest.approx(np.mean(uni_cn), abs=1e-6)
    # China's Q119 is unanimous, so both halves agree there: the ceiling is above the uniform baseline
    assert df.loc[("org/m1", "China"), "uniform"] < df.loc[("org/m1", "China"), "ceiling"] <= 1
    assert (out / "rq1_country_top_bottom_jsd.png").stat().st_size > 0
    assert (out / "rq1_country_all_jsd.png").is_file() and (out / "rq1_country_scores_jsd.csv").is_file()


# --- figures a reader can trust (issue 12, section 5) ---------------------------------------------

@pytest.fixture
def open_figures(monkeypatch):
    """Every figure a script saves, kept so a test can look inside."""
    from matplotlib.figure import Figure
    saved, real = [], Figure.savefig

    def keep(fig, *args, **kwargs):
        saved.append(fig)
        return real(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    return lambda: list(dict.fromkeys(saved))


def _figure_titled(figs, text):
    return next(f for f in figs if f._suptitle is not None and text in f._suptitle.get_text())


def test_top_bottom_bars_are_bootstrap_intervals_with_reference_lines(case, open_figures):
    human, res, out = case
    script = load_script("show_results/rq1_country_level.py")
    assert script.main(args(human, res, out, "--n-boot", "200", "--models", "org/m1")) == 0
    det = pd.read_csv(out / "rq1_country_details.csv").set_index("country")
    ax = _figure_titled(open_figures(), "top and bottom").axes[0]
    bars = ax.collections[0].get_segments()  # one horizontal segment per country, top to bottom
    labels = [t.get_text() for t in ax.get_yticklabels()]
    got = {labels[round(seg[0][1])]: (seg[0][0], seg[1][0]) for seg in bars}
    for country, (lo, hi) in got.items():
        assert (lo, hi) == pytest.approx((det.loc[country, "ci_low"], det.loc[country, "ci_high"]), abs=1e-6)
        assert hi - lo != pytest.approx(2 * det.loc[country, "std"], abs=1e-3)  # not the std any more
    vlines = {ln.get_label(): ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_label().startswith(("uniform", "split"))}
    assert vlines["uniform answer (mean over countries)"] == pytest.approx(det["uniform"].mean(), abs=1e-6)
    assert vlines["split-half human ceiling (mean)"] == pytest.approx(det["ceiling"].mean(), abs=1e-6)


def test_matrix_diagonal_is_blank_and_scale_fits_the_rest(case, open_figures):
    human, res, out = case
    script = load_script("show_results/human_alignment_matrix.py")
    assert script.main(args(human, res, out, "--countries", "156,276")) == 0
    csv = pd.read_csv(out / "human_alignment_matrix.csv").set_index("label")
    assert csv.loc["China", "China"] == pytest.approx(1.0)  # the CSV keeps it
    for fig in open_figures():
        image = fig.axes[0].images[0]
        shown = np.ma.filled(image.get_array().astype(float), np.nan)
        assert np.isnan(np.diag(shown)).all()
        off = shown[~np.eye(len(shown), dtype=bool)]
        assert image.get_clim() == pytest.approx((np.nanmin(off), np.nanmax(off)))
        assert len(fig.axes[0].texts) == np.isfinite(off).sum()  # every cell but the diagonal is written


def test_rq3_axis_reaches_the_uniform_baseline(case, tmp_path, open_figures):
    human, res, out = case
    wave6 = write_human(tmp_path / "WV6.csv", HUMAN, 6)
    argv = ["--human", str(wave6), str(human), "--results-root", str(res), "--out", str(out), "--formats", "png"]
    assert load_script("show_results/rq3_temporal.py").main(argv) == 0
    df = pd.read_csv(out / "rq3_temporal.csv").set_index(["model", "wave", "countries"])
    # uniform answer on Q1, Q57: China (2/3 + .75) / 2, Germany (.5 + .75) / 2
    assert df.loc[("org/m1", 7, "each wave"), "uniform"] == pytest.approx(((2 / 3 + .75) / 2 + .625) / 2, abs=1e-6)
    for ax in _figure_titled(open_figures(), "RQ3").axes:
        if not ax.get_visible():
            continue
        lo, hi = ax.get_ylim()
        line = next(ln for ln in ax.get_lines() if ln.get_label().startswith("uniform"))
        assert lo <= min(line.get_ydata()) <= hi and min(line.get_ydata()) == pytest.approx(df["uniform"].min())


def test_model_level_legend_sits_beside_the_axes(case, open_figures):
    human, res, out = case
    assert load_script("show_results/rq1_model_level.py").main(args(human, res, out, "--n-boot", "50")) == 0
    fig = _figure_titled(open_figures(), "spread of per-country")
    ax = fig.axes[0]
    legend = ax.get_legend()
    fig.canvas.draw()
    assert not fig.legends and legend is not None
    assert legend.get_window_extent().x0 >= ax.get_window_extent().x1  # right of the plot, not under it
