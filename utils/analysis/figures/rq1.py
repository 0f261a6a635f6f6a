"""The RQ1 figures: countries per model (top and bottom, all, by group), the spread per model,
each model against the average human, the alignment matrix and the groups each model is closest to."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from utils.analysis.figures.style import COLORS, figure, finish, grid, heatmap, styled
from utils.analysis.significance import stars
from utils.analysis.tables import Output, short_name

STATUS_STYLE = {"over": ("tab:red", "over-aligned"), "appropriate": ("tab:green", "appropriately aligned"),
                "under": ("tab:blue", "under-aligned")}


def ci_errors(d: pd.DataFrame) -> np.ndarray:
    """[2, n] distances from each score to its bootstrap interval's ends (not the std over items)."""
    return np.vstack([d["score"] - d["ci_low"], d["ci_high"] - d["score"]]).clip(min=0)


def reference_lines(ax, d: pd.DataFrame, line) -> None:
    """The uniform answer and the split-half ceiling (means over countries); no ceiling without counts."""
    line(d["uniform"].mean(), color="0.4", lw=1.2, ls=":", label="uniform answer (mean over countries)")
    if d["ceiling"].notna().any():
        line(d["ceiling"].mean(), color="tab:green", lw=1.2, ls="--", label="split-half human ceiling (mean)")


@styled
def country_top_bottom(df: pd.DataFrame, k: int, out: Output) -> list[Path]:
    models = list(dict.fromkeys(df["model"]))
    fig, axes = grid(len(models), 4, 3.6, 3.4, sharex=True)
    for i, (ax, model) in enumerate(zip(axes, models)):
        d = df[df["model"] == model]
        pick = pd.concat([d.head(k), d.tail(k)]) if len(d) > 2 * k else d
        y = np.arange(len(pick))
        ax.errorbar(pick["score"], y, xerr=ci_errors(pick), fmt="o", ms=4, color=COLORS[i % 10], ecolor="0.6",
                    elinewidth=1, capsize=2)
        ax.set_yticks(y, pick["country"])
        ax.set_ylim(len(pick) - 0.5, -0.5)
        if len(d) > 2 * k:
            ax.axhline(k - 0.5, color="0.75", lw=0.8, ls=":")
        ax.axvline(d["score"].mean(), color="crimson", lw=1, ls="--", label="mean over all countries")
        reference_lines(ax, d, ax.axvline)
        ax.set_title(short_name(model), fontsize=9)
        ax.tick_params(axis="y", labelsize=8)
        ax.set_xlabel("alignment score (mean over items, 95% CI)")
    return finish(fig, out, "rq1_country_top_bottom", f"RQ1: top and bottom {k} countries per model", axes[0])


@styled
def country_all(df: pd.DataFrame, out: Output) -> list[Path]:
    models = list(dict.fromkeys(df["model"]))
    n_c = df.groupby("model").size().max()
    fig, axes = grid(len(models), 1, max(8, 0.2 * n_c), 3.0, sharey=True)
    for i, (ax, model) in enumerate(zip(axes, models)):
        d = df[df["model"] == model]
        x = np.arange(len(d))
        ax.errorbar(x, d["score"], yerr=ci_errors(d), fmt="o", ms=3, color=COLORS[i % 10], ecolor="0.6", elinewidth=0.8,
                    capsize=1.5)
        ax.set_xticks(x, d["country"], rotation=90)
        ax.set_xlim(-0.7, len(d) - 0.3)
        ax.axhline(d["score"].mean(), color="crimson", lw=1, ls="--", label="mean over countries")
        reference_lines(ax, d, ax.axhline)
        ax.set_title(short_name(model), fontsize=9, loc="left")
        ax.set_ylabel("score (95% CI)")
        ax.tick_params(axis="x", labelsize=7)
    return finish(fig, out, "rq1_country_all", "RQ1: alignment with every country, per model (sorted)", axes[0])


@styled
def group_scores(groups: pd.DataFrame, countries: pd.DataFrame, by: str, out: Output) -> list[Path]:
    """Per model, each country's groups side by side in rq1_country_all's order, the whole country a grey line."""
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
    return finish(fig, out, "rq1_group_scores",
                  f"RQ1: alignment with each {by} group, per country (countries as in rq1_country_all)", axes[0],
                  ncol=len(labels) + 1)


@styled
def model_level(df: pd.DataFrame, drawn: dict, out: Output) -> list[Path]:
    per_country, baselines = drawn["per_country"], drawn["baselines"]
    models = df.loc[df["kind"] == "model", "model"].tolist()
    fig, ax = figure((max(5.5, 1.1 * len(models) + 2), 4.4))
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
    # the legend beside the axes: under them it would sit below the rotated names, a band of nothing between
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    return finish(fig, out, "rq1_model_level", "RQ1: spread of per-country alignment per model")


@styled
def average_human(df: pd.DataFrame, summary: pd.DataFrame, tau: float, out: Output) -> list[Path]:
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
            ax.scatter(s["human_score"], s["model_score"], s=14, color=color, alpha=0.8, lw=0, label=label)
        r = by_model.loc[model]
        ax.set_title(f"{short_name(model)}\nr = {r['pearson_r']:.2f}; over {int(r['n_over'])}, "
                     f"appropriate {int(r['n_appropriate'])}, under {int(r['n_under'])}", fontsize=8)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_xlabel("country vs average human", fontsize=8)
        ax.set_ylabel("country vs model", fontsize=8)
    return finish(fig, out, "rq1_average_human", "RQ1: each model against the average human, per country", axes[0],
                  ncol=3)


@styled
def matrix(df: pd.DataFrame, stem: str, heading: str, out: Output) -> list[Path]:
    labels = df["label"].tolist()
    m = df[labels].to_numpy(dtype=float, copy=True)
    n = len(labels)
    small = n <= 24
    size = max(6.0, 0.42 * n) if small else max(8.0, 0.17 * n + 2)
    fig, ax = figure((size + 1.2, size))
    m[np.eye(n, dtype=bool)] = np.nan  # each with itself (1.000) says nothing and sits off the scale: blank
    im = heatmap(ax, m, labels, labels, vmin=np.nanmin(m), vmax=np.nanmax(m), annotate=small,
                 fontsize=8)  # 0.17 inch a row leaves room for 8 pt labels; the report shows it full size
    n_c = int((df["kind"] == "country").sum())
    if n_c < n:
        for f in (ax.axhline, ax.axvline):
            f(n_c - 0.5, color="white", lw=2)
    fig.colorbar(im, ax=ax, fraction=0.035, pad=0.02, label="alignment score (mean over items)")
    return finish(fig, out, stem, heading)


@styled
def groups(summary: pd.DataFrame, per_group: pd.DataFrame, out: Output) -> list[Path]:
    """Per group variable, per model a bar split by the share of countries closest to each group."""
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
    return finish(fig, out, "rq1_groups", "RQ1: which group within a country each model is closest to")
