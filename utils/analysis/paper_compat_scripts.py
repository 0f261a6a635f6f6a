"""What each `show_results/` script does under `--paper-compat`: the original arithmetic
(`paper_compat_rq1`, `paper_compat_rq2`) on the same inputs, written as `<name>_paper_compat.csv`
next to the default outputs so the two can be compared. Each function takes the script's
`AnalysisConfig` (and its own flags as plain arguments) and returns the files it wrote; --weights, --drop-nonsubstantive and --metric do not
apply (the original counts respondents, keeps every option and uses W1).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from utils.analysis.answers import model_files, short_name
from utils.analysis.config import AnalysisConfig
from utils.analysis.paper_compat import load_paper_human
from utils.analysis.paper_compat_rq1 import (
    country_scores,
    matrix,
    matrix_dists_human,
    matrix_dists_model,
    model_level,
    rq1_answers_paper,
    rq1_questions,
)
from utils.analysis.paper_compat_rq2 import rq2_paper_table
from utils.analysis.paper_models import paper_models, sort_models
from utils.analysis.paper_table import write_paper_table
from utils.analysis.plotting import Output, write_csv
from utils.analysis.significance import for_csv
from utils.core.errors import UserError

RUN_RQ1 = "run code/RQ1/prob_by_llm.py or code/RQ1/prob_by_api.py first (or point --results-root at the paper's results)"
DIGITS = 12  # scores are already rounded to 4 decimals; p-values are text (significance.for_csv)


def _csv(df: pd.DataFrame, out: Output, name: str) -> Path:
    return write_csv(df, out, name, DIGITS)  # marked like every CSV when the human data are synthetic


def _rq1(config: AnalysisConfig):
    files = model_files(config.results_root, "RQ1", paper_models(config.models, config.results_root, "RQ1"))
    if not files:
        raise UserError(f"no RQ1 results (RQ1/<model>/results.csv) under {config.results_root}; {RUN_RQ1}")
    questions = rq1_questions(config.questions_dir, model_files(config.results_root, "RQ1"))
    return files, questions, rq1_answers_paper(files, questions)


def rq1_country_level(config: AnalysisConfig) -> list[Path]:
    human = load_paper_human(config.human)
    _, questions, answers = _rq1(config)
    df = country_scores(answers, human, questions)
    df = df.sort_values(["model", "score"], ascending=[True, False], kind="stable")
    for model, d in df.groupby("model", sort=False):
        print(f"{model:45s} mean {d['score'].mean():.4f} over {len(d)} countries (paper-compat)")
    return [_csv(df, config.output, "rq1_country_scores_paper_compat.csv")]


def rq1_model_level(config: AnalysisConfig) -> list[Path]:
    human = load_paper_human(config.human)
    _, questions, answers = _rq1(config)
    summary, per_country = model_level(answers, human, questions)
    for r in summary.itertuples():
        print(f"{r.model:45s} pooled {r.pooled_score:.4f}  max {r.max_minus_score:.4f}  min {r.score_minus_min:.4f}  "
              f"consistency {r.consistency:.4f}  countries {r.mean_country_score:.4f} (paper-compat)")
    if len(summary):  # the notebook's figure for the people, all countries pooled (last item's entropy)
        print(f"{'people (all countries pooled)':45s} consistency {summary['people_consistency'].iloc[0]:.4f} "
              "(paper-compat)")
    return [_csv(summary, config.output, "rq1_model_scores_paper_compat.csv"),
            _csv(per_country, config.output, "rq1_model_country_scores_paper_compat.csv")]


def human_alignment_matrix(config: AnalysisConfig, countries: str = "", no_models: bool = False) -> list[Path]:
    """The human-performance notebooks: support 1..N, values in listed order, shared items.
    `countries`: WVS codes of the small matrix, comma-separated; `no_models`: countries only."""
    human = load_paper_human(config.human)
    questions = rq1_questions(config.questions_dir)
    dists = {human.names[c]: matrix_dists_human(human, questions, c) for c in human.country_codes}
    kinds = {k: "country" for k in dists}
    if not no_models:
        for f in model_files(config.results_root, "RQ1", paper_models(config.models, config.results_root, "RQ1")):
            dists[short_name(f.spec.model)] = matrix_dists_model(f.path, questions)  # labels as the default's
            kinds[short_name(f.spec.model)] = "model"
    labels = list(dists)
    df = pd.DataFrame(matrix([dists[k] for k in labels]), columns=labels)
    df.insert(0, "kind", [kinds[k] for k in labels])
    df.insert(0, "label", labels)
    written = [_csv(df, config.output, "human_alignment_matrix_paper_compat.csv")]
    codes = [int(c) for c in str(countries or "").split(",") if c.strip()]
    small = [human.names[c] for c in codes if c in human.names]
    if small:  # the study's 12 countries (--countries) and the models, as the default's small matrix
        keep = small + [k for k in labels if kinds[k] == "model"]
        part = df.set_index("label").loc[keep, ["kind", *keep]].reset_index()
        written.append(_csv(part, config.output, f"human_alignment_matrix_{len(codes)}_paper_compat.csv"))
    return written


def rq2_conditions(results_root: Path, models: str | None) -> dict:
    """{(model, country): {method: path}}, "none" being the model's RQ1 file (No Steering)."""
    files = model_files(results_root, "RQ2", models)
    if not files:
        raise UserError(f"no RQ2 results (RQ2/<method>/<country>/<model>/results.csv) under {results_root}; "
                        "run code/RQ2/prob_by_llm.py or code/RQ2/prob_by_api.py first")
    rq1 = {f.spec.model: f.path for f in model_files(results_root, "RQ1")}
    conditions: dict = {}
    for f in files:
        paths = conditions.setdefault((f.spec.model, f.spec.country), {"none": rq1[f.spec.model]} if f.spec.model in rq1 else {})
        paths[f.spec.condition] = f.path
    return conditions


