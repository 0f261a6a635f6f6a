"""RQ1, country level: each model's alignment with each country, sorted, with 95% intervals.

    python show_results/rq1_country_level.py --human dataset/human/WV7.csv \
        --results-root ../shared/reference/paper-release/results --out figures/

Writes rq1_country_scores.csv (model, country_code, country, score, std, n_items: the mean and
population std over the items both sides answered), rq1_country_details.csv (adds the bootstrap
95% interval over items, the rank, the uniform baseline and the split-half human ceiling, both on
the same items as the model's score for that country, `n_items` of them), and
two figures: rq1_country_top_bottom (the six best and six worst aligned countries per model, the
paper's main figure) and rq1_country_all (all countries). Their bars are the bootstrap 95% interval
of each country's mean (not the std over items, which measures how items differ, not how sure the
mean is); the dotted and dashed lines are the uniform answer and the split-half human ceiling.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.analysis import metrics, paper_compat_scripts  # noqa: E402
from utils.analysis.answers import rq1_answers, short_name  # noqa: E402
from utils.analysis.coverage import answer_policy  # noqa: E402
from utils.analysis.flags import parse_args, parser, report_written, run  # noqa: E402
from utils.analysis.plotting import COLORS, Output, grid, legend_below, point_range, save, title, write_csv  # noqa: E402
from utils.analysis.scoring import load_scoring  # noqa: E402

SCORE_COLUMNS = ["model", "country_code", "country", "score", "std", "n_items"]


def country_table(sc, answers: dict[str, np.ndarray], n_boot: int, repeats: int, seed: int) -> pd.DataFrame:
    h = sc.human
    uni_items, ceil_items = sc.uniform_scores(), sc.ceiling(repeats, seed)  # [C, I]
    frames = []
    for model, ans in answers.items():
        s = sc.scores(ans)
        mean, std, n = metrics.summarize(s)
        scored = np.isfinite(s)  # the baselines on exactly the items this model answered, per country
        uniform = metrics.summarize(np.where(scored, uni_items, np.nan))[0]
        ceiling = metrics.summarize(np.where(scored, ceil_items, np.nan))[0]
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


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=6, help="countries shown at each end in the main figure (default 6)")
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the items (default 1000)")
    ap.add_argument("--repeats", type=int, default=10, help="random splits for the human ceiling (default 10)")
    cfg = parse_args(ap, argv)
    if cfg.paper_compat:  # the original arithmetic (README: --paper-compat)
        return report_written(paper_compat_scripts.rq1_country_level(cfg))
    sc = load_scoring(cfg)
    answers = rq1_answers(cfg.results_root, list(sc.human.item_ids), list(sc.human.orders), cfg.models,
                          answer_policy(cfg, sc))
    df = country_table(sc, answers, cfg.extra["n_boot"], cfg.extra["repeats"], cfg.seed)
    written = [write_csv(df[SCORE_COLUMNS], cfg.output, "rq1_country_scores.csv"),
               write_csv(df, cfg.output, "rq1_country_details.csv")]
    written += plot_top_bottom(df, cfg.extra["top"], sc.human.synthetic, cfg.output)
    written += plot_all(df, sc.human.synthetic, cfg.output)
    for model, d in df.groupby("model", sort=False):
        print(f"{model:45s} mean {d['score'].mean():.4f} over {len(d)} countries "
              f"(best {d['country'].iloc[0]}, worst {d['country'].iloc[-1]})")
    return report_written(written)


if __name__ == "__main__":
    sys.exit(run(main))
