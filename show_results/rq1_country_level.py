"""RQ1, country level: each model's alignment with each country, sorted, with 95% intervals.

    python show_results/rq1_country_level.py --human dataset/human/WV7.csv \
        --results-root <paper-release>/results --out figures/

Writes rq1_country_scores.csv (model, country_code, country, score, std, n_items: the mean and
population std over the items both sides answered), rq1_country_details.csv (adds the bootstrap
95% interval over items, or over items and each country's respondents with `--bootstrap respondents`, the rank, the uniform baseline and the split-half human ceiling, both on
the same items as the model's score for that country, `n_items` of them), and
two figures: rq1_country_top_bottom (the six best and six worst aligned countries per model, the
paper's main figure) and rq1_country_all (all countries). Their bars are the bootstrap 95% interval
of each country's mean (not the std over items, which measures how items differ, not how sure the
mean is); the dotted and dashed lines are the uniform answer and the split-half human ceiling.

With --by GROUPVAR (a table prepared with `dataset/prepare_wvs.py --groups`) it also writes
rq1_group_scores.csv (model, country, country_code, group_var, group, score, n_items,
n_respondents: the same mean item score, against each group's distribution) and the figure
rq1_group_scores: per model, every country's groups side by side, countries in the order of
rq1_country_all. Across countries: show_results/rq1_groups.py (docs/groups.md).
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
from utils.analysis import metrics, paper_compat_scripts, resample  # noqa: E402
from utils.analysis.answers import rq1_answers, short_name  # noqa: E402
from utils.analysis.coverage import answer_policy  # noqa: E402
from utils.analysis.flags import add_by, parse_args, parser, report_written, run  # noqa: E402
from utils.analysis.group_scores import group_scores, group_scorings, groups_in_table  # noqa: E402
from utils.analysis.plotting import COLORS, Output, grid, legend_below, point_range, save, title, write_csv  # noqa: E402
from utils.analysis.scoring import load_scoring  # noqa: E402
from utils.core.errors import UserError  # noqa: E402

SCORE_COLUMNS = ["model", "country_code", "country", "score", "std", "n_items"]


def country_table(sc, answers: dict[str, np.ndarray], n_boot: int, repeats: int, seed: int,
                  bootstrap: str = "items") -> pd.DataFrame:
    """One row per model and country; `bootstrap` "respondents" widens the intervals by the survey's
    sampling error (utils/analysis/resample.py)."""
    h = sc.human
    uni_items, ceil_items = sc.uniform_scores(), sc.ceiling(repeats, seed)  # [C, I]
    frames = []
    for model, ans in answers.items():
        s = sc.scores(ans)
        mean, std, n = metrics.summarize(s)
        scored = np.isfinite(s)  # the baselines on exactly the items this model answered, per country
        uniform = metrics.summarize(np.where(scored, uni_items, np.nan))[0]
        ceiling = metrics.summarize(np.where(scored, ceil_items, np.nan))[0]
        if bootstrap == "respondents":
            def similarity(shares, a=sc.model(ans)):
                return sc.similarity(a[None], shares)
            lo, hi = resample.interval(resample.country_draws([similarity], sc.counts, n_boot, seed, bootstrap,
                                                              h.has_respondents, [scored])[0])
        else:
            lo, hi = metrics.bootstrap_ci(s, n_boot, seed=seed)
        frames.append(pd.DataFrame({
            "model": model, "country_code": h.country_codes, "country": h.country_names, "score": mean,
            "std": std, "n_items": n, "ci_low": lo, "ci_high": hi, "uniform": uniform, "ceiling": ceiling}))
    df = pd.concat(frames, ignore_index=True)
    df = df[df["n_items"] > 0].sort_values(["model", "score"], ascending=[True, False], kind="stable")
    df.insert(df.columns.get_loc("ci_low"), "rank", df.groupby("model").cumcount() + 1)
    return df.reset_index(drop=True)


def ci_errors(d: pd.DataFrame) -> np.ndarray:
    """[2, n] distances from each score down to its bootstrap interval's low end and up to its high
    end (the interval of the mean over items; the std over items stays in the CSV)."""
    return np.vstack([d["score"] - d["ci_low"], d["ci_high"] - d["score"]]).clip(min=0)


def reference_lines(ax, d: pd.DataFrame, line) -> None:
    """The uniform answer and the split-half human ceiling (means over countries), as on the
    model-level figure; the ceiling is left out where the human data has no respondent counts."""
    line(d["uniform"].mean(), color="0.4", lw=1.2, ls=":", label="uniform answer (mean over countries)")
    if d["ceiling"].notna().any():
        line(d["ceiling"].mean(), color="tab:green", lw=1.2, ls="--", label="split-half human ceiling (mean)")


def plot_top_bottom(df: pd.DataFrame, k: int, synthetic: bool, out: Output) -> list[Path]:
    models = list(dict.fromkeys(df["model"]))
    fig, axes = grid(len(models), 4, 3.6, 3.4, sharex=True)
    for i, (ax, model) in enumerate(zip(axes, models)):
        d = df[df["model"] == model]
        pick = pd.concat([d.head(k), d.tail(k)]) if len(d) > 2 * k else d
        point_range(ax, pick["country"], pick["score"], ci_errors(pick), color=COLORS[i % 10])
        if len(d) > 2 * k:
            ax.axhline(k - 0.5, color="0.75", lw=0.8, ls=":")
        ax.axvline(d["score"].mean(), color="crimson", lw=1, ls="--", label="mean over all countries")
        reference_lines(ax, d, ax.axvline)
        ax.set_title(short_name(model), fontsize=9)
        ax.tick_params(axis="y", labelsize=8)
        ax.set_xlabel("alignment score (mean over items, 95% CI)")
    title(fig, f"RQ1: top and bottom {k} countries per model", synthetic, out.metric)
    fig.tight_layout()
    legend_below(fig, axes[0])
    return save(fig, out, "rq1_country_top_bottom")


def plot_all(df: pd.DataFrame, synthetic: bool, out: Output) -> list[Path]:
    models = list(dict.fromkeys(df["model"]))
    n_c = df.groupby("model").size().max()
    fig, axes = grid(len(models), 1, max(8, 0.2 * n_c), 3.0, sharey=True)
    for i, (ax, model) in enumerate(zip(axes, models)):
        d = df[df["model"] == model]
        point_range(ax, d["country"], d["score"], ci_errors(d), horizontal=False, color=COLORS[i % 10])
        ax.axhline(d["score"].mean(), color="crimson", lw=1, ls="--", label="mean over countries")
        reference_lines(ax, d, ax.axhline)
        ax.set_title(short_name(model), fontsize=9, loc="left")
        ax.set_ylabel("score (95% CI)")
        ax.tick_params(axis="x", labelsize=7)
    title(fig, "RQ1: alignment with every country, per model (sorted)", synthetic, out.metric)
    fig.tight_layout()
    legend_below(fig, axes[0])
    return save(fig, out, "rq1_country_all")


def plot_groups(groups: pd.DataFrame, countries: pd.DataFrame, by: str, synthetic: bool, out: Output) -> list[Path]:
    """Per model, each country's groups side by side (one colour per group), countries in the
    order of rq1_country_all, with the whole country's score as a grey line across them."""
    models = list(dict.fromkeys(groups["model"]))
    labels = list(dict.fromkeys(groups["group"]))
    n_c = countries.groupby("model").size().max()
    fig, axes = grid(len(models), 1, max(8, 0.25 * n_c), 3.2, sharey=True)
    width = 0.8 / max(len(labels), 1)
    for ax, model in zip(axes, models):
        order = countries[countries["model"] == model]
        pos = {c: i for i, c in enumerate(order["country_code"])}
        x0 = np.arange(len(order))
        ax.hlines(order["score"], x0 - 0.45, x0 + 0.45, color="0.6", lw=1.5, label="whole country")
        g = groups[groups["model"] == model]
        for k, label in enumerate(labels):
            d = g[(g["group"] == label) & g["country_code"].isin(pos)]
            x = np.array([pos[c] for c in d["country_code"]]) + (k - (len(labels) - 1) / 2) * width
            ax.plot(x, d["score"], "o", ms=3.5, color=COLORS[k % 10], label=f"{by} {label}")
        ax.set_xticks(range(len(order)), order["country"], rotation=90, fontsize=7)
        ax.set_xlim(-0.7, len(order) - 0.3)
        ax.set_title(short_name(model), fontsize=9, loc="left")
        ax.set_ylabel("score")
    both = np.r_[groups["score"].to_numpy(float), countries["score"].to_numpy(float)]
    lo, hi = np.nanmin(both), np.nanmax(both)
    axes[0].set_ylim(max(0.0, lo - 0.1 * (hi - lo) - 1e-3), min(1.0, hi + 0.1 * (hi - lo) + 1e-3))  # shared by all
    title(fig, f"RQ1: alignment with each {by} group, per country (countries as in rq1_country_all)", synthetic,
          out.metric)
    fig.tight_layout()
    legend_below(fig, axes[0], ncol=len(labels) + 1)
    return save(fig, out, "rq1_group_scores")