def rq2_steering(config: AnalysisConfig, country_code, few_shot) -> list[Path]:
    """country_code(country) -> WVS code; few_shot(country) -> the ids the few-shot prompts show."""
    human = load_paper_human(config.human)
    conditions = rq2_conditions(config.results_root, paper_models(config.models, config.results_root, "RQ2"))
    df = sort_models(rq2_paper_table(conditions, human, country_code, few_shot))  # columns in the paper's order
    written = [_csv(for_csv(df), config.output, "rq2_steering_scores_paper_compat.csv")]
    written += write_paper_table(df, config.output, "rq2_paper_table_paper_compat",
                                 "RQ2 alignment per steering method (paper-compat arithmetic; stars: Student's "
                                 "t-test against No Steering, * p<.05, ** p<.01, *** p<.001)")
    return written


def rq3_temporal(config: AnalysisConfig, wave_items) -> list[Path]:
    """RQ1 rules per wave over the items asked in all three waves (codes from the wave map)."""
    questions = {w.id: list(w.choice_keys) for w in wave_items}
    files = model_files(config.results_root, "RQ1", paper_models(config.models, config.results_root, "RQ1"))
    if not files:
        raise UserError(f"no RQ1 results under {config.results_root}; {RUN_RQ1}")
    answers = rq1_answers_paper(files, questions)
    humans = [load_paper_human(p, expected_wave=None) for p in config.human_paths()]
    frames = []
    for h in humans:
        if h.wave is None:
            raise UserError("a --human table has no single wave in its wave column; prepare each wave separately")
        frames.append(country_scores(answers, h, questions).assign(wave=h.wave))
    df = pd.concat(frames, ignore_index=True)
    common = set.intersection(*(set(h.country_codes) for h in humans))
    rows = []
    for (model, wave), d in df.groupby(["model", "wave"], sort=True):
        for countries, part in (("all surveyed", d), ("in all waves", d[d["country_code"].isin(common)])):
            rows.append({"model": model, "wave": wave, "countries": countries, "n_countries": len(part),
                         "score": part["score"].mean(), "std": part["score"].std(ddof=0)})
    return [_csv(df, config.output, "rq3_country_scores_paper_compat.csv"),
            _csv(pd.DataFrame(rows), config.output, "rq3_temporal_paper_compat.csv")]


def sensitivity(config: AnalysisConfig) -> list[Path]:
    human = load_paper_human(config.human)
    files, questions, answers = _rq1(config)
    variants = [f for f in model_files(config.results_root, "sensitivity", config.models) if f.spec.model in answers]
    rows = []
    runs = [(f.spec.model, "default", answers[f.spec.model]) for f in files] + \
        [(f.spec.model, f.spec.condition, rq1_answers_paper([f], questions)[f.spec.model]) for f in variants]
    for model, variant, ans in runs:
        d = country_scores({model: ans}, human, questions)
        rows.append({"model": model, "variant": variant, "score": d["score"].mean(), "std": d["score"].std(ddof=0),
                     "n_countries": len(d)})
    df = pd.DataFrame(rows)
    base = df[df["variant"] == "default"].set_index("model")["score"]
    df["delta"] = df["score"] - df["model"].map(base)
    return [_csv(df, config.output, "sensitivity_scores_paper_compat.csv")]

