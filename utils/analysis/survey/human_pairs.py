"""How alike the people of an imported survey are (OpinionQA's representativeness): each group
against the others of its population and the whole, and the populations against each other. A model
that matches a group as well as its own population does is as representative as people are of each
other. Files: docs/surveys.md, "Scoring it".
"""
from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from utils.analysis.config import AnalysisConfig
from utils.analysis.coverage import Said
from utils.analysis.metrics import METRIC_LABELS
from utils.analysis.survey import item_scores
from utils.analysis.survey.survey_scores import CELL, Human, SurveyFiles, read_human
from utils.analysis.tables import write_csv, write_tables


def pair_score(human: Human, a, b) -> tuple[float, int]:
    """Mean similarity of cells `a` and `b` over the items both answered (NaN, 0 with none)."""
    items, policy = human.items, human.data.survey.policy
    sa, sb = human.shares[a], human.shares[b]
    scores = [item_scores.similarity(items[i], sa[i], sb[i], human.metric, policy) for i in sa if i in sb]
    scores = [s for s in scores if not np.isnan(s)]
    return (float(np.mean(scores)), len(scores)) if scores else (float("nan"), 0)


def cell_name(cell) -> str:
    population, var, group = cell
    return f"{var}={group}" if var else f"{population} (all)"


def survey_human_pairs(config: AnalysisConfig, options: SurveyFiles, said: Said) -> list[Path]:
    human = read_human(options)
    name = human.data.survey.name
    by_population: dict[str, list] = {}
    for cell in human.shares:
        by_population.setdefault(cell[0], []).append(cell)
    wholes = [c for c in human.shares if not c[1]]
    blocks = [(p, cells) for p, cells in by_population.items() if len(cells) > 1]
    if len(wholes) > 1:
        blocks.append(("populations", wholes))
    scores = {(a, b): pair_score(human, a, b) for _, cells in blocks for a, b in combinations(cells, 2)}
    rows = [{**{f"{k}_a": v for k, v in zip(CELL, a)}, **{f"{k}_b": v for k, v in zip(CELL, b)}, "score": score,
             "n_items": n} for (a, b), (score, n) in scores.items()]
    df = pd.DataFrame(rows, columns=[f"{k}_{s}" for s in "ab" for k in CELL] + ["score", "n_items"])
    df.insert(len(df.columns) - 2, "metric", human.metric)
    written = [write_csv(df, config.output, f"survey_{name}_human_pairs.csv")]
    tables = []
    for title, cells in blocks:
        square = pd.DataFrame(np.nan, index=[cell_name(c) for c in cells], columns=[cell_name(c) for c in cells])
        for a, b in combinations(cells, 2):
            square.loc[cell_name(a), cell_name(b)] = square.loc[cell_name(b), cell_name(a)] = scores[a, b][0]
        tables.append(square.round(3).rename_axis(title).reset_index())
    if tables:
        written += write_tables(pd.concat(tables, ignore_index=True), config.output, f"survey_{name}_human_pairs_table",
                                caption=f"{name}: people against people, {METRIC_LABELS[human.metric]}")[1:]
    said.line(f"{name}: {len(rows)} pairs of population cells compared, {METRIC_LABELS[human.metric]}")
    return written
