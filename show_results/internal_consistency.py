"""Internal consistency: do a model's answers agree across related questions, as people's do?

    python show_results/internal_consistency.py --human dataset/human/WV7.csv --results-root results

The topics and items are the supplementary material's (G.2, Table 9: gender fairness Q29, Q30,
Q31, Q33; atheism Q165-Q168; democracy Q243, Q250); the statistic is OURS, since the material
does not give one (utils/analysis/consistency.py): each item's answer distribution becomes its
mean position between the topic's two stances, in [0, 1], and a topic's consistency is 1 minus
the mean absolute deviation of its items' positions from their mean (1: one stance throughout;
0.5: the lowest possible). Every model is scored in every condition it has (RQ1 = No Steering and
each RQ2 steering condition), and so are each country's people and all countries pooled.
Writes internal_consistency.csv (subject x topic: consistency, stance, each item's position),
internal_consistency_distance.csv (|model - people| per model, condition, country and topic; for
steering conditions, against the target country, with the unsteered distance and whether steering
moved the model toward the country's people), internal_consistency_table.csv/.md/.tex (models and
people; mean distance over countries), internal_consistency_steering.csv/.md/.tex when RQ2 results
exist, and the figures internal_consistency and internal_consistency_steering (PNG, PDF).
--metric does not apply (no alignment score is computed) and leaves the names as they are.
--paper-compat: the notebook's "consistency" instead, which is the normalized entropy of the last
item only (utils/analysis/paper_compat_consistency.py), for the models and the people pooled.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from utils.analysis import paper_compat_consistency  # noqa: E402
from utils.analysis.answers import load_answers, model_files, short_name  # noqa: E402
from utils.analysis.consistency import TOPICS_FILE, load_topics, score_topics, steering_effect  # noqa: E402
from utils.analysis.coverage import answer_policy  # noqa: E402
from utils.analysis.flags import parse_args, parser, report_written, run  # noqa: E402
from utils.analysis.paper_table import write_tables  # noqa: E402
from utils.analysis.plotting import (  # noqa: E402
    COLORS,
    Output,
    grid,
    heatmap,
    legend_below,
    plt,
    save,
    title,
    write_csv,
)
from utils.analysis.scoring import load_scoring  # noqa: E402
from utils.analysis.human.wave_map import country_names  # noqa: E402
from utils.core.errors import UserError  # noqa: E402
from utils.core.paths import INPUTS_DIR  # noqa: E402

POOLED = "all countries pooled"


def steering_codes(inputs_dir: Path) -> dict[str, int]:
    """Steering country name -> WVS code (inputs/steering/countries.json, then the WVS names)."""
    codes = {v: k for k, v in country_names().items()}
    path = Path(inputs_dir) / "steering" / "countries.json"
    if path.is_file():
        codes |= {k: int(v["wvs_code"]) for k, v in json.loads(path.read_text(encoding="utf-8"))["countries"].items()}
    return codes


def subject_rows(subject: dict, scores) -> list[dict]:
    """One row per topic for one subject (`scores`: consistency.score_topics of its [I, K])."""
    rows = []
    for s in scores:
        pos = {f"pos_{it.id}": float(p) for it, p in zip(s.topic.items, np.atleast_1d(s.item_positions))}
        rows.append(subject | {"topic": s.topic.name, "n_items": int(np.isfinite(s.item_positions).sum()),
                               "stance": float(s.stance), "consistency": float(s.consistency)} | pos)
    return rows


def consistency_table(sc, topics, rq1: dict, rq2: list, codes: dict, policy) -> pd.DataFrame:
    """Long table: kind (model | people), model, method, steer_country, country, country_code,
    topic, n_items, stance, consistency, pos_<item>."""
    ids, orders = list(sc.human.item_ids), list(sc.human.orders)
    rows = []
    for model, path in rq1.items():
        base = {"kind": "model", "model": model, "method": "none", "steer_country": "", "country": "",
                "country_code": np.nan}
        rows += subject_rows(base, score_topics(load_answers(path, ids, orders, policy), ids, orders, topics))
    for f in rq2:
        base = {"kind": "model", "model": f.spec.model, "method": f.spec.condition, "steer_country": f.spec.country,
                "country": f.spec.country, "country_code": codes.get(f.spec.country, np.nan)}
        rows += subject_rows(base, score_topics(load_answers(f.path, ids, orders, policy), ids, orders, topics))
    pooled = sc.pooled()
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = pooled / pooled.sum(-1, keepdims=True)
    people = {"kind": "people", "model": "", "method": "", "steer_country": ""}
    rows += subject_rows(people | {"country": POOLED, "country_code": np.nan},
                         score_topics(pooled, ids, orders, topics))
    per_country = score_topics(sc.shares, ids, orders, topics)  # [C] at once
    for c, (code, name) in enumerate(zip(sc.human.country_codes, sc.human.country_names)):
        for s in per_country:
            pos = {f"pos_{it.id}": float(p) for it, p in zip(s.topic.items, s.item_positions[c])}
            rows.append(people | {"country": name, "country_code": int(code), "topic": s.topic.name,
                                  "n_items": int(np.isfinite(s.item_positions[c]).sum()),
                                  "stance": float(s.stance[c]), "consistency": float(s.consistency[c])} | pos)
    return pd.DataFrame(rows)


def distance_table(df: pd.DataFrame) -> pd.DataFrame:
    """|model - people| per topic: No Steering against every country; a steering condition against
    its target country, with the unsteered distance, the change and whether it moved closer."""
    people = df[(df["kind"] == "people") & (df["country"] != POOLED)].dropna(subset=["consistency"])
    by_code = people.set_index(["country_code", "topic"])["consistency"]
    models = df[df["kind"] == "model"]
    none = models[models["method"] == "none"].set_index(["model", "topic"])["consistency"]
    rows, missing = [], set()
    for r in models.itertuples():
        if not np.isfinite(r.consistency):
            continue
        if r.method == "none":
            for p in people[people["topic"] == r.topic].itertuples():
                rows.append({"model": r.model, "method": "none", "country": p.country,
                             "country_code": int(p.country_code), "topic": r.topic, "model_consistency": r.consistency, "people_consistency": p.consistency,
                             "distance": abs(r.consistency - p.consistency)})
            continue
        key = (r.country_code, r.topic)
        if key not in by_code.index:
            if r.country not in missing:  # once per country
                print(f"note: no human answers to every {r.topic} item for {r.country}; its steering rows are left out")
            missing.add(r.country)
            continue
        base = none.get((r.model, r.topic), np.nan)
        before, after, change = steering_effect(base, r.consistency, by_code[key])
        rows.append({"model": r.model, "method": r.method, "country": r.country, "country_code": int(r.country_code),
                     "topic": r.topic, "model_consistency": r.consistency, "people_consistency": by_code[key],
                     "distance": after, "unsteered_consistency": base, "unsteered_distance": before, "change": change,
                     "moved_toward": bool(change < 0) if np.isfinite(change) else np.nan})
    cols = ["model", "method", "country", "country_code", "topic", "model_consistency", "people_consistency",
            "distance", "unsteered_consistency", "unsteered_distance", "change", "moved_toward"]
    return pd.DataFrame(rows).reindex(columns=cols)


def summary_table(df: pd.DataFrame, dist: pd.DataFrame, topics) -> pd.DataFrame:
    """Models (No Steering) and people: each topic's consistency and the mean distance to the
    countries' people (over the countries whose people answered every item of the topic)."""
    rows = []
    cons = df.set_index(["kind", "model", "method", "country", "topic"])["consistency"]
    near = dist[dist["method"] == "none"].groupby(["model", "topic"])["distance"].mean()
    for model in dict.fromkeys(df.loc[(df["kind"] == "model") & (df["method"] == "none"), "model"]):
        row = {"Subject": short_name(model), "Condition": "No Steering"}
        for t in topics:
            row[t.label] = f"{cons[('model', model, 'none', '', t.name)]:.4f}"
            row[f"{t.label}: distance"] = f"{near.get((model, t.name), np.nan):.4f}"
        rows.append(row)
    people = df[(df["kind"] == "people") & (df["country"] != POOLED)]
    rows.append({"Subject": "People", "Condition": POOLED} |
                {t.label: f"{cons[('people', '', '', POOLED, t.name)]:.4f}" for t in topics})
    per_topic = {t.name: people.loc[people["topic"] == t.name, "consistency"].dropna() for t in topics}
    n = sorted({len(c) for c in per_topic.values()})
    rows.append({"Subject": "People", "Condition": f"mean over {'/'.join(map(str, n))} countries"}
                | {t.label: f"{per_topic[t.name].mean():.4f}" for t in topics})
    return pd.DataFrame(rows).fillna("").replace("nan", "")


