"""RQ1 by respondent group: which group within a country each model is closest to, across countries
(the statistics: `group_scores.gap_test`). The paper had no groups: no paper's rules. Files and
columns: docs/groups.md, "Scores by group".
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from utils.analysis.answers import answer_policy
from utils.analysis.config import AnalysisConfig
from utils.analysis.coverage import Said
from utils.analysis.figures import rq1 as figures
from utils.analysis.group_scores import BY_HELP, gap_summary, group_scores, group_scorings, groups_in_table
from utils.core.human.human_data import read_long_table, table_groups
from utils.analysis.options import option
from utils.analysis.rules import OURS
from utils.analysis.scoring import load_scoring
from utils.analysis.significance import stars
from utils.analysis.tables import short_name, write_csv, write_tables
from utils.core.errors import UserError

CAPTION = ("Which respondent group each model is closest to: countries where each group scores highest, and the "
           "gap between the best- and worst-represented group (mean over countries with every group; bootstrap "
           "95% interval over countries; permutation test, * p<.05, ** p<.01, *** p<.001)")


@dataclass(frozen=True)
class GroupsOptions:
    by: str | None = option(None, "comma-separated group variables to compare (default: every one the table has)"
                            + BY_HELP, metavar="GROUPVAR")
    n_boot: int = option(1000, "bootstrap resamples of the countries (default 1000)")
    n_perm: int = option(2000, "label shuffles of the permutation test (default 2000)")


def table(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as strings for Markdown and LaTeX: one row per model and group variable."""
    rows = []
    for model, d in summary.groupby("model", sort=False):
        for n, r in enumerate(d.itertuples()):
            gap = "" if not np.isfinite(r.gap) else f"{r.gap:.4f}{stars(r.p_value)}"
            rows.append({"Model": short_name(model) if n == 0 else "", "Groups": r.group_var,
                         "Closest in (countries)": r.closest, "Best": r.best_group, "Worst": r.worst_group,
                         "Gap": gap, "95% CI": "" if not np.isfinite(r.gap) else f"[{r.ci_low:.4f}, {r.ci_high:.4f}]",
                         "p": "" if not np.isfinite(r.p_value) else f"{r.p_value:.3g}",
                         "Countries": str(r.n_countries)})
    return pd.DataFrame(rows)


def rq1_groups(config: AnalysisConfig, opts: GroupsOptions, said: Said) -> list[Path]:
    policy, out = answer_policy(config, said), config.output
    found = table_groups(read_long_table(config.human, None)[0])
    wanted = [v.strip() for v in (opts.by or ",".join(found)).split(",") if v.strip()]
    if not wanted:
        raise UserError(f"{config.human} has no group rows; prepare it with python dataset/prepare_wvs.py "
                        "--groups sex,age,education,settlement,income")
    for by in wanted:
        groups_in_table(config.human, by)  # an unknown or absent group variable: say so before scoring
    sc = load_scoring(config, policy)
    items, orders = list(sc.human.item_ids), list(sc.human.orders)
    answers = OURS.rq1_answers(config, sc, policy)
    scores = pd.concat([group_scores(group_scorings(config, by, items, orders), answers, by) for by in wanted],
                       ignore_index=True)
    summary, per_group = gap_summary(scores, opts.n_boot, opts.n_perm, config.seed)
    written = write_tables(table(summary), out, "rq1_groups", CAPTION, csv=summary)
    written.append(write_csv(per_group, out, "rq1_groups_by_group.csv"))
    written += figures.groups(summary, per_group, out)
    for var in sorted(set(summary.loc[summary["n_countries"] == 0, "group_var"])):
        # e.g. 300 respondents per country: every age group fell below --min-group-n somewhere
        policy.said.note(f"no country has a score for every {var} group (a group with fewer respondents than "
                         f"--min-group-n is dropped where it is), so {var} has no gap to show; prepare the table with "
                         "a lower --min-group-n or more respondents")
    for r in summary[summary["n_countries"] > 0].itertuples():
        policy.said.line(f"{r.model:40s} {r.group_var:10s} closest: {r.closest}; gap {r.best_group} - {r.worst_group} "
                         f"{r.gap:.4f} [{r.ci_low:.4f}, {r.ci_high:.4f}], p = {r.p_value:.3g} over {r.n_countries} "
                         "countries")
    return written
