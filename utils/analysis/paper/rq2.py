"""The arithmetic of the release's `show_results/rq2_results.py`, with its t-tests.

Per results file (No Steering is the model's RQ1 file, scored the same way):
* every `Opinion-Dependent` row adds its id to the item list, and its answer overwrites the
  earlier one: the LAST row of an id is scored, as many times as the id has rows;
* the options are the answer's keys in the answer's order, then the row's `choice_keys` the
  answer lacks, at 0. `{1: '60%', 2: '40%'}` with codes `['1', '2']` -> options `[1, 2, '1', '2']`
  and weights `[.6, .4, 0, 0]`: an integer key never equals a text code, so the item has 2N;
* the human share of each listed option is looked up by its integer value (so `1` and `'1'`
  both get code 1's count) and renormalized over the listed options;
* the support is 1..len(options);
* the country's five few-shot items are left out of all six conditions, No Steering included,
  each by removing its FIRST occurrence from the item list;
* a model's score is the mean item score rounded to 4 decimals; AVG is the mean of the models'
  rounded scores, rounded to 4 decimals.
Significance: `scipy.stats.ttest_ind` (Student's) of a condition's item scores against No
Steering's; AVG pools the item scores of all models (`significance.add_significance` under `PAPER`).
"""
from __future__ import annotations

import ast
import logging
from pathlib import Path

import numpy as np

from utils.analysis.paper.answers import OPINION, read_answer
from utils.analysis.paper.human import PaperHuman
from utils.analysis.paper.notebooks import item_score
from utils.core.errors import UserError
from utils.core.results.table import read_complete

log = logging.getLogger(__name__)
CAPTION = ("RQ2 alignment per steering method (paper-compat arithmetic; stars: Student's t-test against No "
           "Steering, * p<.05, ** p<.01, *** p<.001)")


def file_scores(path: Path, human: PaperHuman, country: int, skip, absent=()) -> list[float]:
    """The per-item scores `rq2_results.py` averages for one results file and country. `absent`:
    items the release's translation lacks (`steering.release_translation_gaps`): never scored,
    whichever protocol asked them, as the paper never had them."""
    q_list: list[str] = []
    answers: dict[str, tuple[list, list[float]]] = {}
    dropped = set()
    table = read_complete(path)
    for n, row in zip(table.lines, table.rows):
        if row.get("type", OPINION) != OPINION:
            continue
        q = row.get("id", "")
        if q in absent:
            dropped.add(q)
            continue
        where = f"{path}, line {n}"
        if not (row.get("response") or "").strip():  # a failed request (none in the release, where the
            log.warning("%s: no response; row left out", where)  # original code would stop)
            continue
        try:
            keys = ast.literal_eval(row.get("choice_keys") or "")
        except (ValueError, SyntaxError):
            raise UserError(f"{where}: choice_keys {row.get('choice_keys')!r} is not a list") from None
        q_list.append(q)
        dist = read_answer(row.get("response") or "", where)
        for k in keys:
            dist.setdefault(k, 0)
        answers[q] = (list(dist), list(dist.values()))
    if dropped:
        log.warning("%s: %d item(s) left out, not in the release's translation of this condition's "
                    "questionnaire (the paper never asked them): %s", path, len(dropped),
                    ", ".join(i for i in absent if i in dropped))
    for q in skip:
        if q in q_list:
            q_list.remove(q)
    human_shares = {}
    for q, (options, _) in answers.items():
        shares = human.shares(human.item(country, q), options, f"{path}: {q}")
        if shares is not None:
            human_shares[q] = shares
    return [item_score(np.arange(1, len(answers[q][1]) + 1), answers[q][1], human_shares[q])
            for q in q_list if q in answers and q in human_shares]
