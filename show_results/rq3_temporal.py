"""RQ3, time: each model's RQ1 answers scored against WVS Waves 5, 6 and 7.

    python show_results/rq3_temporal.py --human dataset/human/WV5.csv dataset/human/WV6.csv \
        dataset/human/WV7.csv --results-root results

Uses the items asked in all three waves (dataset/questions/WV567.jsonl; the Wave 5 and 6 tables
store them under their Wave 7 ids) that the model answered: 75, or 74 for models not asked Q151,
which is not among the 144 RQ1 items. Each wave is scored over the countries it surveyed, and also
over the countries surveyed in all three, so a change over waves is not just a change of countries.
Writes rq3_country_scores.csv (model, wave, country_code, country, score, std, n_items),
rq3_temporal.csv (model, wave, countries, n_countries, score, std over countries, n_items) and
rq3_temporal.png/.pdf.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.analysis import metrics  # noqa: E402
from utils.analysis.answers import rq1_answers, short_name  # noqa: E402
from utils.analysis.flags import HUMAN_DIR, parse_args, parser, report_written, run  # noqa: E402
from utils.analysis.plotting import COLORS, grid, legend_below, save, title, write_csv  # noqa: E402
from utils.analysis.scoring import load_scoring  # noqa: E402
from utils.analysis.wave_map import load_wave_map  # noqa: E402
from utils.core.errors import UserError  # noqa: E402

WAVES = (5, 6, 7)


def country_rows(scorings: dict, answers: dict) -> pd.DataFrame:
    rows = []
    for wave, sc in scorings.items():
        h = sc.human
        for model, ans in answers.items():
            mean, std, n = metrics.summarize(sc.scores(ans))
            rows.append(pd.DataFrame({"model": model, "wave": wave, "country_code": h.country_codes,
                                      "country": h.country_names, "score": mean, "std": std, "n_items": n}))
    df = pd.concat(rows, ignore_index=True)
    return df[df["n_items"] > 0].reset_index(drop=True)


def wave_summary(df: pd.DataFrame) -> pd.DataFrame:
    waves = sorted(df["wave"].unique())
    common = set.intersection(*(set(df.loc[df["wave"] == w, "country_code"]) for w in waves))
    out = []
    for label, d in (("each wave", df), ("all waves", df[df["country_code"].isin(common)])):
        g = d.groupby(["model", "wave"], sort=False)
        s = g.agg(n_countries=("score", "size"), score=("score", "mean"), n_items=("n_items", "max"))
        s["std"] = g["score"].std(ddof=0)
        out.append(s.reset_index().assign(countries=label))
    cols = ["model", "wave", "countries", "n_countries", "score", "std", "n_items"]
    return pd.concat(out, ignore_index=True)[cols]


def plot(summary: pd.DataFrame, synthetic: bool, out: Path) -> list[Path]:
    labels = list(dict.fromkeys(summary["countries"]))
    fig, axes = grid(len(labels), 2, 4.6, 3.6, sharey=True)
    for ax, label in zip(axes, labels):
        d = summary[summary["countries"] == label]
        groups = list(d.groupby("model", sort=False))
        for i, (model, m) in enumerate(groups):
            ax.errorbar(m["wave"] + (i - (len(groups) - 1) / 2) * 0.035, m["score"], yerr=m["std"], marker="o", ms=4, capsize=2,
                        color=COLORS[i % 10], label=short_name(model), lw=1.2, elinewidth=0.8)
        n = d.groupby("wave")["n_countries"].max()
        ax.set_xticks(list(n.index), [f"Wave {w}\n({c} countries)" for w, c in n.items()])
        ax.set_title(f"countries surveyed in {label}", fontsize=9)
    axes[0].set_ylabel("alignment (mean ± std over countries)")
    title(fig, "RQ3: the same answers scored against WVS Waves 5, 6 and 7", synthetic)
    fig.tight_layout()
    legend_below(fig, axes[0], ncol=4)
    return save(fig, out, "rq3_temporal")


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__.splitlines()[0], human_default=None)
    ap.add_argument("--human", type=Path, nargs="+", default=[HUMAN_DIR / f"WV{w}.csv" for w in WAVES],
                    help="prepared tables of the waves (default dataset/human/WV5.csv WV6.csv WV7.csv); "
                         "the wave is read from each table's wave column")
    args = parse_args(ap, argv)
    mapping = load_wave_map()
    ids, orders = [w.id for w in mapping], [w.order for w in mapping]
    scorings = {}
    for path in args.human:
        sc = load_scoring(args, ids, orders, human_path=path)
        if sc.human.wave is None:
            raise UserError(f"{path} has no single wave in its wave column; prepare each wave separately")
        scorings[sc.human.wave] = sc
    answers = rq1_answers(args.results_root, ids, orders, args.models)
    answers = {m: a for m, a in answers.items() if np.isfinite(a).any()}
    df = country_rows(dict(sorted(scorings.items())), answers)
    summary = wave_summary(df)
    synthetic = any(sc.human.synthetic for sc in scorings.values())
    written = [write_csv(df, args.out, "rq3_country_scores.csv"), write_csv(summary, args.out, "rq3_temporal.csv")]
    written += plot(summary, synthetic, args.out)
    print(summary.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return report_written(written)


if __name__ == "__main__":
    sys.exit(run(main))