def steering_summary(dist: pd.DataFrame, topics) -> pd.DataFrame:
    """Per model and steering method: the mean change of the distance over its target countries
    (negative: closer to the countries' people) and how many moved closer."""
    d = dist[dist["method"] != "none"]
    rows = []
    for (model, method), g in d.groupby(["model", "method"], sort=False):
        row = {"Subject": short_name(model), "Condition": method}
        for t in topics:
            x = g[g["topic"] == t.name]
            moved = int((x["moved_toward"] == True).sum())  # noqa: E712 - object column with NaN
            row[t.label] = f"{x['change'].mean():+.4f} ({moved}/{len(x)} closer)" if len(x) else ""
        rows.append(row)
    return pd.DataFrame(rows)


def plot(df: pd.DataFrame, topics, synthetic: bool, out: Output) -> list[Path]:
    models = list(dict.fromkeys(df.loc[df["kind"] == "model", "model"]))
    methods = [m for m in dict.fromkeys(df.loc[df["kind"] == "model", "method"]) if m != "none"]
    # at least wide enough for its two-line title: with one or two models the titles ran into each other
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
            v = dm.loc[dm["method"] == "none", "consistency"].to_numpy()
            ax.scatter(np.full(v.size, i - 0.08), v, s=40, marker="D", color=COLORS[0], zorder=3,
                       label="model, no steering" if i == 1 else None)
        ax.set_xticks(range(len(models) + 1), ["people"] + [short_name(m) for m in models], rotation=30, ha="right")
        ax.set_title(f"{t.label}\n({', '.join(i.id for i in t.items)})", fontsize=9)
    axes[0].set_ylim(0.48, 1.02)  # 0.5 is the lowest value the statistic can take
    axes[0].set_ylabel("consistency (1 - mean |position - mean|)")
    title(fig, "Internal consistency per topic (our statistic; items from the supplementary Table 9)", synthetic)
    fig.tight_layout()
    legend_below(fig, axes[0], ncol=min(len(methods) + 3, 4))  # under the rotated model names, not on them
    return save(fig, out, "internal_consistency")


