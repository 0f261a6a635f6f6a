"""RQ1, country level: each model's alignment with each country, sorted, with 95% intervals (not the
std over items, which measures how items differ). docs/analysis.md, "RQ1 by country".
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.analysis import metrics, resample
from utils.analysis.answers import answer_policy
from utils.analysis.config import AnalysisConfig
from utils.analysis.coverage import Said
from utils.analysis.figures import rq1 as figures
from utils.analysis.figures.world_map import world_maps
from utils.analysis.group_scores import BY_HELP, group_scores, group_scorings, groups_in_table
from utils.analysis.options import option
from utils.analysis.rules import country_table
from utils.analysis.tables import write_csv

SCORE_COLUMNS = ["model", "country_code", "country", "score", "std", "n_items"]


@dataclass(frozen=True)
class CountryLevelOptions:
    top: int = option(6, "countries shown at each end in the main figure (default 6)")
    n_boot: int = option(1000, "bootstrap resamples of the items (default 1000)")
    repeats: int = option(10, "random splits for the human ceiling (default 10)")
    bootstrap: str = option("items", resample.HELP, choices=resample.MODES, ours_only=True)
    by: str | None = option(None, "also score each group of GROUPVAR in every country: rq1_group_scores.csv and "
                            "its figure" + BY_HELP, metavar="GROUPVAR", ours_only=True)


def details(sc, answers: dict, n_boot: int, repeats: int, seed: int, bootstrap: str):
    """`more` for `country_table`: each country's interval, uniform answer and ceiling, on the model's items."""
    uni_items, ceil_items = sc.uniform_scores(), sc.ceiling(repeats, seed)  # [C, I]

    def more(model, s):
        scored = np.isfinite(s)
        if bootstrap == "respondents":
            a = sc.model(answers[model])
            lo, hi = resample.interval(resample.country_draws([lambda shares: sc.similarity(a[None], shares)],
                                                              sc.counts, n_boot, seed, bootstrap,
                                                              sc.human.has_respondents, [scored])[0])
        else:
            lo, hi = metrics.bootstrap_ci(s, n_boot, seed=seed)
        return {"ci_low": lo, "ci_high": hi, "uniform": metrics.summarize(np.where(scored, uni_items, np.nan))[0],
                "ceiling": metrics.summarize(np.where(scored, ceil_items, np.nan))[0]}
    return more


def rq1_country_level(config: AnalysisConfig, opts: CountryLevelOptions, said: Said) -> list[Path]:
    rules, policy, out = config.rules, answer_policy(config, said), config.output
    if opts.by:
        groups_in_table(config.human, opts.by)  # an unknown or absent group variable: say so before scoring
    side = rules.human(config, policy)
    answers = rules.rq1_answers(config, side, policy)
    more = None if rules.paper else details(side, answers, opts.n_boot, opts.repeats, config.seed, opts.bootstrap)
    df = country_table(rules, side, {m: rules.country_scores(side, a) for m, a in answers.items()}, more)
    df = df.sort_values(["model", "score"], ascending=[True, False], kind="stable").reset_index(drop=True)
    written = [write_csv(df[SCORE_COLUMNS], out, "rq1_country_scores.csv", rules.digits)]
    if not rules.paper:  # the paper's notebook has the scores alone
        df.insert(df.columns.get_loc("ci_low"), "rank", df.groupby("model").cumcount() + 1)
        written.append(write_csv(df, out, "rq1_country_details.csv"))
        written += figures.country_top_bottom(df, opts.top, out) + figures.country_all(df, out)
        panels = {model: d.set_index("country_code")["score"] for model, d in df.groupby("model", sort=False)}
        drawn = world_maps(panels, out, "RQ1: alignment with each country, per model", "rq1_world_map",
                           names=dict(zip(df["country_code"].astype(int), df["country"])))
        written += drawn.paths
        if drawn.note():
            policy.said.note(drawn.note())
    if opts.by:
        items, orders = list(side.human.item_ids), list(side.human.orders)
        groups = group_scores(group_scorings(config, opts.by, items, orders), answers, opts.by)
        written.append(write_csv(groups, out, "rq1_group_scores.csv"))
        written += figures.group_scores(groups, df, opts.by, out)
    for model, d in df.groupby("model", sort=False):
        policy.said.line(f"{model:45s} mean {d['score'].mean():.4f} over {len(d)} countries "
                         f"(best {d['country'].iloc[0]}, worst {d['country'].iloc[-1]})")
    return written
