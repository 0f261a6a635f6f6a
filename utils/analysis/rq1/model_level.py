"""RQ1, model level: each model's per-country scores and its score against the pooled world, read
against the uniform answer and the split-half human ceiling. docs/analysis.md, "RQ1 by model".
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from utils.analysis import metrics, resample
from utils.analysis.answers import answer_policy
from utils.analysis.config import AnalysisConfig
from utils.analysis.coverage import Said
from utils.analysis.figures import rq1 as figures
from utils.analysis.options import option
from utils.analysis.paper.notebooks import MODEL_LEVEL_SKIP, model_level
from utils.analysis.rules import country_table
from utils.analysis.tables import write_csv


@dataclass(frozen=True)
class ModelLevelOptions:
    n_boot: int = option(1000, "bootstrap resamples of the items (default 1000)")
    repeats: int = option(10, "random splits for the human ceiling (default 10)")
    bootstrap: str = option("items", resample.HELP, choices=resample.MODES, ours_only=True)


def row(kind: str, model: str, per_country: np.ndarray, pooled: np.ndarray, n_items, entropy: float,
        n_boot: int, seed: int, items_of: str, ci: tuple[float, float] | None = None) -> dict:
    """One table row; `ci` the pooled score's interval if drawn elsewhere, else bootstrapped over items."""
    c = per_country[~np.isnan(per_country)]
    pm, ps, _ = metrics.summarize(pooled)
    lo, hi = metrics.bootstrap_ci(pooled, n_boot, seed=seed) if ci is None else ci
    if not c.size:  # e.g. the ceiling of shares without respondent counts: left out, not made up
        c = np.array([np.nan])
    return {"kind": kind, "model": model, "mean": c.mean(), "std": c.std(), "min": c.min(), "max": c.max(),
            "n_countries": int(np.isfinite(c).sum()), "n_items": int(n_items), "items_of": items_of,
            "pooled_score": float(pm), "pooled_std": float(ps), "pooled_ci_low": float(lo),
            "pooled_ci_high": float(hi), "entropy": float(entropy)}


def pooled_intervals(sc, answers: list[np.ndarray], masks: list[np.ndarray], n_boot: int, seed: int,
                     mode: str) -> list[tuple[float, float]]:
    """Interval of the pooled score of each [I, K] answer set on its `masks` items, all under the same
    resamples, countries pooled again in every draw (same m items: `bootstrap_ci` plus survey error)."""
    items = np.any(masks, axis=0)  # items nobody scores are not drawn (a run of 12 items: 12 picks)
    if not items.any():
        return [(np.nan, np.nan)] * len(answers)
    known = sc.human.has_respondents
    known = None if known is None else known[:, items]
    counts, n_opt = sc.counts[:, items], sc.n_options[items]
    shape = counts.shape[:2]

    def pooled_score(a):
        def score(drawn):  # [C, I, K] -> the pooled score, the same in every country's row
            pooled = drawn.sum(0)
            if known is not None:  # as Scoring.pooled: no pooled population where a count is unknown
                pooled = np.where(known.all(0)[:, None], pooled, np.nan)
            return np.broadcast_to(metrics.similarity(a, pooled, n_opt, sc.metric), shape)
        return score

    draws = resample.country_draws([pooled_score(a[items]) for a in answers], counts, n_boot, seed, mode, known,
                                   [np.broadcast_to(m[items], shape) for m in masks], pass_counts=True)
    return [tuple(float(v) for v in resample.interval(d[:, 0])) for d in draws]


