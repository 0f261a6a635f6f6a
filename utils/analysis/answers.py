"""Reading model answers for analysis, in the questionnaire's semantic order.

Model answers are re-read from the `response` column with each row's own `choice_keys` (this
works for our results and for the original release's, which have only `id, ..., response`) and
placed in the questionnaire's semantic order by option code, so a shuffled presentation order
(the `order` sensitivity variant) scores like any other.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from utils.core.errors import UserError
from utils.core.parsing import parse_distribution
from utils.core.paths import REPO_ROOT
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.result_layout import ResultFile, find_result_files, read_results
from utils.core.result_layout import option_keys as row_keys

log = logging.getLogger(__name__)
HUMAN_DIR = REPO_ROOT / "dataset" / "human"
FIGURES_DIR = REPO_ROOT / "figures"
RUN_RQ1 = "run code/RQ1/prob_by_llm.py or code/RQ1/prob_by_api.py first (or point --results-root at the paper's results)"




def questionnaire_items(questions_dir: Path | None = None) -> tuple[list[str], list[tuple[str, ...]]]:
    items = load_questionnaire(questionnaire_path("English", questions_dir))
    return [it.id for it in items], [it.order for it in items]


def load_answers(path: Path, item_ids: list[str], orders: list[tuple[str, ...]]) -> np.ndarray:
    """[I, K] a model's distributions in semantic order; NaN rows for unparsed or absent items."""
    n_k = max(len(o) for o in orders)
    out = np.full((len(item_ids), n_k), np.nan)
    where = {i: n for n, i in enumerate(item_ids)}
    for row in read_results(path):
        i = where.get(row.get("id", ""))
        keys = row_keys(row)
        if i is None or not keys:
            continue
        parsed = parse_distribution(row.get("response") or "", keys)
        if not parsed.ok:
            continue
        dist = parsed.distribution
        vec = np.array([dist.get(k, 0.0) for k in orders[i]])
        lost = sum(v for k, v in dist.items() if k not in orders[i])
        if lost > 1e-9:
            log.warning("%s: %s gives %.3f to codes outside the item's options; renormalized", path, item_ids[i], lost)
        if vec.sum() > 0:
            out[i] = 0.0
            out[i, :len(vec)] = vec / vec.sum()
    return out


def model_files(results_root: Path, experiment: str, models: str | None = None) -> list[ResultFile]:
    root = Path(results_root)
    if not root.is_dir():
        raise UserError(f"results root {root} not found; {RUN_RQ1}")
    files = [f for f in find_result_files(root) if f.experiment == experiment]
    if models:
        wanted = [m.strip() for m in models.split(",") if m.strip()]
        unknown = [m for m in wanted if m not in {f.model for f in files}]
        if unknown:
            raise UserError(f"no {experiment} results for model(s) {', '.join(unknown)} under {root}")
        files = [f for f in files if f.model in wanted]
    return files


def rq1_answers(results_root: Path, item_ids, orders, models: str | None = None) -> dict[str, np.ndarray]:
    files = model_files(results_root, "RQ1", models)
    if not files:
        raise UserError(f"no RQ1 results (RQ1/<model>/results.csv) under {results_root}; {RUN_RQ1}")
    return {f.model: load_answers(f.path, item_ids, orders) for f in files}


def short_name(model: str) -> str:
    """'meta-llama/Meta-Llama-3-70B-Instruct' -> 'Meta-Llama-3-70B-Instruct' for figure labels."""
    return model.rsplit("/", 1)[-1]