def build_parser() -> argparse.ArgumentParser:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=6, help="countries shown at each end in the main figure (default 6)")
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the items (default 1000)")
    ap.add_argument("--repeats", type=int, default=10, help="random splits for the human ceiling (default 10)")
    resample.add_argument(ap)
    add_by(ap, "also score each group of GROUPVAR in every country: rq1_group_scores.csv and its figure")
    return ap


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(build_parser(), argv)
    if cfg.paper_compat:  # the original arithmetic (README: --paper-compat)
        if cfg.extra["bootstrap"] != "items":
            raise UserError("--paper-compat reproduces the paper's arithmetic and cannot be combined with --bootstrap respondents")
        return report_written(paper_compat_scripts.rq1_country_level(cfg))
    if cfg.extra["by"]:
        groups_in_table(cfg.human, cfg.extra["by"])  # an unknown or absent group variable: say so before scoring
    sc = load_scoring(cfg)
    answers = rq1_answers(cfg.results_root, list(sc.human.item_ids), list(sc.human.orders), cfg.models,
                          answer_policy(cfg, sc))
    df = country_table(sc, answers, cfg.extra["n_boot"], cfg.extra["repeats"], cfg.seed, cfg.extra["bootstrap"])
    written = [write_csv(df[SCORE_COLUMNS], cfg.output, "rq1_country_scores.csv"),
               write_csv(df, cfg.output, "rq1_country_details.csv")]
    written += plot_top_bottom(df, cfg.extra["top"], sc.human.synthetic, cfg.output)
    written += plot_all(df, sc.human.synthetic, cfg.output)
    if cfg.extra["by"]:
        by = cfg.extra["by"]
        groups = group_scores(group_scorings(cfg, by, list(sc.human.item_ids), list(sc.human.orders)), answers, by)
        written.append(write_csv(groups, cfg.output, "rq1_group_scores.csv"))
        written += plot_groups(groups, df, by, sc.human.synthetic, cfg.output)
    for model, d in df.groupby("model", sort=False):
        print(f"{model:45s} mean {d['score'].mean():.4f} over {len(d)} countries "
              f"(best {d['country'].iloc[0]}, worst {d['country'].iloc[-1]})")
    return report_written(written)


if __name__ == "__main__":
    sys.exit(run(main))
