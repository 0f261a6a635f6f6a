"""RQ1 by respondent group: which group within a country each model is closest to, across countries.

    python show_results/rq1_groups.py --human dataset/human/WV7.csv --by age,sex --out figures/

Needs a table prepared with `dataset/prepare_wvs.py --groups ...`. For each model and group
variable: in how many countries the model is closest to each group, the mean score of each group
over the countries that have all of them, and the gap between the best- and the worst-represented
group (the groups with the highest and lowest mean score) with a bootstrap 95% interval over
countries and a permutation p-value (group labels shuffled within each country, best and worst
picked again each time, so the choice of the extreme pair is part of the test;
utils/analysis/group_scores.py). Writes rq1_groups.csv (one row per model and group variable),
rq1_groups_by_group.csv (one row per group), rq1_groups.md and rq1_groups.tex (the summary as a
table; stars: * p<.05, ** p<.01, *** p<.001) and the figure rq1_groups (per group variable and
model, the share of countries closest to each group, with the gap written beside it).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from utils.analysis.answers import rq1_answers, short_name  # noqa: E402
from utils.analysis.coverage import answer_policy  # noqa: E402
from utils.analysis.flags import add_by, parse_args, parser, report_written, run  # noqa: E402
from utils.analysis.group_scores import gap_summary, group_scores, group_scorings, groups_in_table  # noqa: E402
from utils.analysis.human.human_data import read_long_table, table_groups  # noqa: E402
from utils.analysis.paper_compat import stars  # noqa: E402
from utils.analysis.paper_table import write_tables  # noqa: E402
from utils.analysis.plotting import COLORS, Output, grid, save, title, write_csv  # noqa: E402
from utils.analysis.scoring import load_scoring  # noqa: E402
from utils.core.errors import UserError  # noqa: E402

CAPTION = ("Which respondent group each model is closest to: countries where each group scores highest, and the "
           "gap between the best- and worst-represented group (mean over countries with every group; bootstrap "
           "95% interval over countries; permutation test, * p<.05, ** p<.01, *** p<.001)")


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


def plot(summary: pd.DataFrame, per_group: pd.DataFrame, synthetic: bool, out: Output) -> list[Path]:
    """One panel per group variable: per model a bar split by the share of countries closest to
    each group, the gap and its interval written at its end."""
    variables = list(dict.fromkeys(summary["group_var"]))
    models = list(dict.fromkeys(summary["model"]))
    fig, axes = grid(len(variables), 1, 7.5, 0.55 * len(models) + 1.4)
    for ax, var in zip(axes, variables):
        d = per_group[per_group["group_var"] == var]
        labels = list(dict.fromkeys(d["group"]))
        for i, model in enumerate(models):
            m = d[d["model"] == model].set_index("group")
            total = max(int(m["n_countries"].max()) if len(m) else 0, 1)
            left = 0.0
            for k, label in enumerate(labels):
                share = m["n_closest"].get(label, 0) / total
                ax.barh(i, share, left=left, color=COLORS[k % 10], label=label if i == 0 else None, height=0.6)
                left += share
            s = summary[(summary["model"] == model) & (summary["group_var"] == var)].iloc[0]
            if np.isfinite(s.gap):
                ax.text(1.02, i, f"gap {s.gap:.4f} [{s.ci_low:.4f}, {s.ci_high:.4f}] {stars(s.p_value) or 'n.s.'}\n"
                        f"{s.best_group} over {s.worst_group}", va="center", fontsize=7)
        ax.set_yticks(range(len(models)), [short_name(m) for m in models], fontsize=8)
        ax.set_ylim(len(models) - 0.5, -0.5)
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of countries where the model is closest to the group")
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.02), ncol=len(labels), fontsize=7, borderaxespad=0,
                  title=var, title_fontsize=9, alignment="left")
    title(fig, "RQ1: which group within a country each model is closest to", synthetic, out.metric)
    fig.tight_layout()
    return save(fig, out, "rq1_groups")


def build_parser() -> argparse.ArgumentParser:
    ap = parser(__doc__.splitlines()[0])
    add_by(ap, "comma-separated group variables to compare (default: every one the table has)")
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the countries (default 1000)")
    ap.add_argument("--n-perm", type=int, default=2000, help="label shuffles of the permutation test (default 2000)")
    return ap


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(build_parser(), argv)
    if cfg.paper_compat:
        raise UserError("rq1_groups.py has no --paper-compat form: the paper had no respondent groups")
    found = table_groups(read_long_table(cfg.human, None)[0])
    wanted = [v.strip() for v in (cfg.extra["by"] or ",".join(found)).split(",") if v.strip()]
    if not wanted:
        raise UserError(f"{cfg.human} has no group rows; prepare it with python dataset/prepare_wvs.py "
                        "--groups sex,age,education,settlement,income")
    for by in wanted:
        groups_in_table(cfg.human, by)  # an unknown or absent group variable: say so before scoring
    sc = load_scoring(cfg)
    items, orders = list(sc.human.item_ids), list(sc.human.orders)
    answers = rq1_answers(cfg.results_root, items, orders, cfg.models, answer_policy(cfg, sc))
    scores = pd.concat([group_scores(group_scorings(cfg, by, items, orders), answers, by) for by in wanted],
                       ignore_index=True)
    summary, per_group = gap_summary(scores, cfg.extra["n_boot"], cfg.extra["n_perm"], cfg.seed)
    written = write_tables(table(summary), cfg.output, "rq1_groups", CAPTION, csv=summary)
    written.append(write_csv(per_group, cfg.output, "rq1_groups_by_group.csv"))
    written += plot(summary, per_group, sc.human.synthetic, cfg.output)
    empty = sorted(set(summary.loc[summary["n_countries"] == 0, "group_var"]))
    for var in empty:  # e.g. 300 respondents per country: every age group fell below --min-group-n somewhere
        print(f"note: no country has a score for every {var} group (a group with fewer respondents than "
              f"--min-group-n is dropped where it is), so {var} has no gap to show; prepare the table with a "
              "lower --min-group-n or more respondents")
    for r in summary[summary["n_countries"] > 0].itertuples():
        print(f"{r.model:40s} {r.group_var:10s} closest: {r.closest}; gap {r.best_group} - {r.worst_group} "
              f"{r.gap:.4f} [{r.ci_low:.4f}, {r.ci_high:.4f}], p = {r.p_value:.3g} over {r.n_countries} countries")
    return report_written(written)


if __name__ == "__main__":
    sys.exit(run(main))
