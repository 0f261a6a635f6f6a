"""`--paper-compat` scores for `average_human`: the release's notebook arithmetic
(`paper_compat_rq1`) for both sides of the comparison.

model_score: the country-level notebook's score of the model against the country (first row of
each id, support from the sorted codes, mean rounded to 4 decimals). human_score: the same
arithmetic with all countries' unweighted counts pooled in place of the model (the pooled side
first, as the model-level notebook puts the human side first), rounded likewise, on the same items
as the model's score for that country. The release has no code for this figure; these are its
rules applied to it, and the rule of the default analysis that both scores use the same items.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from utils.analysis.answers import RUN_RQ1, model_files
from utils.analysis.config import AnalysisConfig
from utils.analysis.paper_compat import PaperHuman, load_paper_human
from utils.analysis.paper_compat_rq1 import (
    human_dists,
    item_scores,
    mean_std,
    rq1_answers_paper,
    rq1_questions,
)
from utils.core.errors import UserError


def paper_scores(config: AnalysisConfig, human_path: Path | None = None) -> tuple[pd.DataFrame, bool]:
    """model, country_code, country, model_score, human_score, n_items under --paper-compat."""
    human = load_paper_human(human_path or config.human)
    files = model_files(config.results_root, "RQ1", config.models)
    if not files:
        raise UserError(f"no RQ1 results (RQ1/<model>/results.csv) under {config.results_root}; {RUN_RQ1}")
    questions = rq1_questions(config.questions_dir, model_files(config.results_root, "RQ1"))
    return against_average(rq1_answers_paper(files, questions), human, questions), human.synthetic


def against_average(answers: dict[str, dict], human: PaperHuman, questions: dict[str, list[str]]) -> pd.DataFrame:
    """Per model and country both scores on the items the notebook scores the model on there (it
    answered them with as many options as the item has), so the two differ only in who answers."""
    pooled = human_dists(human, questions, None)
    per_country = {c: human_dists(human, questions, c) for c in human.country_codes}
    rows = []
    for model, ans in answers.items():
        for c, hum in per_country.items():
            both = [q for q in questions if q in ans and q in hum and len(ans[q]) == len(hum[q])]
            if both:
                rows.append({"model": model, "country_code": c, "country": human.names.get(c, str(c)),
                             "model_score": mean_std(item_scores(ans, hum, both))[0],
                             "human_score": mean_std(item_scores(pooled, hum, both))[0], "n_items": len(both)})
    return pd.DataFrame(rows, columns=["model", "country_code", "country", "model_score", "human_score", "n_items"])
