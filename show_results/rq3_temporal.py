"""RQ3, time: each model's RQ1 answers scored against WVS Waves 5, 6 and 7.

    python show_results/rq3_temporal.py --human dataset/human/WV5.csv dataset/human/WV6.csv \
        dataset/human/WV7.csv --results-root results

Uses the items asked in all three waves (dataset/questions/WV567.jsonl; the Wave 5 and 6 tables
store them under their Wave 7 ids) that the model answered: 75, or 74 for models not asked Q151,
which is not among the 144 RQ1 items. Each wave is scored over the countries it surveyed, and also
over the countries surveyed in all three, so a change over waves is not just a change of countries.
Writes rq3_country_scores.csv (model, wave, country_code, country, score, std, n_items, uniform),
rq3_temporal.csv (model, wave, countries, n_countries, score, std over countries, n_items, and the
uniform answer's score on the same countries and items, drawn in the figure so its axis keeps the
scale honest) and
rq3_temporal.png/.pdf.

`--select aligned --tau 0.02` (the paper's supplementary Table 8) also writes
rq3_selected_countries.csv, each model's countries among those surveyed in all three waves that
it aligns with appropriately or over-aligns in Wave 7 (utils/analysis/rq3_selection.py; a model
with fewer than five is left out with a note), and adds the country set "all waves, aligned with
the model in Wave 7" to rq3_temporal.csv and the figure.
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
from utils.analysis import metrics, paper_compat_scripts  # noqa: E402
from utils.analysis.answers import rq1_answers, short_name  # noqa: E402
from utils.analysis.average_human import TAU  # noqa: E402
from utils.analysis.coverage import answer_policy  # noqa: E402
from utils.analysis.flags import HUMAN_DIR, parse_args, parser, report_written, run  # noqa: E402
from utils.analysis.plotting import COLORS, Output, grid, legend_below, save, title, write_csv  # noqa: E402
from utils.analysis.rq3_selection import keep_selected, select_countries  # noqa: E402
from utils.analysis.scoring import load_scoring  # noqa: E402
from utils.analysis.human.wave_map import load_wave_map  # noqa: E402
from utils.core.errors import UserError  # noqa: E402

WAVES = (5, 6, 7)


def country_rows(scorings: dict, answers: dict) -> pd.DataFrame:
    rows = []
    for wave, sc in scorings.items():
        h = sc.human
        for model, ans in answers.items():
            s = sc.scores(ans)
            mean, std, n = metrics.summarize(s)
            uniform = metrics.summarize(np.where(np.isnan(s), np.nan, sc.uniform_scores()))[0]  # same items
            rows.append(pd.DataFrame({"model": model, "wave": wave, "country_code": h.country_codes,
                                      "country": h.country_names, "score": mean, "std": std, "n_items": n,
                                      "uniform": uniform}))
    df = pd.concat(rows, ignore_index=True)
    return df[df["n_items"] > 0].reset_index(drop=True)


def wave_summary(df: pd.DataFrame) -> pd.DataFrame:
    waves = sorted(df["wave"].unique())
    common = set.intersection(*(set(df.loc[df["wave"] == w, "country_code"]) for w in waves))
    out = []
    for label, d in (("each wave", df), ("all waves", df[df["country_code"].isin(common)])):
        g = d.groupby(["model", "wave"], sort=False)
        s = g.agg(n_countries=("score", "size"), score=("score", "mean"), n_items=("n_items", "max"),
                  uniform=("uniform", "mean"))
        s["std"] = g["score"].std(ddof=0)
        out.append(s.reset_index().assign(countries=label))
    cols = ["model", "wave", "countries", "n_countries", "score", "std", "n_items", "uniform"]
    return pd.concat(out, ignore_index=True)[cols]


def plot(summary: pd.DataFrame, synthetic: bool, out: Output) -> list[Path]:
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
        # 0.004 is seen against the whole distance from "no information" (issue 12)
        u = d.groupby("wave")["uniform"].mean()
        ax.plot(u.index, u.to_numpy(), color="0.4", ls=":", lw=1.2, marker="x", ms=4,
                label="uniform answer (mean over models)")
        n = d.groupby("wave")["n_countries"].max()
        upto = d.groupby("wave")["n_countries"].nunique() > 1  # per-model country sets (--select)
        ax.set_xticks(list(n.index),
                      [f"Wave {w}\n({'up to ' if upto[w] else ''}{c} countries)" for w, c in n.items()])
        ax.set_title(f"countries surveyed in {label}", fontsize=9)
    axes[0].set_ylabel("alignment (mean ± std over countries)")
    title(fig, "RQ3: the same answers scored against WVS Waves 5, 6 and 7", synthetic, out.metric)
    fig.tight_layout()
    legend_below(fig, axes[0], ncol=4)
    return save(fig, out, "rq3_temporal")


def build_parser() -> argparse.ArgumentParser:
    ap = parser(__doc__.splitlines()[0], human_default=None)
    ap.add_argument("--human", type=Path, nargs="+", default=[HUMAN_DIR / f"WV{w}.csv" for w in WAVES],
                    help="prepared tables of the waves (default dataset/human/WV5.csv WV6.csv WV7.csv); "
                         "the wave is read from each table's wave column")
    ap.add_argument("--select", choices=["all", "aligned"], default="all",
                    help="aligned: also score each model over the countries it aligns with in Wave 7 "
                         "(appropriately or over-aligned, at least the average human's score minus --tau; the "
                         "paper's Table 8), writing rq3_selected_countries.csv; all: no selection (default)")
    ap.add_argument("--tau", type=float, default=TAU, help=f"margin for --select aligned (default {TAU})")
    return ap


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(build_parser(), argv)
    mapping = load_wave_map()
    selected, sel_files = select_countries(cfg, cfg.human_paths(), cfg.extra["tau"]) if cfg.extra["select"] == "aligned" else (None, [])
    if cfg.paper_compat:  # the original arithmetic (README: --paper-compat)
        return report_written(sel_files + paper_compat_scripts.rq3_temporal(cfg, mapping))
    ids, orders = [w.id for w in mapping], [w.order for w in mapping]
    scorings = {}
    for path in cfg.human_paths():
        sc = load_scoring(cfg, ids, orders, human_path=path, expected_wave=None)
        if sc.human.wave is None:
            raise UserError(f"{path} has no single wave in its wave column; prepare each wave separately")
        scorings[sc.human.wave] = sc
    answers = rq1_answers(cfg.results_root, ids, orders, cfg.models, answer_policy(cfg, *scorings.values()))
    answers = {m: a for m, a in answers.items() if np.isfinite(a).any()}
    df = country_rows(dict(sorted(scorings.items())), answers)
    summary = wave_summary(df)
    if selected is not None:  # the same summary over each included model's own countries
        picked = wave_summary(keep_selected(df, selected)) if selected.chosen else summary.iloc[:0]
        summary = pd.concat([summary, picked[picked["countries"] == "all waves"].assign(
            countries="all waves, aligned with the model in Wave 7")], ignore_index=True)
    synthetic = any(sc.human.synthetic for sc in scorings.values())
    written = sel_files + [write_csv(df, cfg.output, "rq3_country_scores.csv"),
                           write_csv(summary, cfg.output, "rq3_temporal.csv")]
    written += plot(summary, synthetic, cfg.output)
    print(summary.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return report_written(written)


if __name__ == "__main__":
    sys.exit(run(main))