def plot_steering(dist: pd.DataFrame, topics, synthetic: bool, out: Output) -> list[Path]:
    d = dist[dist["method"] != "none"]
    keys = list(dict.fromkeys(zip(d["model"], d["method"])))
    mean = d.groupby(["model", "method", "topic"])["change"].mean()
    m = np.array([[mean.get((model, method, t.name), np.nan) for t in topics] for model, method in keys])
    fig, ax = plt.subplots(figsize=(1.3 * len(topics) + 3.2, 0.3 * len(keys) + 1.6))
    lim = np.nanmax(np.abs(m)) if np.isfinite(m).any() else 1e-3
    im = heatmap(ax, m, [f"{short_name(a)} / {b}" for a, b in keys], [t.label for t in topics],
                 vmin=-(lim or 1e-3), vmax=lim or 1e-3, cmap="RdBu_r", annotate=False, fontsize=8)
    for (r, c), v in np.ndenumerate(m):
        if np.isfinite(v):
            ax.text(c, r, f"{v:+.3f}", ha="center", va="center", fontsize=7.5,
                    color="white" if abs(v) > 0.6 * (lim or 1e-3) else "black")
    ax.tick_params(axis="x", rotation=0)
    fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02, label="change in distance\n(blue: closer to the people)")
    title(fig, "Steering and internal consistency: distance to the target country's people", synthetic)
    fig.tight_layout()
    return save(fig, out, "internal_consistency_steering")


