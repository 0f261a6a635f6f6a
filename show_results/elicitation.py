"""Elicitation methods compared: per-item agreement, alignment and entropy by probe method.

    python show_results/elicitation.py --human dataset/human/WV7.csv \
        --compare results_logprob results_verbalized results_sample

For every model with RQ1 results under more than one probe method (logprob, verbalized, sample;
the `method` column of the rows, or verbalized for the original release's files), found under
`--compare`'s roots (or `--results-root` alone when one root holds every method's files), on the
items all of the model's methods answered (utils/analysis/elicitation.py):

- elicitation_items.csv: per item and pair of methods, the chosen metric between the two answers;
- elicitation_pairs.csv: its mean per pair, with a bootstrap 95% interval over items (no human
  answers in it, so `--bootstrap` leaves it as it is);
- elicitation_methods.csv: per method, the alignment with each country (mean over countries,
  bootstrap 95% interval resampling items, or with `--bootstrap respondents` also each country's
  answers to each item), the mean normalized entropy, and the uniform answer and the human answers
  (entropy) as references;
- elicitation.png/.pdf: one row of three panels per model.
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
from utils.analysis import elicitation, metrics, resample  # noqa: E402
from utils.analysis.answers import load_answers, short_name  # noqa: E402
from utils.analysis.coverage import answer_policy  # noqa: E402
from utils.analysis.flags import parse_args, parser, report_written, run  # noqa: E402
from utils.analysis.plotting import COLORS, Output, plt, save, title, write_csv  # noqa: E402
from utils.analysis.scoring import load_scoring  # noqa: E402
from utils.core.errors import UserError  # noqa: E402
from utils.core.paths import RESULTS_DIR  # noqa: E402


def method_color(method: str):
    known = list(elicitation.METHOD_ORDER)
    return COLORS[known.index(method) if method in known else 3 + hash(method) % 6]


def plot(items: pd.DataFrame, methods: pd.DataFrame, metric_label: str, synthetic: bool, out: Output) -> list[Path]:
    models = list(dict.fromkeys(methods["model"]))
    fig, axes = plt.subplots(len(models), 3, figsize=(11.5, 3.3 * len(models)), squeeze=False,
                             gridspec_kw={"width_ratios": [1.2, 1, 0.9]})
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
        ax_align.scatter(x, m["alignment"], color=[method_color(k) for k in m["method"]], s=40, zorder=3)
        base = methods[(methods["model"] == model) & (methods["kind"] == "baseline")]["alignment"].iloc[0]
        ax_align.axhline(base, color="0.4", ls=":", lw=1.2, label="uniform answer")
        ax_align.set_xticks(x, m["method"])
        ax_align.set_xlim(-0.6, len(m) - 0.4)
        ax_align.set_ylabel(f"alignment ({metric_label}):\nmean over countries, 95% CI")
        ax_align.legend(loc="lower right", fontsize=7)
        ax_ent.bar(x, m["entropy"], color=[method_color(k) for k in m["method"]], width=0.6)
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
    title(fig, f"Elicitation methods compared on the items all of a model's methods answered ({shown})", synthetic, out.metric)
    fig.tight_layout()
    return save(fig, out, "elicitation")


def build_parser() -> argparse.ArgumentParser:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--compare", type=Path, nargs="+", default=None, metavar="ROOT",
                    help="results roots to read together, e.g. one per probe method (default: --results-root)")
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the items (default 1000)")
    resample.add_argument(ap)
    return ap


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(build_parser(), argv)
    roots = list(cfg.extra["compare"] or [])
    if not roots or cfg.results_root != RESULTS_DIR:
        roots.insert(0, cfg.results_root)
    runs, notes = elicitation.find_runs(list(dict.fromkeys(roots)), cfg.models)
    for note in notes:
        print(f"note: {note}")
    if not runs:
        raise UserError(f"no model has RQ1 results under more than one probe method in {', '.join(map(str, roots))}; "
                        "run code/RQ1/prob_by_llm.py with --method logprob, verbalized and sample "
                        "(each into its own --results-root) and pass them with --compare")
    sc = load_scoring(cfg)
    ids, orders = list(sc.human.item_ids), list(sc.human.orders)
    policy = answer_policy(cfg, sc)
    policy.probe_method = None  # every method is read here
    parts = []
    for r in runs:
        answers = {m: load_answers(p, ids, orders, policy) for m, p in r.paths.items()}
        for m in [m for m, a in answers.items() if not np.isfinite(a).all(-1).any()]:
            print(f"note: {r.model}: no {m} answer could be read (see the coverage line); {m} is left out")
            del answers[m]
        common = np.all([np.isfinite(a).all(-1) for a in answers.values()], axis=0).sum() if answers else 0
        if len(answers) < 2 or common == 0:
            print(f"note: {r.model}: fewer than two methods with answers to the same items; left out")
            continue
        parts.append(elicitation.compare(sc, r.model, answers, cfg.extra["n_boot"], cfg.seed,
                                         cfg.extra["bootstrap"]))
    if not parts:
        raise UserError("the methods of no model answered the same items; check the runs' coverage lines")
    items, pairs, methods = (pd.concat(p, ignore_index=True) for p in zip(*parts))
    label = metrics.METRIC_LABELS[cfg.metric]
    written = [write_csv(items, cfg.output, "elicitation_items.csv"), write_csv(pairs, cfg.output, "elicitation_pairs.csv"),
               write_csv(methods, cfg.output, "elicitation_methods.csv")]
    written += plot(items, methods, label, sc.human.synthetic, cfg.output)
    print(pairs.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print(methods.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return report_written(written)


if __name__ == "__main__":
    sys.exit(run(main))
