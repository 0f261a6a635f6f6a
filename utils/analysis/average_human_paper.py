"""`--paper-compat` scores for `average_human`: the release's notebook arithmetic
(`paper_compat_rq1`) for both sides of the comparison.

model_score: the country-level notebook's score of the model against the country (first row of
each id, support from the sorted codes, mean rounded to 4 decimals). human_score: the same
arithmetic with all countries' unweighted counts pooled in place of the model (the pooled side
first, as the model-level notebook puts the human side first), rounded likewise. The release has
no code for this figure; these are its rules applied to it.
"""
from __future__ import annotations

import pandas as pd

from utils.analysis.answers import RUN_RQ1, model_files
from utils.analysis.paper_compat import PaperHuman, load_paper_human
from utils.analysis.paper_compat_rq1 import (
    country_scores,
    human_dists,
    item_scores,
    mean_std,
    rq1_answers_paper,
    rq1_questions,
)
from utils.core.errors import UserError


def human_against_average(human: PaperHuman, questions: dict[str, list[str]]) -> pd.DataFrame:
    """country_code, human_score, human_n_items: each country against all countries pooled."""
    pooled = human_dists(human, questions, None)
    rows = []
    for c in human.country_codes:
        s = item_scores(pooled, human_dists(human, questions, c), questions)
        if s:
            rows.append({"country_code": c, "human_score": mean_std(s)[0], "human_n_items": len(s)})
    return pd.DataFrame(rows, columns=["country_code", "human_score", "human_n_items"])


def paper_scores(args, human_path=None) -> tuple[pd.DataFrame, bool]:
    """model, country_code, country, model_score, human_score, n_items under --paper-compat."""
    human = load_paper_human(human_path or args.human)
    files = model_files(args.results_root, "RQ1", args.models)
    if not files:
        raise UserError(f"no RQ1 results (RQ1/<model>/results.csv) under {args.results_root}; {RUN_RQ1}")
    questions = rq1_questions(args.questions_dir, model_files(args.results_root, "RQ1"))
    models = country_scores(rq1_answers_paper(files, questions), human, questions)
    df = models.rename(columns={"score": "model_score"}).merge(human_against_average(human, questions),
                                                               on="country_code", how="inner")
    return df[["model", "country_code", "country", "model_score", "human_score", "n_items"]], human.synthetic
