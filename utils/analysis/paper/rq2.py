"""The arithmetic of the release's `show_results/rq2_results.py`, per results file (No Steering is
the RQ1 file); its t-tests are `significance.add_significance` under `PAPER`. docs/paper-compat.md.

* an id's LAST `Opinion-Dependent` row is scored, as many times as the id has rows;
* the options are the answer's keys in its order, then the `choice_keys` it lacks at 0:
  `{1: '60%', 2: '40%'}` with codes `['1', '2']` -> `[1, 2, '1', '2']`, weights `[.6, .4, 0, 0]`
  (an integer key never equals a text code); support 1..len(options);
* human shares are looked up by integer value (`1` and `'1'` both get code 1's) and renormalized;
* the five few-shot items leave all six conditions, each by removing its FIRST occurrence;
* a model's score is its mean item score rounded to 4 decimals, AVG the rounded mean of those.
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
    """The item scores `rq2_results.py` averages for one file and country; `absent` items (not in the
    release's translation) are never scored, whichever protocol asked them: the paper never had them."""
    q_list: list[str] = []
    answers: dict[str, dict] = {}
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
        answers[q] = dist | {k: 0 for k in keys if k not in dist}
    if dropped:
        log.warning("%s: %d item(s) left out, not in the release's translation of this condition's "
                    "questionnaire (the paper never asked them): %s", path, len(dropped),
                    ", ".join(i for i in absent if i in dropped))
    for q in skip:
        if q in q_list:
            q_list.remove(q)
    human_shares = {q: human.shares(human.item(country, q), list(d), f"{path}: {q}") for q, d in answers.items()}
    return [item_score(np.arange(1, len(answers[q]) + 1), list(answers[q].values()), human_shares[q])
            for q in q_list if human_shares[q] is not None]
