"""Robustness: every score under each prompt perturbation, its spread, and whether the conclusions
hold; prompts compared paired (same items, same resamples). docs/robustness.md, "The analysis".
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
from utils.analysis.figures import discussion as figures
from utils.analysis.options import option
from utils.analysis.robustness import stats
from utils.analysis.robustness.runs import Run, Scored, find_runs, item_scores
from utils.analysis.scoring import Scoring, load_scoring
from utils.analysis.tables import NO_STEERING, short_name, write_csv, write_tables
from utils.core.results.table import option_keys, read_complete


@dataclass(frozen=True)
class RobustnessOptions:
    n_boot: int = option(1000, "bootstrap resamples for the intervals (default 1000; 0: none)")
    bootstrap: str = option("items", resample.HELP, choices=resample.MODES)


def score_table(sc: Scoring, scores: dict[Run, Scored], n_boot: int, seed: int, mode: str) -> pd.DataFrame:
    """One row per run with its score and interval."""
    runs = [r for r, x in scores.items() if np.isfinite(x.scores).any()]

    def similarity(ans):
        return lambda shares: sc.similarity(ans[None], shares)

    draws = resample.country_draws([similarity(scores[r].answers) for r in runs], sc.counts, n_boot, seed, mode,
                                   sc.human.has_respondents, [np.isfinite(scores[r].scores) for r in runs]) \
        if n_boot else None
    rows = []
    for k, r in enumerate(runs):
        s = scores[r].scores
        per_country = metrics.summarize(s)[0]
        countries = np.isfinite(per_country)
        lo, hi = resample.interval(resample.mean_over(draws[k][:, countries])) if n_boot else (np.nan, np.nan)
        rows.append({"model": r.model, "condition": r.condition, "family": r.family, "index": r.index, "seed": r.seed,
                     "repeat": r.repeat, "perturbation": r.prompt, "score": float(per_country[countries].mean()),
                     "ci_low": float(lo), "ci_high": float(hi), "n_countries": int(countries.sum()),
                     "n_items": int(np.isfinite(s).any(0).sum())})
    return pd.DataFrame(rows)


def summary_table(sc: Scoring, scores: dict[Run, Scored], table: pd.DataFrame, spread: pd.DataFrame) -> pd.DataFrame:
    """Per model (RQ1): the original score, the uniform answer's on its items, the gap, the prompt spread."""
    uni = sc.uniform_scores()
    rows = []
    for r, scored in scores.items():
        s = scored.scores
        if r.condition != NO_STEERING or r.family != stats.ORIGINAL or r.repeat:
            continue
        u = metrics.summarize(np.where(np.isfinite(s), uni, np.nan))[0]
        u_score = float(np.nanmean(u))
        original = (table.model == r.model) & (table.condition == NO_STEERING) & (table.perturbation == stats.ORIGINAL)
        orig = float(table[original]["score"].mean())
        sp = spread[(spread.model == r.model) & (spread.condition == NO_STEERING) & (spread.family == "all")]
        std, rng_ = (float(sp["std"].iloc[0]), float(sp["range"].iloc[0])) if len(sp) else (np.nan, np.nan)
        gap = orig - u_score
        others = [x.answers for o, x in scores.items() if o.model == r.model and o.condition == NO_STEERING
                  and o.family != stats.ORIGINAL and not o.repeat]
        moved = stats.answer_distances(scored.answers, others, sc.n_options, sc.metric)
        rows.append({"model": r.model, "original": orig, "uniform": u_score, "gap": gap,
                     "prompt_std": std, "prompt_range": rng_, "n_prompts": int(sp["n"].iloc[0]) if len(sp) else 0,
                     "std_over_gap": std / abs(gap) if gap else np.nan}
                    | {k: v for k, v in moved.items() if k != "n_prompts"})
    return pd.DataFrame(rows)


def position_table(sc: Scoring, runs: list[Run], scores: dict[Run, Scored]) -> pd.DataFrame:
    ids, orders = list(sc.human.item_ids), list(sc.human.orders)
    rows = []
    for r in runs:
        if r.condition != NO_STEERING or r.repeat:
            continue
        latest = read_complete(r.path).latest
        listings = [tuple(option_keys(latest[i])) if i in latest else () for i in ids]
        first, last = stats.edge_positions(listings, orders)
        scored = np.isfinite(scores[r].scores).any(0)
        ans = np.where(scored[:, None], scores[r].answers, np.nan)
        rows.append({"model": r.model, "family": r.family, "perturbation": r.prompt}
                    | stats.edge_mass(ans, sc.shares, first, last))
    return pd.DataFrame(rows)


def ranking_table(scores: dict[Run, Scored], table: pd.DataFrame) -> pd.DataFrame:
    base = table[(table.condition == NO_STEERING) & (table.repeat == 0)]
    rows = []
    wide = base.pivot_table(index="model", columns="perturbation", values="score")
    if len(wide) >= 2:
        rows.append({"ranking": "models", "model": "all"} | stats.rank_agreement(wide))
    for model in dict.fromkeys(base["model"]):
        per = {r.prompt: metrics.summarize(s.scores)[0] for r, s in scores.items()
               if r.model == model and r.condition == NO_STEERING and not r.repeat}
        if len(per) >= 2:
            rows.append({"ranking": "countries", "model": model} | stats.rank_agreement(pd.DataFrame(per)))
    return pd.DataFrame(rows)


def robustness(config: AnalysisConfig, opts: RobustnessOptions, said: Said) -> list[Path]:
    policy, out = answer_policy(config, said), config.output
    sc = load_scoring(config, policy)
    runs = find_runs(config.results_root, config.probe_method, config.models)
    scores = item_scores(sc, runs, policy)
    table = score_table(sc, scores, opts.n_boot, config.seed, opts.bootstrap)
    one = table.groupby(["model", "condition", "family", "index", "seed", "perturbation"], sort=False,
                        as_index=False)["score"].mean()  # repeats averaged
    spread = stats.spread(one)
    summary = summary_table(sc, scores, one, spread)
    position = position_table(sc, runs, scores)
    steering = stats.steering_against_spread(one)
    written = [write_csv(table, out, "robustness_scores.csv"), write_csv(spread, out, "robustness_spread.csv"),
               write_csv(stats.decomposition(one), out, "robustness_variance.csv"),
               write_csv(position, out, "robustness_position.csv"),
               write_csv(ranking_table(scores, table), out, "robustness_rankings.csv")]
    if len(steering):
        written.append(write_csv(steering, out, "robustness_steering.csv"))
    gains = stats.steering_gains(one)
    if len(gains) and (gains["perturbation"] != stats.ORIGINAL).any():  # RQ2 cells asked under --perturb
        written.append(write_csv(gains, out, "robustness_steering_prompts.csv"))
    repeats = table.groupby(["model", "condition", "perturbation"], sort=False)["score"].agg(["mean", "std", "count"])
    repeats = repeats[repeats["count"] > 1].reset_index().rename(columns={"count": "n_repeats"})
    if len(repeats):
        written.append(write_csv(repeats, out, "robustness_repeats.csv"))
    shown = summary.assign(model=[short_name(m) for m in summary["model"]])
    written += write_tables(shown.round(4).astype(str), out, "robustness_summary", "Score under the original prompt, "
                            "the uniform answer on the same items, and the spread over prompt perturbations", labels=1,
                            rules=False, csv=summary)
    written += figures.robustness(table, summary, out)
    if len(position):
        written += figures.position(position, out)
    policy.said.line(summary.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return written
