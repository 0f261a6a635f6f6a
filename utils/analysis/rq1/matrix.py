"""Country-by-country alignment, models as extra rows and columns, each cell over the items both
answered; countries in average-linkage cluster order, so similar ones sit together. docs/analysis.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import squareform

from utils.analysis import metrics
from utils.analysis.answers import answer_policy, rq1_files
from utils.analysis.config import AnalysisConfig
from utils.analysis.coverage import Said
from utils.analysis.figures import rq1 as figures
from utils.analysis.options import option
from utils.analysis.paper.answers import first_rows
from utils.analysis.paper.notebooks import matrix
from utils.analysis.tables import Output, short_name, write_csv

# The 12-country selection of the study (WVS codes): US, Chile, Slovakia, Mongolia, Northern
# Ireland, Canada, China, Jordan, Bangladesh, Libya, Myanmar, Egypt.
COUNTRIES_12 = [840, 152, 703, 496, 909, 124, 156, 400, 50, 434, 104, 818]


@dataclass(frozen=True)
class MatrixOptions:
    countries: str = option(",".join(map(str, COUNTRIES_12)),
                            "WVS codes of the small version (default: the study's 12)")
    no_models: bool = option(False, "countries only (no RQ1 results needed)")


def pairwise(dists: np.ndarray, n_options: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """[L, I, K] distributions -> ([L, L] mean alignment, [L, L] number of items) over the items both have."""
    out, n = np.empty((len(dists), len(dists))), np.zeros((len(dists), len(dists)), dtype=int)
    for a in range(len(dists)):  # one row at a time keeps memory at L x I x K
        out[a], _, n[a] = metrics.summarize(metrics.similarity(dists[a][None], dists, n_options, metric))
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
    order = cluster_order(pairwise(sc.shares, sc.n_options, sc.metric)[0])
    models = list(answers)
    dists = np.concatenate([sc.shares[order]] + [sc.model(answers[m])[None] for m in models])
    labels = [h.country_names[i] for i in order] + [short_name(m) for m in models]
    m, n = pairwise(dists, sc.n_options, sc.metric)
    frames = []
    for values in (m, n):
        df = pd.DataFrame(values, columns=labels)
        df.insert(0, "kind", ["country"] * len(order) + ["model"] * len(models))
        df.insert(0, "country_code", pd.array([int(h.country_codes[i]) for i in order] + [None] * len(models),
                                              dtype="Int64"))
        df.insert(0, "label", labels)
        frames.append(df)
    return tuple(frames)


def human_alignment_matrix(config: AnalysisConfig, opts: MatrixOptions, said: Said) -> list[Path]:
    rules, policy, out = config.rules, answer_policy(config, said), config.output
    side = rules.human(config, policy)
    files = [] if opts.no_models else rq1_files(config.results_root, rules.models(config, "RQ1"), policy)
    codes = [int(c) for c in opts.countries.split(",") if c.strip()]
    if rules.paper:
        return notebook_matrix(side, files, codes, out, rules.digits)
    answers = rules.answers(side, files, policy)
    models = " and the models" if answers else ""
    small = side.__class__.build(side.human.select(codes), config.drop_nonsubstantive, side.metric)
    missing = sorted(set(codes) - set(map(int, small.human.country_codes)))
    if missing:
        policy.said.note(f"not in the human data, left out of the small matrix: {', '.join(map(str, missing))}")
    written = []
    for sc, stem in ((side, "human_alignment_matrix"), (small, f"human_alignment_matrix_{len(codes)}")):
        if len(sc.human.country_codes):  # the full side always has countries (load_scoring)
            scores, n_items = matrix_table(sc, answers)
            written += [write_csv(scores, out, f"{stem}.csv"), write_csv(n_items, out, f"{stem}_n_items.csv")]
            heading = f"Alignment between {len(sc.human.country_codes)} countries{models}"
            written += figures.matrix(scores, stem, heading, out)
    return written


def notebook_matrix(side, files, codes: list[int], out: Output, digits: int) -> list:
    """The notebooks' matrix of countries and models (first answer of an id, any type), in listed order."""
    human = side.human
    dists = {human.names[c]: {q: list(d.values()) for q, d in side.dists(c).items()} for c in human.country_codes}
    kinds = {k: "country" for k in dists}
    for f in files:  # labels as ours
        answers = first_rows(f.path, side.questions, any_type=True)
        dists[short_name(f.spec.model)] = {q: list(d.values()) for q, d in answers.items()}
        kinds[short_name(f.spec.model)] = "model"
    labels = list(dists)
    df = pd.DataFrame(matrix([dists[k] for k in labels]), columns=labels)
    df.insert(0, "kind", [kinds[k] for k in labels])
    df.insert(0, "label", labels)
    written = [write_csv(df, out, "human_alignment_matrix.csv", digits)]
    small = [human.names[c] for c in codes if c in human.names]
    if small:  # the study's 12 countries (--countries) and the models, as our small matrix
        keep = small + [k for k in labels if kinds[k] == "model"]
        part = df.set_index("label").loc[keep, ["kind", *keep]].reset_index()
        written.append(write_csv(part, out, f"human_alignment_matrix_{len(codes)}.csv", digits))
    return written
