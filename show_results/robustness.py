"""Robustness: every score under each prompt perturbation, its spread, and whether the conclusions hold.

    python show_results/robustness.py --human dataset/human/WV7.csv --results-root results

Reads every results file under --results-root: the unperturbed RQ1 (and RQ2) runs are the
`original` prompt, and files whose rows carry `perturb_family` (runs with `--perturb`) are one
prompt each, identified by their columns (family, index, seed; `repeat` for `--repeats`). Each
model's prompts are scored on the items all of them answered (per country). Writes
(docs/robustness.md says how each is computed):

- robustness_scores.csv: model, condition, prompt, score (mean over countries of the per-country
  mean over items; an RQ2 cell: its country's mean), its 95% bootstrap interval (`--bootstrap`:
  items, or items and respondents), n_items;
- robustness_spread.csv: per model and condition, per family and over all prompts: mean, std, range;
- robustness_summary.csv/.md/.tex: per model, the original score, the uniform answer's on the same
  items, their gap, the prompt std and range and the std as a share of the gap; and, needing no human
  data, how far its answers move between prompts next to how far they are from the uniform answer;
- robustness_variance.csv: the two-way (models x prompts) variance shares, over all prompts and per family;
- robustness_position.csv and robustness_position.png/.pdf: mass on the first and last listed option,
  model against people, per prompt;
- robustness_rankings.csv: Kendall's tau between prompts of the ranking of models and, per model, of countries;
- robustness_steering.csv: each RQ2 gain under every prompt against the spread of the unsteered score, and,
  where the RQ2 cell was asked under perturbations too, its own score's spread and whether the gain keeps its sign;
- robustness_steering_prompts.csv: per RQ2 cell and prompt both it and its base were asked under, the
  steered score, the unsteered one and the gain;
- robustness_repeats.csv: with `--repeats` runs, the std of each score over repeats;
- robustness.png/.pdf: each model's score under every prompt, the original marked, the uniform answer as a line.
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
from utils.analysis import metrics, resample  # noqa: E402
from utils.analysis import robustness as rb  # noqa: E402
from utils.analysis.answers import short_name  # noqa: E402
from utils.analysis.coverage import answer_policy  # noqa: E402
from utils.analysis.flags import parse_args, parser, report_written, run  # noqa: E402
from utils.analysis.paper_table import write_tables  # noqa: E402
from utils.analysis.plotting import COLORS, Output, legend_below, plt, save, title, write_csv  # noqa: E402
from utils.analysis.robustness_runs import Run, Scored, find_runs, item_scores  # noqa: E402
from utils.analysis.scoring import Scoring, load_scoring  # noqa: E402
from utils.core.errors import UserError  # noqa: E402
from utils.core.results.table import option_keys, read_complete  # noqa: E402


def score_table(sc: Scoring, scores: dict[Run, Scored], n_boot: int, seed: int, mode: str) -> pd.DataFrame:
    """One row per run with its score and interval; every run under the same resamples (paired)."""
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
    """Per model (RQ1): the original score, the uniform answer's on the same items, the gap, and the
    prompt spread next to it."""
    uni = sc.uniform_scores()
    rows = []
    for r, scored in scores.items():
        s = scored.scores
        if r.condition != "none" or r.family != rb.ORIGINAL or r.repeat:
            continue
        u = metrics.summarize(np.where(np.isfinite(s), uni, np.nan))[0]
        u_score = float(np.nanmean(u))
        orig = float(table[(table.model == r.model) & (table.condition == "none") & (table.perturbation == rb.ORIGINAL)]
                     ["score"].mean())
        sp = spread[(spread.model == r.model) & (spread.condition == "none") & (spread.family == "all")]
        std, rng_ = (float(sp["std"].iloc[0]), float(sp["range"].iloc[0])) if len(sp) else (np.nan, np.nan)
        gap = orig - u_score
        others = [x.answers for o, x in scores.items() if o.model == r.model and o.condition == "none"
                  and o.family != rb.ORIGINAL and not o.repeat]
        moved = rb.answer_distances(scored.answers, others, sc.n_options, sc.metric)
        rows.append({"model": r.model, "original": orig, "uniform": u_score, "gap": gap,
                     "prompt_std": std, "prompt_range": rng_, "n_prompts": int(sp["n"].iloc[0]) if len(sp) else 0,
                     "std_over_gap": std / abs(gap) if gap else np.nan,
                     "dist_to_uniform": moved["dist_to_uniform"], "dist_between_prompts": moved["dist_between_prompts"],
                     "dist_between_prompts_max": moved["dist_between_prompts_max"]})
    return pd.DataFrame(rows)


def position_table(sc: Scoring, runs: list[Run], scores: dict[Run, Scored]) -> pd.DataFrame:
    ids, orders = list(sc.human.item_ids), list(sc.human.orders)
    rows = []
    for r in runs:
        if r.condition != "none" or r.repeat:
            continue
        latest = read_complete(r.path).latest
        listings = [tuple(option_keys(latest[i])) if i in latest else () for i in ids]
        first, last = rb.edge_positions(listings, orders)
        scored = np.isfinite(scores[r].scores).any(0)
        ans = np.where(scored[:, None], scores[r].answers, np.nan)
        rows.append({"model": r.model, "family": r.family, "perturbation": r.prompt}
                    | rb.edge_mass(ans, sc.shares, first, last))
    return pd.DataFrame(rows)


def ranking_table(scores: dict[Run, Scored], table: pd.DataFrame) -> pd.DataFrame:
    base = table[(table.condition == "none") & (table.repeat == 0)]
    rows = []
    wide = base.pivot_table(index="model", columns="perturbation", values="score")
    if len(wide) >= 2:
        rows.append({"ranking": "models", "model": "all"} | rb.rank_agreement(wide))
    for model in dict.fromkeys(base["model"]):
        per = {r.prompt: metrics.summarize(s.scores)[0] for r, s in scores.items()
               if r.model == model and r.condition == "none" and not r.repeat}
        if len(per) >= 2:
            rows.append({"ranking": "countries", "model": model} | rb.rank_agreement(pd.DataFrame(per)))
    return pd.DataFrame(rows)


def repeat_table(table: pd.DataFrame) -> pd.DataFrame:
    keys = ["model", "condition", "perturbation"]
    rep = table.groupby(keys, sort=False)["score"].agg(["mean", "std", "count"]).reset_index()
    return rep[rep["count"] > 1].rename(columns={"count": "n_repeats"})


def plot(table: pd.DataFrame, summary: pd.DataFrame, synthetic: bool, out: Output) -> list[Path]:
    d = table[table.condition == "none"]
    models = list(dict.fromkeys(d["model"]))
    families = [f for f in dict.fromkeys(d["family"]) if f != rb.ORIGINAL]
    fig, ax = plt.subplots(figsize=(7.5, 1.0 + 0.7 * len(models)))
    for j, fam in enumerate(families):
        f = d[d.family == fam]
        y = [models.index(m) + (j - (len(families) - 1) / 2) * 0.12 for m in f["model"]]
        ax.scatter(f["score"], y, s=22, color=COLORS[j % 10], alpha=0.8, label=fam, lw=0)
    o = d[d.family == rb.ORIGINAL]
    ax.scatter(o["score"], [models.index(m) for m in o["model"]], marker="D", s=45, color="black", label="original",
               zorder=3)
    for _, s in summary.iterrows():
        i = models.index(s["model"])
        ax.vlines(s["uniform"], i - 0.35, i + 0.35, color="0.4", ls=":", lw=1.5,
                  label="uniform answer" if i == 0 else None)
    ax.set_yticks(range(len(models)), [short_name(m) for m in models])
    ax.set_ylim(len(models) - 0.5, -0.5)
    ax.set_xlabel("alignment (mean over countries)")
    ax.grid(axis="x", color="0.9", lw=0.6)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    title(fig, "Robustness: each model's score under every prompt perturbation", synthetic, out.metric)
    fig.tight_layout()
    return save(fig, out, "robustness")


def plot_position(pos: pd.DataFrame, synthetic: bool, out: Output) -> list[Path]:
    pos = pos.assign(kind=np.where(pos["family"].isin(["order", "reversed"]), "permuted orders", "listed order"))
    g = pos.groupby(["model", "kind"], sort=False)[["model_first", "human_first", "model_last", "human_last"]].mean()
    fig, axes = plt.subplots(1, 2, figsize=(9, 1.2 + 0.6 * len(g)), sharey=True)
    labels = [f"{short_name(m)} ({k})" for m, k in g.index]
    y = np.arange(len(g))
    for ax, edge in zip(axes, ("first", "last")):
        ax.barh(y - 0.18, g[f"model_{edge}"], height=0.36, color=COLORS[0], label="model")
        ax.barh(y + 0.18, g[f"human_{edge}"], height=0.36, color=COLORS[2], label="people (mean over countries)")
        ax.set_title(f"mass on the {edge} listed option", fontsize=9)
        ax.set_yticks(y, labels)
        ax.set_ylim(len(g) - 0.5, -0.5)
    title(fig, "Position bias: first and last listed option, model vs people", synthetic, out.metric)
    fig.tight_layout()
    legend_below(fig, axes[1], ncol=2)
    return save(fig, out, "robustness_position")


def write_summary(summary: pd.DataFrame, out: Output, caption: str) -> list[Path]:
    shown = summary.assign(model=[short_name(m) for m in summary["model"]])
    return write_tables(shown.round(4).astype(str), out, "robustness_summary", caption, labels=1, rules=False,
                        csv=summary)


def build_parser() -> argparse.ArgumentParser:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the intervals (default 1000; 0: none)")
    resample.add_argument(ap)
    return ap


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(build_parser(), argv)
    if cfg.paper_compat:
        raise UserError("robustness.py has no --paper-compat: the paper ran no perturbations")
    sc = load_scoring(cfg)
    runs = find_runs(cfg.results_root, cfg.probe_method, cfg.models)
    scores = item_scores(sc, runs, answer_policy(cfg, sc))
    table = score_table(sc, scores, cfg.extra["n_boot"], cfg.seed, cfg.extra["bootstrap"])
    one = table.groupby(["model", "condition", "family", "index", "seed", "perturbation"], sort=False,
                        as_index=False)["score"].mean()  # repeats averaged
    spread = rb.spread(one)
    summary = summary_table(sc, scores, one, spread)
    variance = rb.decomposition(one)
    position = position_table(sc, runs, scores)
    rankings = ranking_table(scores, table)
    steering = rb.steering_against_spread(one)
    written = [write_csv(table, cfg.output, "robustness_scores.csv"), write_csv(spread, cfg.output, "robustness_spread.csv"),
               write_csv(variance, cfg.output, "robustness_variance.csv"),
               write_csv(position, cfg.output, "robustness_position.csv"),
               write_csv(rankings, cfg.output, "robustness_rankings.csv")]
    if len(steering):
        written.append(write_csv(steering, cfg.output, "robustness_steering.csv"))
    gains = rb.steering_gains(one)
    if len(gains) and (gains["perturbation"] != rb.ORIGINAL).any():  # RQ2 cells asked under --perturb
        written.append(write_csv(gains, cfg.output, "robustness_steering_prompts.csv"))
    repeats = repeat_table(table)
    if len(repeats):
        written.append(write_csv(repeats, cfg.output, "robustness_repeats.csv"))
    written += write_summary(summary, cfg.output, "Score under the original prompt, the uniform answer on the same "
                             "items, and the spread over prompt perturbations")
    written += plot(table, summary, sc.human.synthetic, cfg.output)
    if len(position):
        written += plot_position(position, sc.human.synthetic, cfg.output)
    print(summary.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return report_written(written)


if __name__ == "__main__":
    sys.exit(run(main))
