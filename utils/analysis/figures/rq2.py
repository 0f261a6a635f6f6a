"""The RQ2 figures: each model's scores per steering method and country (best method boxed), the
gains over no steering, and the runs steered toward a respondent group."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from utils.analysis.figures.style import COLORS, finish, grid, heatmap, styled
from utils.analysis.tables import NO_STEERING, Output, short_name, told


@styled
def steering_table(wide: pd.DataFrame, out: Output, marks: dict | None = None) -> list[Path]:
    """marks: {(model, country, condition): stars} written after the values."""
    marks = marks or {}
    conds = [c for c in wide.columns if c not in ("model", "country", "country_code", "n_items", "best_method",
                                                   "best_gain", "best_beats_none")]
    models = list(dict.fromkeys(wide["model"]))
    n_rows = wide.groupby("model").size().max()
    fig, axes = grid(len(models), 2, 1.05 * len(conds) + 2.4, 0.32 * n_rows + 1.6)
    for ax, model in zip(axes, models):
        d = wide[wide["model"] == model]
        m = d[conds].to_numpy(dtype=float)
        gain = m - m[:, :1] if conds[0] == NO_STEERING else m - np.nanmean(m, 1, keepdims=True)
        lim = (np.nanmax(np.abs(gain)) if np.isfinite(gain).any() else 0.0) or 1e-3  # no RQ1 answer: no gains
        im = heatmap(ax, gain, d["country"].tolist(), conds, vmin=-lim, vmax=lim, cmap="RdBu", fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="gain over none")
        for r, row in enumerate(m):
            best, beats = d["best_method"].iloc[r], told(d["best_beats_none"].iloc[r]) is True
            for c, v in enumerate(row):
                if np.isfinite(v):
                    is_best = conds[c] == best
                    dark = abs(gain[r, c]) > 0.55 * lim if np.isfinite(gain[r, c]) else False
                    star = marks.get((model, d["country"].iloc[r], conds[c]), "")
                    ax.text(c, r, f"{v:.3f}{star}", ha="center", va="center", fontsize=7.5,
                            color="white" if dark else "black", fontweight="bold" if is_best and beats else "normal")
                    if is_best:  # gold: beats no steering; dashed grey: the best, yet no better than none
                        ax.add_patch(Rectangle((c - 0.48, r - 0.45), 0.96, 0.9, fill=False, lw=1.6,
                                                   ec="gold" if beats else "0.45", ls="-" if beats else "--"))
        ax.set_title(short_name(model), fontsize=9)
        ax.tick_params(axis="x", rotation=30)
        for label in ax.get_xticklabels():
            label.set_ha("right")
    return finish(fig, out, "rq2_steering_table", "RQ2: alignment per steering method (colour: gain over no steering; "
                  "box: best method, dashed where it does not beat no steering; stars: p against no steering)")


@styled
def steering_gains(df: pd.DataFrame, out: Output) -> list[Path]:
    d = df[df["method"] != NO_STEERING].dropna(subset=["gain"])
    models = list(dict.fromkeys(d["model"]))
    methods = list(dict.fromkeys(d["method"]))
    fig, axes = grid(max(len(models), 1), 2, 0.9 * len(methods) + 2.2, 3.6, sharey=True)
    rng = np.random.default_rng(0)
    for ax, model in zip(axes, models):
        m = d[d["model"] == model]
        for j, method in enumerate(methods):
            g = m.loc[m["method"] == method, "gain"].to_numpy()
            if g.size:
                ax.bar(j, g.mean(), color=COLORS[j % 10], alpha=0.35, width=0.7)
                ax.scatter(j + rng.uniform(-0.2, 0.2, g.size), g, s=12, color=COLORS[j % 10], lw=0)
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right")
        ax.set_title(short_name(model), fontsize=9)
    for ax in axes[::2]:  # first column
        ax.set_ylabel("gain over no steering\n(bar: mean over countries; dots: countries)")
    return finish(fig, out, "rq2_steering_gains", "RQ2: gain of each steering method over no steering")


@styled
def group_steering(gdf: pd.DataFrame, by: str, out: Output) -> list[Path]:
    """Per group-steered run, its score against the group (filled) and the whole country (cross), and the
    whole-country run's against the group (open): filled right of open means naming the group helped."""
    models = list(dict.fromkeys(gdf["model"]))
    n = gdf.groupby("model").size().max()
    fig, axes = grid(len(models), 2, 6.0, 0.32 * n + 1.6)
    for ax, model in zip(axes, models):
        d = gdf[gdf["model"] == model]
        y = np.arange(len(d))
        ax.plot(d["base_group"], y, "o", mfc="none", color="0.4", label="steered to the country, vs the group")
        ax.plot(d["score_group"], y, "o", color=COLORS[0], label="steered to the group, vs the group")
        ax.plot(d["score_country"], y, "x", color=COLORS[1], label="steered to the group, vs the whole country")
        ax.set_yticks(y, [f"{r.country} {r.method} {by}={r.group}" for r in d.itertuples()], fontsize=7)
        ax.set_ylim(len(d) - 0.5, -0.5)
        ax.set_title(short_name(model), fontsize=9)
        ax.set_xlabel("score (mean over the shared items)")
    return finish(fig, out, "rq2_group_steering", f"RQ2: steering toward a {by} group inside the country", axes[0],
                  ncol=3)
