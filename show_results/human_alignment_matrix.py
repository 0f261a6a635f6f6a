"""Country-by-country alignment, with the models as extra rows and columns.

    python show_results/human_alignment_matrix.py --human dataset/human/WV7.csv --results-root results

Cell (a, b) is the alignment score of a's and b's answer distributions averaged over the items
both answered (the metric is symmetric). Countries are ordered by average-linkage clustering on
1 - score, so similar countries sit together; models follow after a line. Writes
human_alignment_matrix.csv (all countries) and human_alignment_matrix_12.csv (12 countries,
--countries to choose others), wide with a `label` and a `kind` column, and a heatmap of each
(its diagonal, each with itself, left blank; the CSV keeps it). Each has a `_n_items.csv` twin in
the same layout giving the number of items behind every cell: a model is compared with a country
or another model on exactly the items both answered.
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
from scipy.cluster.hierarchy import leaves_list, linkage  # noqa: E402
from scipy.spatial.distance import squareform  # noqa: E402
from utils.analysis import metrics, paper_compat_scripts  # noqa: E402
from utils.analysis.answers import rq1_answers, short_name  # noqa: E402
from utils.analysis.coverage import answer_policy  # noqa: E402
from utils.analysis.flags import parse_args, parser, report_written, run  # noqa: E402
from utils.analysis.plotting import Output, heatmap, plt, save, title, write_csv  # noqa: E402
from utils.analysis.scoring import load_scoring  # noqa: E402

# The 12-country selection of the study (WVS codes): US, Chile, Slovakia, Mongolia, Northern
# Ireland, Canada, China, Jordan, Bangladesh, Libya, Myanmar, Egypt.
COUNTRIES_12 = [840, 152, 703, 496, 909, 124, 156, 400, 50, 434, 104, 818]


def pairwise(dists: np.ndarray, n_options: np.ndarray, metric: str = "w1") -> np.ndarray:
    """[L, I, K] distributions -> [L, L] mean alignment over the items both sides have."""
    return pairwise_counts(dists, n_options, metric)[0]


def pairwise_counts(dists: np.ndarray, n_options: np.ndarray, metric: str = "w1") -> tuple[np.ndarray, np.ndarray]:
    """([L, L] mean alignment, [L, L] number of items) over the items both sides have."""
    out, n = np.empty((len(dists), len(dists))), np.zeros((len(dists), len(dists)), dtype=int)
    for a in range(len(dists)):  # one row at a time keeps memory at L x I x K
        s = metrics.similarity(dists[a][None], dists, n_options, metric)
        out[a], n[a] = metrics.summarize(s)[0], metrics.summarize(s)[2]
    return out, n


def cluster_order(m: np.ndarray) -> np.ndarray:
    if len(m) < 3:
        return np.arange(len(m))
    d = 1 - np.nan_to_num(m, nan=np.nanmin(m))
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0)
    return leaves_list(linkage(squareform(np.clip(d, 0, None), checks=False), "average"))


def matrix_table(sc, answers: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores, items behind each score), both wide: label, country_code, kind, one column per label."""
    h = sc.human
    order = cluster_order(pairwise(sc.shares, sc.n_options, sc.metric))
    models = list(answers)
    dists = np.concatenate([sc.shares[order], np.stack([sc.model(answers[m]) for m in models])]) if models \
        else sc.shares[order]
    labels = [h.country_names[i] for i in order] + [short_name(m) for m in models]
    m, n = pairwise_counts(dists, sc.n_options, sc.metric)
    frames = []
    for values in (m, n):
        df = pd.DataFrame(values, columns=labels)
        df.insert(0, "kind", ["country"] * len(order) + ["model"] * len(models))
        df.insert(0, "country_code", pd.array([int(h.country_codes[i]) for i in order] + [None] * len(models),
                                              dtype="Int64"))
        df.insert(0, "label", labels)
        frames.append(df)
    return frames[0], frames[1]


def plot(df: pd.DataFrame, stem: str, heading: str, synthetic: bool, out: Output) -> list[Path]:
    labels = df["label"].tolist()
    m = df[labels].to_numpy(dtype=float, copy=True)
    n = len(labels)
    small = n <= 24
    size = max(6.0, 0.42 * n) if small else max(8.0, 0.17 * n + 2)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    m[np.eye(n, dtype=bool)] = np.nan  # each with itself (1.000) says nothing and sits off the scale: blank
    im = heatmap(ax, m, labels, labels, vmin=np.nanmin(m), vmax=np.nanmax(m), annotate=small,
                 fontsize=8)  # 0.17 inch a row leaves room for 8 pt labels; the report shows it full size
    n_c = int((df["kind"] == "country").sum())
    if n_c < n:
        for f in (ax.axhline, ax.axvline):
            f(n_c - 0.5, color="white", lw=2)
    fig.colorbar(im, ax=ax, fraction=0.035, pad=0.02, label="alignment score (mean over items)")
    title(fig, heading, synthetic, out.metric)
    fig.tight_layout()
    return save(fig, out, stem)


def build_parser() -> argparse.ArgumentParser:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--countries", default=",".join(map(str, COUNTRIES_12)),
                    help="WVS codes of the small version (default: the study's 12)")
    ap.add_argument("--no-models", action="store_true", help="countries only (no RQ1 results needed)")
    return ap


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(build_parser(), argv)
    if cfg.paper_compat:  # the original arithmetic (README: --paper-compat)
        return report_written(paper_compat_scripts.human_alignment_matrix(
            cfg, cfg.extra["countries"], cfg.extra["no_models"]))
    sc = load_scoring(cfg)
    answers = {} if cfg.extra["no_models"] else rq1_answers(cfg.results_root, list(sc.human.item_ids),
                                                    list(sc.human.orders), cfg.models, answer_policy(cfg, sc))
    written = []
    full, full_n = matrix_table(sc, answers)
    written.append(write_csv(full, cfg.output, "human_alignment_matrix.csv"))
    written.append(write_csv(full_n, cfg.output, "human_alignment_matrix_n_items.csv"))
    written += plot(full, "human_alignment_matrix", f"Alignment between {len(sc.human.country_codes)} countries"
                    f"{' and the models' if answers else ''}", sc.human.synthetic, cfg.output)
    codes = [int(c) for c in cfg.extra["countries"].split(",") if c.strip()]
    small = sc.__class__.build(sc.human.select(codes), cfg.drop_nonsubstantive, sc.metric)
    missing = sorted(set(codes) - set(map(int, small.human.country_codes)))
    if missing:
        print(f"note: not in the human data, left out of the small matrix: {', '.join(map(str, missing))}")
    if len(small.human.country_codes):
        part, part_n = matrix_table(small, answers)
        written.append(write_csv(part, cfg.output, f"human_alignment_matrix_{len(codes)}.csv"))
        written.append(write_csv(part_n, cfg.output, f"human_alignment_matrix_{len(codes)}_n_items.csv"))
        written += plot(part, f"human_alignment_matrix_{len(codes)}",
                        f"Alignment between {len(small.human.country_codes)} countries"
                        f"{' and the models' if answers else ''}", sc.human.synthetic, cfg.output)
    return report_written(written)


if __name__ == "__main__":
    sys.exit(run(main))
