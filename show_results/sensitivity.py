"""Sensitivity: the default RQ1 prompt against the prompt variants that were run (number, prob, order).

    python show_results/sensitivity.py --human dataset/human/WV7.csv --results-root results

For each model with results under Discussion/sensitivity/<variant>/<model>, scores the default
(RQ1/<model>) and every variant against every country. Writes sensitivity_scores.csv (model,
variant, score = mean over countries of the per-country mean over items, std over countries,
delta from the default, Spearman correlation of the country ranking with the default's,
n_countries, n_items, n_items_answered) and sensitivity.png/.pdf. All variants of a model, the
default included, are scored on the items every one of them answered (per country; `n_items`
is how many, `n_items_answered` the variant's own), so a delta compares prompts, not item sets.
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
from scipy.stats import spearmanr  # noqa: E402
from utils.analysis import metrics, paper_compat_scripts  # noqa: E402
from utils.analysis.answers import load_answers, model_files, short_name  # noqa: E402
from utils.analysis.coverage import answer_policy  # noqa: E402
from utils.analysis.flags import parse_args, parser, report_written, run  # noqa: E402
from utils.analysis.plotting import COLORS, Output, grid, legend_below, save, title, write_csv  # noqa: E402
from utils.analysis.scoring import load_scoring  # noqa: E402
from utils.core.errors import UserError  # noqa: E402

VARIANTS = ["number", "prob", "order"]


def sensitivity_table(sc, results_root: Path, models: str | None, policy=None) -> pd.DataFrame:
    ids, orders = list(sc.human.item_ids), list(sc.human.orders)
    files = model_files(results_root, "sensitivity", models, policy)
    if not files:
        raise UserError(f"no sensitivity results (Discussion/sensitivity/<variant>/<model>/results.csv) under "
                        f"{results_root}; run code/RQ1/prob_by_llm.py or prob_by_api.py with --variant first")
    rq1 = {f.spec.model: f.path for f in model_files(results_root, "RQ1", policy=policy)}
    by_model: dict[str, dict[str, Path]] = {}
    for f in files:
        by_model.setdefault(f.spec.model, {})[f.spec.condition] = f.path
    rows = []
    for model, variants in by_model.items():
        conds = ({"default": rq1[model]} if model in rq1 else {}) | \
            {v: variants[v] for v in VARIANTS if v in variants} | {v: p for v, p in variants.items() if v not in VARIANTS}
        scores = {variant: sc.scores(load_answers(path, ids, orders, policy)) for variant, path in conds.items()}
        # every variant of this model (the default included) on the items all of them answered, per
        # country, so a delta or a rank correlation compares the prompts and not two sets of items
        common = np.all([np.isfinite(v) for v in scores.values()], axis=0)
        per_country, n_items, answered = {}, {}, {}
        for variant, s in scores.items():
            mean, _, n = metrics.summarize(np.where(common, s, np.nan))
            per_country[variant], n_items[variant] = mean, int(n.max())
            answered[variant] = int(np.isfinite(s).any(0).sum())
        base = per_country.get("default")
        if base is None:
            print(f"note: no RQ1 results for {model}; its variants are shown without the default")
        for variant, cur in per_country.items():
            ok = ~np.isnan(cur)
            row = {"model": model, "variant": variant, "score": float(cur[ok].mean()), "std": float(cur[ok].std()),
                   "delta": np.nan, "rank_corr": np.nan, "n_countries": int(ok.sum()), "n_items": n_items[variant],
                   "n_items_answered": answered[variant]}
            if base is not None:
                both = ok & ~np.isnan(base)
                row["delta"] = row["score"] - float(base[~np.isnan(base)].mean())
                if both.sum() > 2:
                    row["rank_corr"] = float(spearmanr(base[both], cur[both])[0])
            rows.append(row)
    cols = ["model", "variant", "score", "std", "delta", "rank_corr", "n_countries", "n_items", "n_items_answered"]
    return pd.DataFrame(rows)[cols]


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


def plot(df: pd.DataFrame, synthetic: bool, out: Output) -> list[Path]:
    models = list(dict.fromkeys(df["model"]))
    variants = list(dict.fromkeys(["default"] + VARIANTS + df["variant"].tolist()))
    variants = [v for v in variants if v in set(df["variant"])]
    fig, axes = grid(1, 1, max(5.0, 1.0 * len(models) * len(variants) / 2 + 2), 4.0)
    ax = axes[0]
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
    title(fig, heading(variants), synthetic, out.metric)
    fig.tight_layout()
    legend_below(fig, ax, ncol=len(variants))
    return save(fig, out, "sensitivity")


def build_parser() -> argparse.ArgumentParser:
    return parser(__doc__.splitlines()[0])


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(build_parser(), argv)
    if cfg.paper_compat:  # the original arithmetic (README: --paper-compat)
        return report_written(paper_compat_scripts.sensitivity(cfg))
    sc = load_scoring(cfg)
    df = sensitivity_table(sc, cfg.results_root, cfg.models, answer_policy(cfg, sc))
    written = [write_csv(df, cfg.output, "sensitivity_scores.csv")] + plot(df, sc.human.synthetic, cfg.output)
    print(df.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return report_written(written)


if __name__ == "__main__":
    sys.exit(run(main))
