"""`show_results/internal_consistency.py --paper-compat`: the notebook's "consistency", which is
not the internal consistency of `consistency.py` but the normalized entropy of one item.

The release's llms-level notebook prints a per-model "consistency" and one for the people of all
countries pooled (0.9449 on the WVS data). Its `inconsistency_score` appends to its list after the
loop over items, so only the LAST item's normalized entropy (`entropy / log2 N`, zeros dropped)
counts: the last opinion-dependent item in gpt-4's RQ1 file order that the model answered (Q60,
Q70, Q90, Q110, Q130 left out for models) or, for the people, that anyone answered. We reproduce
it as written and name the item it rests on.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from utils.analysis.answers import model_files
from utils.analysis.config import AnalysisConfig
from utils.analysis.paper_compat import load_paper_human
from utils.analysis.paper_compat_rq1 import (
    MODEL_LEVEL_SKIP,
    human_dists,
    notebook_consistency,
    rq1_answers_paper,
    rq1_questions,
)
from utils.analysis.paper_models import paper_models
from utils.analysis.plotting import write_csv
from utils.core.errors import UserError

WHAT = "normalized entropy of the last item only (the notebook's 'consistency', as written)"


def notebook_table(answers: dict[str, dict], pooled: dict[str, dict], questions) -> pd.DataFrame:
    """kind, model, item, consistency: one row per model, then the people pooled."""
    rows = []
    for label, kind, dists in [(m, "model", a) for m, a in answers.items()] + \
            [("people (all countries pooled)", "people", pooled)]:
        last = [q for q in questions if q in dists]
        rows.append({"kind": kind, "model": label, "item": last[-1] if last else "",
                     "consistency": notebook_consistency(dists, questions), "what": WHAT})
    return pd.DataFrame(rows, columns=["kind", "model", "item", "consistency", "what"])


def internal_consistency(config: AnalysisConfig) -> list[Path]:
    human = load_paper_human(config.human)
    files = model_files(config.results_root, "RQ1", paper_models(config.models, config.results_root, "RQ1"))
    if not files:
        raise UserError(f"no RQ1 results (RQ1/<model>/results.csv) under {config.results_root}; run "
                        "code/RQ1/prob_by_llm.py or code/RQ1/prob_by_api.py first")
    questions = rq1_questions(config.questions_dir, model_files(config.results_root, "RQ1"))
    df = notebook_table(rq1_answers_paper(files, questions, MODEL_LEVEL_SKIP),
                        human_dists(human, questions, None), questions)
    for r in df.itertuples():
        print(f"{r.model:45s} consistency {r.consistency:.4f} (last item {r.item}; paper-compat)")
    return [write_csv(df, config.output, "internal_consistency_paper_compat.csv", None)]
