"""The figures of RQ3 (scores over waves), the prompt sensitivity, internal consistency, the
elicitation methods and robustness to prompt perturbations."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from utils.analysis.consistency import POOLED
from utils.analysis.figures.style import COLORS, figure, finish, grid, heatmap, styled
from utils.analysis.robustness.stats import ORIGINAL
from utils.analysis.tables import NO_STEERING, Output, short_name


@styled
def temporal(summary: pd.DataFrame, out: Output) -> list[Path]:
    labels = list(dict.fromkeys(summary["countries"]))
    models = list(dict.fromkeys(summary["model"]))  # one colour and offset per model in every panel
    fig, axes = grid(len(labels), 2, 4.6, 3.6, sharey=True)
    for ax, label in zip(axes, labels):
        d = summary[summary["countries"] == label]
        for model, m in d.groupby("model", sort=False):
            i = models.index(model)
            ax.errorbar(m["wave"] + (i - (len(models) - 1) / 2) * 0.035, m["score"], yerr=m["std"], marker="o", ms=4,
                        capsize=2, color=COLORS[i % 10], label=short_name(model), lw=1.2, elinewidth=0.8)
        # the uniform answer on the same countries and items: the axis reaches it, so a change of
        # 0.004 is seen against the whole distance from "no information"
        u = d.groupby("wave")["uniform"].mean()
        ax.plot(u.index, u.to_numpy(), color="0.4", ls=":", lw=1.2, marker="x", ms=4,
                label="uniform answer (mean over models)")
        n = d.groupby("wave")["n_countries"].max()
        upto = d.groupby("wave")["n_countries"].nunique() > 1  # per-model country sets (--select)
        ax.set_xticks(list(n.index),
                      [f"Wave {w}\n({'up to ' if upto[w] else ''}{c} countries)" for w, c in n.items()])
        ax.set_title(f"countries surveyed in {label}", fontsize=9)
    axes[0].set_ylabel("alignment (mean ± std over countries)")
    return finish(fig, out, "rq3_temporal", "RQ3: the same answers scored against WVS Waves 5, 6 and 7", axes[0])


def heading(variants: list[str]) -> str:
    """The figure's title, naming the variants that were run (not the ones that could have been).

    >>> heading(["default", "order"])
    'Sensitivity: default prompt vs. the order variant'
    >>> heading(["default", "number", "prob", "order"])
    'Sensitivity: default prompt vs. the number, prob and order variants'
    """
    run = [v for v in variants if v != "default"]
    if not run:
        return "Sensitivity: default prompt"
    names = run[0] if len(run) == 1 else ", ".join(run[:-1]) + " and " + run[-1]
    lead = "Sensitivity: default prompt vs." if "default" in variants else "Sensitivity:"
    return f"{lead} the {names} variant{'s' if len(run) > 1 else ''}"


@styled
def sensitivity(df: pd.DataFrame, out: Output, variants: list[str]) -> list[Path]:
    models = list(dict.fromkeys(df["model"]))
    variants = list(dict.fromkeys(["default"] + variants + df["variant"].tolist()))
    variants = [v for v in variants if v in set(df["variant"])]
    fig, ax = figure((max(5.0, 1.0 * len(models) * len(variants) / 2 + 2), 4.0))
    width = 0.8 / len(variants)
    lows = []
    for j, v in enumerate(variants):
        d = df[df["variant"] == v].set_index("model").reindex(models)
        x = np.arange(len(models)) + (j - (len(variants) - 1) / 2) * width
        ax.errorbar(x, d["score"], yerr=d["std"], fmt="o", ms=6, capsize=3, color=COLORS[j % 10], label=v,
                    elinewidth=1)
        lows.append(np.nanmin(d["score"] - d["std"]))
    top = df["score"] + df["std"]
    ax.set_ylim(max(0.0, min(lows) - 0.02), min(1.0, np.nanmax(top) + 0.02))
    ax.set_xticks(range(len(models)), [short_name(m) for m in models], rotation=20, ha="right")
    ax.grid(axis="y", color="0.9", lw=0.6)
    ax.set_ylabel("alignment (mean ± std over countries)")
    return finish(fig, out, "sensitivity", heading(variants), ax, ncol=len(variants))


@styled
def consistency(df: pd.DataFrame, topics, out: Output) -> list[Path]:
    models = list(dict.fromkeys(df.loc[df["kind"] == "model", "model"]))
    methods = [m for m in dict.fromkeys(df.loc[df["kind"] == "model", "method"]) if m != NO_STEERING]
    # at least wide enough for its two-line title, which with one or two models would run into the next
    fig, axes = grid(len(topics), 3, max(0.45 * len(models) + 1.8, 3.0), 3.6, sharey=True)
    rng = np.random.default_rng(0)
    for ax, t in zip(axes, topics):
        d = df[df["topic"] == t.name]
        ppl = d[(d["kind"] == "people") & (d["country"] != POOLED)]["consistency"].dropna().to_numpy()
        ax.scatter(rng.uniform(-0.2, 0.2, ppl.size), ppl, s=9, color="0.55", lw=0, label="a country's people")
        pooled = d.loc[(d["kind"] == "people") & (d["country"] == POOLED), "consistency"]
        if len(pooled) and np.isfinite(pooled.iloc[0]):
            ax.axhline(pooled.iloc[0], color="0.3", ls="--", lw=1, label="all countries pooled")
        for i, m in enumerate(models, start=1):
            dm = d[(d["kind"] == "model") & (d["model"] == m)]
            for j, method in enumerate(methods):
                v = dm.loc[dm["method"] == method, "consistency"].to_numpy()
                ax.scatter(i + 0.12 + rng.uniform(-0.06, 0.06, v.size), v, s=10, color=COLORS[(j + 1) % 10], lw=0,
                           label=f"steered: {method}" if i == 1 else None)
            v = dm.loc[dm["method"] == NO_STEERING, "consistency"].to_numpy()
            ax.scatter(np.full(v.size, i - 0.08), v, s=40, marker="D", color=COLORS[0], zorder=3,
                       label="model, no steering" if i == 1 else None)
        ax.set_xticks(range(len(models) + 1), ["people"] + [short_name(m) for m in models], rotation=30, ha="right")
        ax.set_title(f"{t.label}\n({', '.join(i.id for i in t.items)})", fontsize=9)
    axes[0].set_ylim(0.48, 1.02)  # 0.5 is the lowest value the statistic can take
    axes[0].set_ylabel("consistency (1 - mean |position - mean|)")
    return finish(fig, out, "internal_consistency",  # the legend under the rotated model names, not on them
                  "Internal consistency per topic (our statistic; items from the supplementary Table 9)", axes[0],
                  ncol=min(len(methods) + 3, 4), scored=False)


@styled
def consistency_steering(dist: pd.DataFrame, topics, out: Output) -> list[Path]:
    d = dist[dist["method"] != NO_STEERING]
    keys = list(dict.fromkeys(zip(d["model"], d["method"])))
    mean = d.groupby(["model", "method", "topic"])["change"].mean()
    m = np.array([[mean.get((model, method, t.name), np.nan) for t in topics] for model, method in keys])
    fig, ax = figure((1.3 * len(topics) + 3.2, 0.3 * len(keys) + 1.6))
    lim = (np.nanmax(np.abs(m)) if np.isfinite(m).any() else 0.0) or 1e-3
    im = heatmap(ax, m, [f"{short_name(a)} / {b}" for a, b in keys], [t.label for t in topics], vmin=-lim, vmax=lim,
                 cmap="RdBu_r", fontsize=8)
    for (r, c), v in np.ndenumerate(m):
        if np.isfinite(v):
            ax.text(c, r, f"{v:+.3f}", ha="center", va="center", fontsize=7.5,
                    color="white" if abs(v) > 0.6 * lim else "black")
    ax.tick_params(axis="x", rotation=0)
    fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02, label="change in distance\n(blue: closer to the people)")
    return finish(fig, out, "internal_consistency_steering",
                  "Steering and internal consistency: distance to the target country's people", scored=False)


def method_color(method: str, known: tuple[str, ...]):
    return COLORS[known.index(method) if method in known else 3 + hash(method) % 6]


@styled
def elicitation(items: pd.DataFrame, methods: pd.DataFrame, metric_label: str, out: Output,
                known: tuple[str, ...]) -> list[Path]:
    """One row of three panels per model; `known`: the methods in their colour order."""
    models = list(dict.fromkeys(methods["model"]))
    fig = Figure(figsize=(11.5, 3.3 * len(models)))
    axes = fig.subplots(len(models), 3, squeeze=False, gridspec_kw={"width_ratios": [1.2, 1, 0.9]})
    rng = np.random.default_rng(0)
    for r, model in enumerate(models):
        ax_agree, ax_align, ax_ent = axes[r]
        d = items[items["model"] == model]
        pairs = list(dict.fromkeys(zip(d["method_a"], d["method_b"])))
        for j, (a, b) in enumerate(pairs):
            v = d.loc[(d["method_a"] == a) & (d["method_b"] == b), "agreement"].to_numpy()
            ax_agree.boxplot([v], positions=[j], widths=0.5, showfliers=False, medianprops={"color": "0.3"})
            ax_agree.scatter(j + rng.uniform(-0.16, 0.16, v.size), v, s=9, color=COLORS[j % 10], alpha=0.6, lw=0)
            ax_agree.scatter([j], [v.mean()], marker="D", s=30, color="black", zorder=3,
                             label="mean over items" if j == 0 else None)
        ax_agree.set_xticks(range(len(pairs)), [f"{a}\nvs {b}" for a, b in pairs])
        ax_agree.set_ylim(-0.03, 1.03)
        ax_agree.set_xlim(-0.6, len(pairs) - 0.4)
        ax_agree.set_ylabel(f"{short_name(model)}\n\nagreement per item ({metric_label})")
        ax_agree.legend(loc="lower left", fontsize=7)
        m = methods[(methods["model"] == model) & (methods["kind"] == "method")]
        x = np.arange(len(m))
        # clipped at the dot: a --bootstrap respondents interval may lie below it (docs/robustness.md)
        yerr = np.clip([m["alignment"] - m["ci_low"], m["ci_high"] - m["alignment"]], 0, None)
        ax_align.errorbar(x, m["alignment"], yerr=yerr, fmt="none", ecolor="0.4", elinewidth=1.2, capsize=3)
        ax_align.scatter(x, m["alignment"], color=[method_color(k, known) for k in m["method"]], s=40, zorder=3)
        base = methods[(methods["model"] == model) & (methods["kind"] == "baseline")]["alignment"].iloc[0]
        ax_align.axhline(base, color="0.4", ls=":", lw=1.2, label="uniform answer")
        ax_align.set_xticks(x, m["method"])
        ax_align.set_xlim(-0.6, len(m) - 0.4)
        ax_align.set_ylabel(f"alignment ({metric_label}):\nmean over countries, 95% CI")
        ax_align.legend(loc="lower right", fontsize=7)
        ax_ent.bar(x, m["entropy"], color=[method_color(k, known) for k in m["method"]], width=0.6)
        human = methods[(methods["model"] == model) & (methods["kind"] == "human")]["entropy"].iloc[0]
        ax_ent.axhline(human, color="tab:green", ls="--", lw=1.2, label="human answers")
        ax_ent.set_xticks(x, m["method"])
        ax_ent.set_ylim(0, 1.05)
        ax_ent.set_ylabel("mean normalized entropy")
        ax_ent.legend(loc="upper right", fontsize=7)
        if r == 0:
            ax_agree.set_title("agreement between methods", fontsize=9)
            ax_align.set_title("alignment with the countries", fontsize=9)
            ax_ent.set_title("spread of the answers", fontsize=9)
    n = sorted(set(methods.loc[methods["kind"] == "method", "n_items"]))
    shown = f"{n[0]} items" if len(n) == 1 else f"{n[0]}-{n[-1]} items per model"
    return finish(fig, out, "elicitation",
                  f"Elicitation methods compared on the items all of a model's methods answered ({shown})")


@styled
def robustness(table: pd.DataFrame, summary: pd.DataFrame, out: Output) -> list[Path]:
    d = table[table.condition == NO_STEERING]
    models = list(dict.fromkeys(d["model"]))
    families = [f for f in dict.fromkeys(d["family"]) if f != ORIGINAL]
    fig, ax = figure((7.5, 1.0 + 0.7 * len(models)))
    for j, fam in enumerate(families):
        f = d[d.family == fam]
        y = [models.index(m) + (j - (len(families) - 1) / 2) * 0.12 for m in f["model"]]
        ax.scatter(f["score"], y, s=22, color=COLORS[j % 10], alpha=0.8, label=fam, lw=0)
    o = d[d.family == ORIGINAL]
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
    return finish(fig, out, "robustness", "Robustness: each model's score under every prompt perturbation")


@styled
def position(pos: pd.DataFrame, out: Output) -> list[Path]:
    pos = pos.assign(kind=np.where(pos["family"].isin(["order", "reversed"]), "permuted orders", "listed order"))
    g = pos.groupby(["model", "kind"], sort=False)[["model_first", "human_first", "model_last", "human_last"]].mean()
    fig = Figure(figsize=(9, 1.2 + 0.6 * len(g)))
    axes = fig.subplots(1, 2, sharey=True)
    labels = [f"{short_name(m)} ({k})" for m, k in g.index]
    y = np.arange(len(g))
    for ax, edge in zip(axes, ("first", "last")):
        ax.barh(y - 0.18, g[f"model_{edge}"], height=0.36, color=COLORS[0], label="model")
        ax.barh(y + 0.18, g[f"human_{edge}"], height=0.36, color=COLORS[2], label="people (mean over countries)")
        ax.set_title(f"mass on the {edge} listed option", fontsize=9)
        ax.set_yticks(y, labels)
        ax.set_ylim(len(g) - 0.5, -0.5)
    return finish(fig, out, "robustness_position", "Position bias: first and last listed option, model vs people",
                  axes[1], ncol=2)
