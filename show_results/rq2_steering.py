"""RQ2, steering: for each model and country, the score with no steering and with each method.

    python show_results/rq2_steering.py --human dataset/human/WV7.csv --results-root results

"none" is the model's RQ1 answer; each method's answer is RQ2/<method>/<country>/<model>. Every
condition of a model and country is scored on the same items: those all its conditions answered,
out of the 144 minus that country's five few-shot items (inputs/few_shot/<Country>.json), whose
real distributions the few-shot prompts show. Writes rq2_steering_scores.csv (model, country,
country_code, method, score, std, n_items the items shared by the conditions, n_items_answered
the condition's own, gain over none), rq2_steering_table.csv (one row per model and country, a column per condition, the
best method, its gain and best_beats_none, False where even the best is no better than no
steering) and two figures: rq2_steering_table (scores, best per row boxed) and
rq2_steering_gains (gain of each method over no steering, per country).
Significance (utils/analysis/significance.py, --test rel|ind, --correction none|holm): p_value and
stars per condition against none, and rows with model AVG (mean over models) per country and
condition. rq2_paper_table.csv/.md/.tex: the supplementary material's layout (paper_table.py).
--paper-compat: the original rq2_results.py arithmetic instead (utils/analysis/paper_compat_rq2.py).

--by GROUPVAR adds the runs steered toward a group inside the country (`prob_by_*.py --group
age=18-29`): rq2_group_steering.csv scores each against that group's distribution (score_group)
and against the whole country's (score_country), next to the same method steered toward the
whole country and to no steering, both scored against the group (base_group, none_group), on the
items all four answered; gain_group = score_group - base_group says whether naming the group
moved the model toward it, beyond naming the country. Figure: rq2_group_steering.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from utils.analysis import metrics, paper_compat_scripts, significance  # noqa: E402
from utils.analysis.answers import load_answers, model_files, short_name  # noqa: E402
from utils.analysis.coverage import answer_policy  # noqa: E402
from utils.analysis.flags import add_by, parse_args, parser, report_written, run  # noqa: E402
from utils.analysis.group_scores import group_scorings, groups_in_table  # noqa: E402
from utils.analysis.paper_models import sort_models  # noqa: E402
from utils.analysis.paper_table import write_paper_table  # noqa: E402
from utils.analysis.plotting import COLORS, Output, grid, heatmap, plt, save, title, write_csv  # noqa: E402
from utils.analysis.scoring import load_scoring  # noqa: E402
from utils.analysis.human.wave_map import country_names  # noqa: E402
from utils.core.errors import UserError  # noqa: E402
from utils.core.paths import INPUTS_DIR  # noqa: E402

METHODS = ["persona", "few-shot", "language", "language_persona", "language_few-shot"]


def steering_setup(inputs_dir: Path) -> tuple[list[str], dict[str, int]]:
    """Method order and country name -> WVS code, from inputs/steering/ (defaults if absent)."""
    methods, codes = list(METHODS), {}
    m, c = inputs_dir / "steering" / "methods.json", inputs_dir / "steering" / "countries.json"
    if m.is_file():
        methods = list(json.loads(m.read_text(encoding="utf-8"))["methods"])
    if c.is_file():
        codes = {k: int(v["wvs_code"]) for k, v in json.loads(c.read_text(encoding="utf-8"))["countries"].items()}
    return methods, codes


def few_shot_ids(country: str, few_shot_dir: Path) -> set[str]:
    path = few_shot_dir / f"{country}.json"
    if not path.is_file():
        raise UserError(f"{path} not found: RQ2 is scored without each country's few-shot items, listed there; "
                        "restore the RQ2 inputs (inputs/few_shot/) first")
    return {ex["id"] for ex in json.loads(path.read_text(encoding="utf-8"))["items"]}


def country_code(country: str, codes: dict[str, int]) -> int:
    if country in codes:
        return codes[country]
    by_name = {v: k for k, v in country_names().items()}
    if country in by_name:
        return by_name[country]
    raise UserError(f"RQ2 country {country!r} has no WVS code; add it to inputs/steering/countries.json")


def score_table(sc, results_root: Path, models: str | None, few_shot_dir: Path, inputs_dir: Path,
                policy=None) -> pd.DataFrame:
    h = sc.human
    ids, orders = list(h.item_ids), list(h.orders)
    files = model_files(results_root, "RQ2", models, policy)
    if not files:
        raise UserError(f"no RQ2 results (RQ2/<method>/<country>/<model>/results.csv) under {results_root}; "
                        "run code/RQ2/prob_by_llm.py or code/RQ2/prob_by_api.py first")
    methods, codes = steering_setup(inputs_dir)
    rq1 = {f.spec.model: f.path for f in model_files(results_root, "RQ1", policy=policy)}
    row_of = {int(c): i for i, c in enumerate(h.country_codes)}
    conditions = {(f.spec.model, f.spec.country): {} for f in files}
    for f in files:
        conditions[(f.spec.model, f.spec.country)][f.spec.condition] = f.path
    rows, items, missing = [], {}, set()
    for (model, country), paths in conditions.items():
        code = country_code(country, codes)
        if code not in row_of:
            if country not in missing:  # once per country, not once per model
                print(f"note: no human data for {country} ({code}); its RQ2 results are left out")
            missing.add(country)
            continue
        skip = few_shot_ids(country, few_shot_dir)
        kept = np.array([i not in skip for i in ids])
        human = sc.shares[row_of[code]]
        conds = {"none": rq1.get(model)} | {m: paths.get(m) for m in methods} | \
            {m: p for m, p in paths.items() if m not in methods}
        scores = {method: np.where(kept, sc.similarity(sc.model(load_answers(path, ids, orders, policy)), human),
                                   np.nan) for method, path in conds.items() if path is not None}
        # every condition of this model and country on the items all of them answered, so the
        # gains, the best method and the paired tests compare like with like (n_items says how many);
        # a condition that answered nothing (all unparsed) is shown empty instead of emptying the others
        answered = [np.isfinite(v) for v in scores.values() if np.isfinite(v).any()]
        common = np.all(answered, axis=0) if answered else kept
        for method, s in scores.items():
            s = np.where(common, s, np.nan)
            mean, std, n = metrics.summarize(s)
            items[(model, country, method)] = s  # for the significance tests
            rows.append({"model": model, "country": country, "country_code": code, "method": method,
                         "score": float(mean), "std": float(std), "n_items": int(n),
                         "n_items_answered": int(np.isfinite(np.where(kept, scores[method], np.nan)).sum())})
    df = pd.DataFrame(rows)
    if df.empty:
        raise UserError("none of the RQ2 countries is in the human data; check --human")
    base = df[df["method"] == "none"].set_index(["model", "country"])["score"]
    df["gain"] = df["score"] - base.reindex(pd.MultiIndex.from_frame(df[["model", "country"]])).to_numpy()
    df.attrs["item_scores"] = items
    return df


def wide_table(df: pd.DataFrame) -> pd.DataFrame:
    order = ["none"] + [m for m in dict.fromkeys(df["method"]) if m != "none"]
    w = df.pivot_table(index=["model", "country", "country_code"], columns="method", values="score", sort=False)
    w = w.reindex(columns=[m for m in order if m in w.columns])
    n = df.groupby(["model", "country", "country_code"], sort=False)["n_items"].min()
    steered = w.drop(columns=["none"], errors="ignore")
    w["best_method"] = steered.idxmax(axis=1)
    w["best_gain"] = steered.max(axis=1) - w.get("none", np.nan)
    # the best of the five can still be worse than asking plainly: say so rather than crown it
    w["best_beats_none"] = pd.Series([None if pd.isna(g) else bool(g > 0) for g in w["best_gain"]], index=w.index,
                                     dtype=object)  # empty where there is no RQ1 answer to beat
    w.insert(0, "n_items", n)
    w.columns.name = None
    return w.reset_index()


def _told(flag) -> bool | None:
    """A best_beats_none cell as True, False or None (no RQ1 answer to beat), whatever its dtype."""
    return None if flag is None or pd.isna(flag) else bool(flag)


def summary_lines(wide: pd.DataFrame) -> list[str]:
    """What the console shows: each model's mean over its countries per condition, the AVG rows
    (per country, over the models), and how often the best method does not beat no steering."""
    conds = [c for c in wide.columns if c not in ("model", "country", "country_code", "n_items", "best_method",
                                                  "best_gain", "best_beats_none")]
    models = wide[wide["model"] != "AVG"]
    per_model = models.groupby("model", sort=False)[conds].mean()
    per_model.insert(0, "countries", models.groupby("model", sort=False).size())
    per_model.index = [short_name(m) for m in per_model.index]
    avg = wide[wide["model"] == "AVG"].set_index("country")[conds + ["best_method", "best_gain"]]
    fmt = {"float_format": lambda x: f"{x:.4f}"}
    lines = ["mean over countries, per model and condition:", per_model.to_string(**fmt)]
    if len(avg):
        lines += ["AVG over the models, per country:", avg.to_string(**fmt)]
    worse = wide[[_told(b) is False for b in wide["best_beats_none"]]]
    if len(worse):
        rows = f"{len(worse)} of {int(wide['best_beats_none'].notna().sum())}"
        lines.append(f"note: in {rows} rows (model or AVG, and country) no steering method beats no steering "
                     "(best_beats_none False in rq2_steering_table.csv; dashed box in the figure)")
    return lines


def plot_table(wide: pd.DataFrame, synthetic: bool, out: Output, marks: dict | None = None) -> list[Path]:
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
        gain = m - m[:, :1] if conds[0] == "none" else m - np.nanmean(m, 1, keepdims=True)
        lim = (np.nanmax(np.abs(gain)) if np.isfinite(gain).any() else 0.0) or 1e-3  # no RQ1 answer: no gains
        im = heatmap(ax, gain, d["country"].tolist(), conds, vmin=-lim, vmax=lim, cmap="RdBu", fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="gain over none")
        for r, row in enumerate(m):
            best, beats = d["best_method"].iloc[r], _told(d["best_beats_none"].iloc[r]) is True
            for c, v in enumerate(row):
                if np.isfinite(v):
                    is_best = conds[c] == best
                    dark = abs(gain[r, c]) > 0.55 * lim if np.isfinite(gain[r, c]) else False
                    star = marks.get((model, d["country"].iloc[r], conds[c]), "")
                    ax.text(c, r, f"{v:.3f}{star}", ha="center", va="center", fontsize=7.5,
                            color="white" if dark else "black", fontweight="bold" if is_best and beats else "normal")
                    if is_best:  # gold: beats no steering; dashed grey: the best, yet no better than none
                        ax.add_patch(plt.Rectangle((c - 0.48, r - 0.45), 0.96, 0.9, fill=False, lw=1.6,
                                                   ec="gold" if beats else "0.45", ls="-" if beats else "--"))
        ax.set_title(short_name(model), fontsize=9)
        ax.tick_params(axis="x", rotation=30)
        plt.setp(ax.get_xticklabels(), ha="right")
    title(fig, "RQ2: alignment per steering method (colour: gain over no steering; box: best method, dashed where "
          "it does not beat no steering; stars: p against no steering)", synthetic, out.metric)
    fig.tight_layout()
    return save(fig, out, "rq2_steering_table")


def plot_gains(df: pd.DataFrame, synthetic: bool, out: Output) -> list[Path]:
    d = df[df["method"] != "none"].dropna(subset=["gain"])
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
    title(fig, "RQ2: gain of each steering method over no steering", synthetic, out.metric)
    fig.tight_layout()
    return save(fig, out, "rq2_steering_gains")


GROUP_COLUMNS = ["model", "country", "country_code", "method", "group_var", "group", "score_group", "score_country",
                 "base_group", "none_group", "gain_group", "n_items"]


def group_table(sc, scorings: dict, by: str, cfg, policy=None) -> pd.DataFrame:
    """Each run steered toward a `by` group, scored against that group and the whole country, and
    the same method's whole-country run and the model's RQ1 answer scored against the group; all
    on the items the four share, out of the 144 minus the country's few-shot items."""
    inputs_dir = cfg.extra["inputs_dir"]
    files = [f for f in model_files(cfg.results_root, "RQ2", cfg.models, policy, groups=True) if f.spec.group and f.spec.group[0] == by]
    if not files:
        raise UserError(f"no RQ2 results steered toward a {by} group under {cfg.results_root}; run "
                        f"code/RQ2/prob_by_llm.py (or prob_by_api.py) with --group {by}=<group> first")
    h = sc.human
    ids, orders = list(h.item_ids), list(h.orders)
    codes = steering_setup(inputs_dir)[1]
    whole = {(f.spec.model, f.spec.country, f.spec.condition): f.path for f in model_files(cfg.results_root, "RQ2", cfg.models, policy)}
    rq1 = {f.spec.model: f.path for f in model_files(cfg.results_root, "RQ1", policy=policy)}

    def answers(path):
        return sc.model(load_answers(path, ids, orders, policy)) if path is not None else np.full(
            (len(ids), h.counts.shape[-1]), np.nan)

    rows = []
    for f in files:
        code = country_code(f.spec.country, codes)
        g = scorings.get(f.spec.group[1])
        if g is None or code not in set(g.human.country_codes.tolist()) or code not in set(h.country_codes.tolist()):
            print(f"note: no human data for {by}={f.spec.group[1]} in {f.spec.country}; {f.path} is left out")
            continue
        gi, ci = list(g.human.country_codes).index(code), list(h.country_codes).index(code)
        kept = np.array([i not in few_shot_ids(f.spec.country, inputs_dir / "few_shot") for i in ids])
        steered = answers(f.path)
        s = {"score_group": g.similarity(steered, g.shares[gi]), "score_country": sc.similarity(steered, sc.shares[ci]),
             "base_group": g.similarity(answers(whole.get((f.spec.model, f.spec.country, f.spec.condition))), g.shares[gi]),
             "none_group": g.similarity(answers(rq1.get(f.spec.model)), g.shares[gi])}
        common = kept & np.all([np.isfinite(v) for k, v in s.items() if not np.isnan(v).all()], axis=0)
        means = {k: float(np.mean(v[common])) if common.any() and np.isfinite(v[common]).all() else np.nan
                 for k, v in s.items()}
        rows.append({"model": f.spec.model, "country": f.spec.country, "country_code": code, "method": f.spec.condition,
                     "group_var": by, "group": f.spec.group[1], **means,
                     "gain_group": means["score_group"] - means["base_group"],
                     "n_items": int(common.sum())})
    if not rows:
        raise UserError(f"none of the {by}-steered RQ2 runs has human data for its group; check --human")
    return pd.DataFrame(rows, columns=GROUP_COLUMNS).sort_values(["model", "country", "method", "group"], kind="stable")