def model_table(sc, answers, n_boot: int, repeats: int, seed: int, bootstrap: str) -> tuple[pd.DataFrame, dict]:
    """One row per model, then the uniform answer and the split-half ceiling on exactly the items
    (per country) a model answered, so a run of 12 items is read against baselines on those 12: one
    pair of rows per set of items, shared by the models that answered it (`items_of` names them)."""
    pooled_human = sc.pooled()  # [I, K] every country's answers together
    u = metrics.uniform(sc.n_options, sc.shares.shape[-1])
    uni_items, uni_pooled = sc.uniform_scores(), sc.similarity(u, pooled_human)  # [C, I], [I]
    ceil_items = sc.ceiling(repeats, seed)  # [C, I]
    human_ent = metrics.normalized_entropy(sc.shares, sc.n_options)  # [C, I]
    per_country, model_rows, groups = {}, [], {}
    for model, ans in answers.items():
        s = sc.scores(ans)  # [C, I]
        mean = metrics.summarize(s)[0]
        per_country[model] = mean
        pooled = sc.similarity(sc.model(ans), pooled_human)
        ent = metrics.mean_normalized_entropy(sc.model(ans), sc.n_options)
        scored, pooled_ok = np.isfinite(s), np.isfinite(pooled)  # the model's items, per country and pooled
        model_rows.append((model, mean, pooled, scored.any(0).sum(), ent, sc.model(ans), pooled_ok))
        groups.setdefault((scored.tobytes(), pooled_ok.tobytes()), (scored, pooled_ok, []))[2].append(model)
    cis = [None] * (len(model_rows) + len(groups))  # None: the bootstrap over items, in `row`
    if bootstrap == "respondents":  # every model and every uniform row under the same resamples
        cis = pooled_intervals(sc, [r[5] for r in model_rows] + [u] * len(groups),
                               [r[6] for r in model_rows] + [g[1] for g in groups.values()], n_boot, seed, bootstrap)
    rows = [row("model", model, mean, pooled, n, ent, n_boot, seed, model, ci)
            for (model, mean, pooled, n, ent, _, _), ci in zip(model_rows, cis)]
    baselines = {}
    for (scored, pooled_ok, models), ci in zip(groups.values(), cis[len(model_rows):]):
        items_of = "every model" if len(groups) == 1 else "; ".join(models)
        n = scored.any(0).sum()
        uni = metrics.summarize(np.where(scored, uni_items, np.nan))[0]
        ceil = metrics.summarize(np.where(scored, ceil_items, np.nan))[0]
        with np.errstate(all="ignore"):
            h_ent = float(np.nanmean(np.where(scored, human_ent, np.nan))) if scored.any() else np.nan
        rows.append(row("baseline", "uniform answer", uni, np.where(pooled_ok, uni_pooled, np.nan), n, 1.0, n_boot,
                        seed, items_of, ci))
        rows.append(row("ceiling", "split-half human", ceil, np.full(len(sc.n_options), np.nan), n, h_ent, n_boot,
                        seed, items_of))
        baselines |= dict.fromkeys(models, (rows[-2]["mean"], rows[-1]["mean"]))  # the means over countries
    return pd.DataFrame(rows), {"per_country": per_country, "baselines": baselines}


def notebook_tables(rules, side, answers: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The model-level notebook's summary and the per-country scores behind it, without `MODEL_LEVEL_SKIP`."""
    answers = {m: {q: d for q, d in a.items() if q not in MODEL_LEVEL_SKIP} for m, a in answers.items()}
    per_country = country_table(rules, side, {m: rules.country_scores(side, a) for m, a in answers.items()})
    return model_level(answers, per_country, side.dists(None), side.questions), per_country


def rq1_model_level(config: AnalysisConfig, opts: ModelLevelOptions, said: Said) -> list[Path]:
    rules, policy, out = config.rules, answer_policy(config, said), config.output
    side = rules.human(config, policy)
    answers = rules.rq1_answers(config, side, policy)
    if rules.paper:  # the notebook's summary: pooled score, its spread over items, the last item's entropy
        df, per_country = notebook_tables(rules, side, answers)
        written = [write_csv(df, out, "rq1_model_scores.csv", rules.digits),
                   write_csv(per_country, out, "rq1_model_country_scores.csv", rules.digits)]
        for r in df.itertuples():
            policy.said.line(f"{r.model:45s} pooled {r.pooled_score:.4f}  max {r.max_minus_score:.4f}  min "
                             f"{r.score_minus_min:.4f}  consistency {r.consistency:.4f}  countries "
                             f"{r.mean_country_score:.4f} (paper-compat)")
        if len(df):  # the notebook's figure for the people, all countries pooled (last item's entropy)
            policy.said.line(f"{'people (all countries pooled)':45s} consistency "
                             f"{df['people_consistency'].iloc[0]:.4f} (paper-compat)")
        return written
    df, drawn = model_table(side, answers, opts.n_boot, opts.repeats, config.seed, opts.bootstrap)
    written = [write_csv(df, out, "rq1_model_scores.csv")] + figures.model_level(df, drawn, out)
    for r in df.itertuples():
        of = "" if r.kind == "model" else " of " + r.items_of
        policy.said.line(f"{r.kind:8s} {r.model:45s} countries {r.mean:.4f} ± {r.std:.4f}  pooled "
                         f"{r.pooled_score:.4f}  entropy {r.entropy:.3f}  {r.n_items} items{of}")
    return written
