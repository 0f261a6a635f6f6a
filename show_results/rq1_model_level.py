"""RQ1, model level: the spread of each model's per-country scores, and its score against the
pooled world population, read against the uniform baseline and the split-half human ceiling.

    python show_results/rq1_model_level.py --human dataset/human/WV7.csv --results-root results

Writes rq1_model_scores.csv, one row per model (kind = model) plus the uniform-answer baseline
(kind = baseline) and the split-half ceiling (kind = ceiling): mean, std, min and max of the
per-country scores, the number of countries and items, the score against all countries' answers
pooled (with its std over items and bootstrap 95% interval) and the normalized entropy of the
model's distributions averaged over all items. Figure: rq1_model_level.png/.pdf.
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
from utils.analysis.plotting import COLORS, Output, plt, save, title, write_csv  # noqa: E402
from utils.analysis.scoring import load_scoring  # noqa: E402


def row(kind: str, model: str, per_country: np.ndarray, pooled: np.ndarray, n_items, entropy: float,
        n_boot: int, seed: int) -> dict:
    c = per_country[~np.isnan(per_country)]
    pm, ps, _ = metrics.summarize(pooled)
    lo, hi = metrics.bootstrap_ci(pooled, n_boot, seed=seed)
    if not c.size:  # e.g. the ceiling of shares without respondent counts: left out, not made up
        c = np.array([np.nan])
    return {"kind": kind, "model": model, "mean": c.mean(), "std": c.std(), "min": c.min(), "max": c.max(),
            "n_countries": int(np.isfinite(c).sum()), "n_items": int(n_items), "pooled_score": float(pm), "pooled_std": float(ps),
            "pooled_ci_low": float(lo), "pooled_ci_high": float(hi), "entropy": float(entropy)}


def model_table(sc, answers, n_boot: int, repeats: int, seed: int) -> tuple[pd.DataFrame, dict]:
    pooled_human = sc.pooled()  # [I, K] every country's answers together
    per_country = {}
    rows = []
    for model, ans in answers.items():
        s = sc.scores(ans)
        mean = metrics.summarize(s)[0]
        per_country[model] = mean
        pooled = sc.similarity(sc.model(ans), pooled_human)
        ent = metrics.mean_normalized_entropy(sc.model(ans), sc.n_options)
        rows.append(row("model", model, mean, pooled, int(np.sum(~np.isnan(pooled))), ent, n_boot, seed))
    u = metrics.uniform(sc.n_options, sc.shares.shape[-1])
    uni = metrics.summarize(sc.uniform_scores())[0]
    rows.append(row("baseline", "uniform answer", uni, sc.similarity(u, pooled_human),
                    len(sc.n_options), 1.0, n_boot, seed))
    ceil = metrics.summarize(sc.ceiling(repeats, seed))[0]
    human_ent = metrics.mean_normalized_entropy(sc.shares, sc.n_options)
    rows.append(row("ceiling", "split-half human", ceil, np.full(len(sc.n_options), np.nan), len(sc.n_options),
                    human_ent, n_boot, seed))
    per_country["uniform answer"], per_country["split-half human"] = uni, ceil
    return pd.DataFrame(rows), per_country


def plot(df: pd.DataFrame, per_country: dict, synthetic: bool, out: Output) -> list[Path]:
    models = df.loc[df["kind"] == "model", "model"].tolist()
    fig, ax = plt.subplots(figsize=(max(5.5, 1.1 * len(models) + 2), 4.4))
    data = [per_country[m][~np.isnan(per_country[m])] for m in models]
    ax.boxplot(data, positions=range(len(models)), widths=0.5, showfliers=False,
               medianprops={"color": "0.3"}, boxprops={"color": "0.5"}, whiskerprops={"color": "0.5"},
               capprops={"color": "0.5"})
    rng = np.random.default_rng(0)
    for i, d in enumerate(data):
        ax.scatter(i + rng.uniform(-0.18, 0.18, d.size), d, s=7, color=COLORS[i % 10], alpha=0.6, lw=0)
    by = df.set_index("model")
    ax.scatter(range(len(models)), by.loc[models, "mean"], marker="o", s=45, color="black", zorder=3,
               label="mean over countries")
    ax.scatter(range(len(models)), by.loc[models, "pooled_score"], marker="D", s=40, color="crimson", zorder=3,
               label="pooled world population")
    ax.axhline(by.loc["uniform answer", "mean"], color="0.4", ls=":", lw=1.2, label="uniform answer (mean over countries)")
    ax.axhline(by.loc["split-half human", "mean"], color="tab:green", ls="--", lw=1.2,
               label="split-half human ceiling (mean)")
    ax.set_xticks(range(len(models)), [short_name(m) for m in models], rotation=30, ha="right")
    ax.set_ylabel("alignment score (per country: mean over items)")
    title(fig, "RQ1: spread of per-country alignment per model", synthetic, out.metric)
    # the legend beside the axes: under them it sat below the rotated names with a band of nothing
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    fig.tight_layout()
    return save(fig, out, "rq1_model_level")


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the items (default 1000)")
    ap.add_argument("--repeats", type=int, default=10, help="random splits for the human ceiling (default 10)")
    args = parse_args(ap, argv)
    if args.paper_compat:  # the original arithmetic (README: --paper-compat)
        return report_written(paper_compat_scripts.rq1_model_level(args))
    sc = load_scoring(args)
    answers = rq1_answers(args.results_root, list(sc.human.item_ids), list(sc.human.orders), args.models,
                          answer_policy(args, sc))
    df, per_country = model_table(sc, answers, args.n_boot, args.repeats, args.seed)
    written = [write_csv(df, args.output, "rq1_model_scores.csv")] + plot(df, per_country, sc.human.synthetic, args.output)
    for r in df.itertuples():
        print(f"{r.kind:8s} {r.model:45s} countries {r.mean:.4f} ± {r.std:.4f}  pooled {r.pooled_score:.4f}  "
              f"entropy {r.entropy:.3f}")
    return report_written(written)


if __name__ == "__main__":
    sys.exit(run(main))