def plot_group_steering(gdf: pd.DataFrame, by: str, synthetic: bool, out: Output) -> list[Path]:
    """Per model, one row per run steered toward a group: its score against the group (filled)
    and against the whole country (cross), and the whole-country run's score against the group
    (open): filled right of open means naming the group moved the model toward it."""
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
    title(fig, f"RQ2: steering toward a {by} group inside the country", synthetic, out.metric)
    fig.tight_layout()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, fontsize=8)
    return save(fig, out, "rq2_group_steering")


def build_parser() -> argparse.ArgumentParser:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--inputs-dir", type=Path, default=INPUTS_DIR,
                    help="folder with steering/ and few_shot/ (default inputs/)")
    significance.add_arguments(ap)
    add_by(ap, "also score the runs steered toward a GROUPVAR group (--group) against that group and the whole "
               "country: rq2_group_steering.csv and its figure")
    return ap


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(build_parser(), argv)
    if cfg.paper_compat:  # the original arithmetic (README: --paper-compat)
        codes = steering_setup(cfg.extra["inputs_dir"])[1]
        return report_written(paper_compat_scripts.rq2_steering(
            cfg, lambda c: country_code(c, codes), lambda c: few_shot_ids(c, cfg.extra["inputs_dir"] / "few_shot")))
    if cfg.extra["by"]:
        groups_in_table(cfg.human, cfg.extra["by"])  # an unknown or absent group variable: say so before scoring
    sc = load_scoring(cfg)
    df = score_table(sc, cfg.results_root, cfg.models, cfg.extra["inputs_dir"] / "few_shot", cfg.extra["inputs_dir"],
                     answer_policy(cfg, sc))
    df = significance.add_significance(df, df.attrs.pop("item_scores"), cfg.extra["test"], cfg.extra["correction"])
    wide = wide_table(df)
    marks = {(r.model, r.country, r.method): r.stars for r in df.itertuples()}
    written = [write_csv(significance.for_csv(df), cfg.output, "rq2_steering_scores.csv"),
               write_csv(wide, cfg.output, "rq2_steering_table.csv")]
    written += write_paper_table(sort_models(df), cfg.output, "rq2_paper_table",  # the paper's column order
                                 significance.caption(cfg.extra["test"], cfg.extra["correction"]))
    written += plot_table(wide, sc.human.synthetic, cfg.output, marks)
    written += plot_gains(df, sc.human.synthetic, cfg.output)
    if cfg.extra["by"]:
        by = cfg.extra["by"]
        gdf = group_table(sc, group_scorings(cfg, by, list(sc.human.item_ids), list(sc.human.orders)), by, cfg,
                          answer_policy(cfg, sc))
        written.append(write_csv(gdf, cfg.output, "rq2_group_steering.csv"))
        written += plot_group_steering(gdf, by, sc.human.synthetic, cfg.output)
    print("\n".join(summary_lines(wide)))
    return report_written(written)


if __name__ == "__main__":
    sys.exit(run(main))