def build_parser() -> argparse.ArgumentParser:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--inputs-dir", type=Path, default=INPUTS_DIR,
                    help="folder with steering/countries.json (steering country -> WVS code; default inputs/)")
    ap.add_argument("--topics", type=Path, default=TOPICS_FILE,
                    help="topics, items and each item's orientation (default inputs/analysis/consistency_topics.json)")
    return ap


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(build_parser(), argv)
    if cfg.paper_compat:  # the notebook's last-item entropy (README: --paper-compat)
        return report_written(paper_compat_consistency.internal_consistency(cfg))
    topics = load_topics(cfg.extra["topics"])
    out = replace(cfg.output, metric="w1")  # no alignment metric here: names as they are
    sc = load_scoring(cfg)
    policy = answer_policy(cfg, sc)
    rq1 = {f.spec.model: f.path for f in model_files(cfg.results_root, "RQ1", cfg.models, policy)}
    if not rq1:
        raise UserError(f"no RQ1 results (RQ1/<model>/results.csv) under {cfg.results_root}; run "
                        "code/RQ1/prob_by_llm.py or code/RQ1/prob_by_api.py first")
    # models named: all their RQ2 conditions; by default a model with a single one is left out, as everywhere
    rq2 = [f for f in model_files(cfg.results_root, "RQ2", "all" if cfg.models else None, policy) if f.spec.model in rq1]
    df = consistency_table(sc, topics, rq1, rq2, steering_codes(cfg.extra["inputs_dir"]), policy)
    unscored = sorted({r.model for r in df[df["kind"] == "model"].itertuples()} -
                      set(df.loc[(df["kind"] == "model") & df["consistency"].notna(), "model"]))
    if set(unscored) == set(rq1):  # e.g. the demo's first 12 items: nothing to show for any model, so say why
        items = "; ".join(f"{t.label} {', '.join(i.id for i in t.items)}" for t in topics)
        raise UserError(f"no model answered every item of a topic ({items}): {', '.join(unscored)} did not, e.g. a "
                        "run with --limit; ask those items (rerun the probe without --limit) to score internal "
                        "consistency")
    dist = distance_table(df)
    synthetic = sc.human.synthetic
    written = [write_csv(df, out, "internal_consistency.csv"),
               write_csv(dist, out, "internal_consistency_distance.csv")]
    summary = summary_table(df, dist, topics)
    written += write_tables(summary, out, "internal_consistency_table",
                            "Internal consistency per topic (ours: 1 - mean absolute deviation of the items' mean "
                            "positions); distance: mean absolute difference from each country's people")
    written += plot(df, topics, synthetic, out)
    if unscored:  # e.g. a run on the first few items only
        print(f"note: no answers to every item of any topic from {', '.join(unscored)}; left out of the distances")
    if rq2 and not (dist["method"] != "none").any():
        print("note: no steering condition answered every item of a topic; no steering table")
    elif rq2:
        written += write_tables(steering_summary(dist, topics), out, "internal_consistency_steering",
                                "Steering: mean change of the absolute difference from the target country's people "
                                "(negative: closer), and how many target countries moved closer")
        written += plot_steering(dist, topics, synthetic, out)
    print(summary.to_string(index=False))
    return report_written(written)


if __name__ == "__main__":
    sys.exit(run(main))
