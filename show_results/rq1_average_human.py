"""RQ1, each model against the average human: over-, appropriately and under-aligned countries.

    python show_results/rq1_average_human.py --human dataset/human/WV7.csv --results-root results --tau 0.02

The paper's supplementary figures 8-14, one panel per model: for each country, the model's
alignment with it (y) against the average human's alignment with it (x; the average human is all
countries' answers pooled), the diagonal, the band of +/- tau around it and Pearson's r. A country
is over-aligned when the model beats the average human by at least tau, under-aligned when it
falls more than tau below, appropriately aligned in between (utils/analysis/average_human.py).

Writes rq1_average_human.csv (model, country_code, country, model_score, human_score, diff,
status, n_items), rq1_average_human_summary.csv (per model: Pearson's r and p, countries per
status) and rq1_average_human.png/.pdf. With --paper-compat the scores use the release's notebook
arithmetic (utils/analysis/paper_compat_rq1.py) and the files end in _paper_compat.
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
from utils.analysis import average_human as avg  # noqa: E402
from utils.analysis.answers import rq1_answers, short_name  # noqa: E402
from utils.analysis.config import AnalysisConfig  # noqa: E402
from utils.analysis.coverage import answer_policy  # noqa: E402
from utils.analysis.flags import parse_args, parser, report_written, run  # noqa: E402
from utils.analysis.plotting import Output, grid, legend_below, save, title, write_csv  # noqa: E402
from utils.analysis.scoring import load_scoring  # noqa: E402

STATUS_STYLE = {"over": ("tab:red", "over-aligned"), "appropriate": ("tab:green", "appropriately aligned"),
                "under": ("tab:blue", "under-aligned")}


def default_scores(cfg: AnalysisConfig) -> tuple[pd.DataFrame, bool]:
    sc = load_scoring(cfg)
    answers = rq1_answers(cfg.results_root, list(sc.human.item_ids), list(sc.human.orders), cfg.models,
                          answer_policy(cfg, sc))
    return avg.scores_against_average(sc, answers), sc.human.synthetic


def plot(df: pd.DataFrame, summary: pd.DataFrame, tau: float, synthetic: bool, out: Output, stem: str) -> list[Path]:
    models = list(dict.fromkeys(df["model"]))
    fig, axes = grid(len(models), 4, 3.2, 3.2)
    lo = float(np.nanmin(df[["model_score", "human_score"]].to_numpy())) - 0.02
    hi = float(np.nanmax(df[["model_score", "human_score"]].to_numpy())) + 0.02
    by_model = summary.set_index("model")
    for ax, model in zip(axes, models):
        d = df[df["model"] == model]
        ax.plot([lo, hi], [lo, hi], color="0.3", lw=1, label="diagonal (as well as the average human)")
        ax.plot([lo, hi], [lo + tau, hi + tau], color="0.6", lw=0.8, ls="--", label=f"diagonal ± tau ({tau:g})")
        ax.plot([lo, hi], [lo - tau, hi - tau], color="0.6", lw=0.8, ls="--")
        for status, (color, label) in STATUS_STYLE.items():
            s = d[d["status"] == status]
            ax.scatter(s["human_score"], s["model_score"], s=14, color=color, alpha=0.8, lw=0,
                       label=label)
        r = by_model.loc[model]
        ax.set_title(f"{short_name(model)}\nr = {r['pearson_r']:.2f}; over {int(r['n_over'])}, "
                     f"appropriate {int(r['n_appropriate'])}, under {int(r['n_under'])}", fontsize=8)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_xlabel("country vs average human", fontsize=8)
        ax.set_ylabel("country vs model", fontsize=8)
    title(fig, "RQ1: each model against the average human, per country", synthetic, out.metric)
    fig.tight_layout()
    legend_below(fig, axes[0], ncol=3)
    return save(fig, out, stem)


def build_parser() -> argparse.ArgumentParser:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--tau", type=float, default=avg.TAU,
                    help=f"margin around the average human's score (default {avg.TAU}, the paper's)")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    cfg = parse_args(ap, argv)
    if cfg.extra["tau"] < 0:
        ap.error("--tau is a margin of alignment score, at least 0")
    if cfg.paper_compat:
        from utils.analysis.average_human_paper import paper_scores
        scores, synthetic = paper_scores(cfg)
        suffix = "_paper_compat"
    else:
        (scores, synthetic), suffix = default_scores(cfg), ""
    df = avg.compare(scores, cfg.extra["tau"])
    summary = avg.pearson(df)
    written = [write_csv(df, cfg.output, f"rq1_average_human{suffix}.csv"),
               write_csv(summary, cfg.output, f"rq1_average_human_summary{suffix}.csv")]
    written += plot(df, summary, cfg.extra["tau"], synthetic, cfg.output, f"rq1_average_human{suffix}")
    print(summary.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return report_written(written)


if __name__ == "__main__":
    sys.exit(run(main))
