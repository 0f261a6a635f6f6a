"""RQ1, model level: the spread of each model's per-country scores, and its score against the
pooled world population, read against the uniform baseline and the split-half human ceiling.

    python show_results/rq1_model_level.py --human dataset/human/WV7.csv --results-root results

Writes rq1_model_scores.csv, one row per model (kind = model) plus the uniform-answer baseline
(kind = baseline) and the split-half ceiling (kind = ceiling): mean, std, min and max of the
per-country scores, the number of countries and items, the score against all countries' answers
pooled (with its std over items and bootstrap 95% interval: resampling items, or with `--bootstrap
respondents` also each country's answers to each item, pooled again in every draw) and the
normalized entropy of the model's distributions averaged over all items. The baseline and the
ceiling are computed on exactly the items each model answered (per country): models that answered
the same items share one pair of rows, else each gets its own, and `items_of` says whose items they
are ("every model" when all answered the same) and `n_items` how many. Figure:
rq1_model_level.png/.pdf.
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
from utils.analysis.flags import parse_args, parser, report_written, run  # noqa: E402
from utils.analysis.plotting import COLORS, Output, plt, save, title, write_csv  # noqa: E402
from utils.analysis.scoring import load_scoring  # noqa: E402
from utils.core.errors import UserError  # noqa: E402


def row(kind: str, model: str, per_country: np.ndarray, pooled: np.ndarray, n_items, entropy: float,
        n_boot: int, seed: int, items_of: str, ci: tuple[float, float] | None = None) -> dict:
    """One table row; `ci` the pooled score's interval when drawn elsewhere (`--bootstrap
    respondents`), else the bootstrap over items."""
    c = per_country[~np.isnan(per_country)]
    pm, ps, _ = metrics.summarize(pooled)
    lo, hi = metrics.bootstrap_ci(pooled, n_boot, seed=seed) if ci is None else ci
    if not c.size:  # e.g. the ceiling of shares without respondent counts: left out, not made up
        c = np.array([np.nan])
    return {"kind": kind, "model": model, "mean": c.mean(), "std": c.std(), "min": c.min(), "max": c.max(),
            "n_countries": int(np.isfinite(c).sum()), "n_items": int(n_items), "items_of": items_of,
            "pooled_score": float(pm), "pooled_std": float(ps), "pooled_ci_low": float(lo),
            "pooled_ci_high": float(hi), "entropy": float(entropy)}


def on_items(scores: np.ndarray, scored: np.ndarray) -> np.ndarray:
    """`scores` where `scored` (same shape) is True, NaN elsewhere: a baseline on a model's items.

    >>> on_items(np.array([[0.8, 0.6]]), np.array([[True, False]])).tolist()
    [[0.8, nan]]
    """
    return np.where(scored, scores, np.nan)


def pooled_intervals(sc, answers: list[np.ndarray], masks: list[np.ndarray], n_boot: int, seed: int,
                     mode: str) -> list[tuple[float, float]]:
    """Interval of the pooled score of each [I, K] answer set (on the items `masks` [I] allows),
    all under the same resamples (utils/analysis/resample.py): each draw picks, with replacement,
    as many items as some set scores, among those, resamples every country's answers to each of
    them (`respondents`; cells without respondent counts stay as they are) and pools the countries
    again. When every set scores the same m items this is the bootstrap over items of
    `metrics.bootstrap_ci` (m picks) with the survey's sampling error added."""
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


def model_table(sc, answers, n_boot: int, repeats: int, seed: int, bootstrap: str = "items"
                ) -> tuple[pd.DataFrame, dict]:
    """One row per model, then the uniform answer and the split-half ceiling on exactly the items
    (per country) that model answered: one pair of rows per set of items, shared by the models
    that answered the same items (`items_of` names them, or says "every model"), so a model that
    answered 12 items is read against baselines on those 12, not on all 144. `bootstrap`
    "respondents" widens the pooled score's interval by the survey's sampling error."""
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
        uni = metrics.summarize(on_items(uni_items, scored))[0]
        ceil = metrics.summarize(on_items(ceil_items, scored))[0]
        with np.errstate(all="ignore"):
            h_ent = float(np.nanmean(on_items(human_ent, scored))) if scored.any() else np.nan
        rows.append(row("baseline", "uniform answer", uni, on_items(uni_pooled, pooled_ok), n, 1.0, n_boot, seed,
                        items_of, ci))
        rows.append(row("ceiling", "split-half human", ceil, np.full(len(sc.n_options), np.nan), n, h_ent, n_boot,
                        seed, items_of))
        for m in models:
            baselines[m] = (float(np.nanmean(uni)) if np.isfinite(uni).any() else np.nan,
                            float(np.nanmean(ceil)) if np.isfinite(ceil).any() else np.nan)
    return pd.DataFrame(rows), {"per_country": per_country, "baselines": baselines}


def plot(df: pd.DataFrame, drawn: dict, synthetic: bool, out: Output) -> list[Path]:
    per_country, baselines = drawn["per_country"], drawn["baselines"]
    models = df.loc[df["kind"] == "model", "model"].tolist()
    fig, ax = plt.subplots(figsize=(max(5.5, 1.1 * len(models) + 2), 4.4))
    data = [per_country[m][~np.isnan(per_country[m])] for m in models]
    ax.boxplot(data, positions=range(len(models)), widths=0.5, showfliers=False,
               medianprops={"color": "0.3"}, boxprops={"color": "0.5"}, whiskerprops={"color": "0.5"},
               capprops={"color": "0.5"})
    rng = np.random.default_rng(0)
    for i, d in enumerate(data):
        ax.scatter(i + rng.uniform(-0.18, 0.18, d.size), d, s=7, color=COLORS[i % 10], alpha=0.6, lw=0)
    by = df[df["kind"] == "model"].set_index("model")
    ax.scatter(range(len(models)), by.loc[models, "mean"], marker="o", s=45, color="black", zorder=3,
               label="mean over countries")
    ax.scatter(range(len(models)), by.loc[models, "pooled_score"], marker="D", s=40, color="crimson", zorder=3,
               label="pooled world population")
    # each model's baselines on its own items: a short line across its box, not one line for all
    uni = [baselines[m][0] for m in models]
    ceil = [baselines[m][1] for m in models]
    x = np.arange(len(models))
    ax.hlines(uni, x - 0.42, x + 0.42, color="0.4", ls=":", lw=1.4,
              label="uniform answer on the model's items (mean over countries)")
    if np.isfinite(ceil).any():
        ax.hlines(ceil, x - 0.42, x + 0.42, color="tab:green", ls="--", lw=1.4,
                  label="split-half human ceiling on the model's items (mean)")
    ax.set_xticks(range(len(models)), [f"{short_name(m)}\n({int(by.loc[m, 'n_items'])} items)" for m in models],
                  rotation=30, ha="right")
    ax.set_ylabel("alignment score (per country: mean over items)")
    title(fig, "RQ1: spread of per-country alignment per model", synthetic, out.metric)
    # the legend beside the axes: under them it sat below the rotated names with a band of nothing
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    fig.tight_layout()
    return save(fig, out, "rq1_model_level")


def build_parser() -> argparse.ArgumentParser:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the items (default 1000)")
    ap.add_argument("--repeats", type=int, default=10, help="random splits for the human ceiling (default 10)")
    resample.add_argument(ap)
    return ap


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(build_parser(), argv)
    if cfg.paper_compat:  # the original arithmetic (README: --paper-compat)
        if cfg.extra["bootstrap"] != "items":
            raise UserError("--paper-compat reproduces the paper's arithmetic and cannot be combined with "
                            "--bootstrap respondents")
        return report_written(paper_compat_scripts.rq1_model_level(cfg))
    sc = load_scoring(cfg)
    answers = rq1_answers(cfg.results_root, list(sc.human.item_ids), list(sc.human.orders), cfg.models,
                          answer_policy(cfg, sc))
    df, drawn = model_table(sc, answers, cfg.extra["n_boot"], cfg.extra["repeats"], cfg.seed, cfg.extra["bootstrap"])
    written = [write_csv(df, cfg.output, "rq1_model_scores.csv")] + plot(df, drawn, sc.human.synthetic, cfg.output)
    for r in df.itertuples():
        print(f"{r.kind:8s} {r.model:45s} countries {r.mean:.4f} ± {r.std:.4f}  pooled {r.pooled_score:.4f}  "
              f"entropy {r.entropy:.3f}  {r.n_items} items{'' if r.kind == 'model' else ' of ' + r.items_of}")
    return report_written(written)


if __name__ == "__main__":
    sys.exit(run(main))
