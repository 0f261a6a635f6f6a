"""Reading model answers for analysis, in the questionnaire's semantic order.

Model answers come from each row's `distribution` column (our results, full precision) or are
re-parsed from `response` with the row's own `choice_keys` (the original release's, which have
only `id, ..., response`), and are placed in the questionnaire's semantic order by option code,
so a shuffled presentation order (the `order` sensitivity variant) scores like any other.
Options numbered 1..N instead of by code are mapped by position (`answer_rows`).
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np

from utils.analysis.answer_rows import listing, read_row
from utils.analysis.coverage import NOTES, UNTRANSLATED, AnswerPolicy, Coverage, check
from utils.core.errors import UserError
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.results.table import read_complete
from utils.core.results.tree import ResultsFile, find_results, one_per_condition

log = logging.getLogger(__name__)
RUN_RQ1 = "run code/RQ1/prob_by_llm.py or code/RQ1/prob_by_api.py first (or point --results-root at the paper's results)"




def questionnaire_items(questions_dir: Path | None = None) -> tuple[list[str], list[tuple[str, ...]]]:
    items = load_questionnaire(questionnaire_path("English", questions_dir))
    return [it.id for it in items], [it.order for it in items]


def load_answers(path: Path, item_ids: list[str], orders: list[tuple[str, ...]],
                 policy: AnswerPolicy | None = None) -> np.ndarray:
    """[I, K] a model's distributions in semantic order; NaN rows for items not scored.

    Each item's newest row is read (`answer_rows.read_row`: the `distribution` column where the
    file has one, else the parsed `response`; renumbered options mapped by position). The file's
    coverage is logged once and a file below `policy.min_coverage` is refused (`coverage.check`)."""
    policy = policy or AnswerPolicy()
    table = read_complete(path)
    latest = table.latest
    n_k = max(len(o) for o in orders)
    out = np.full((len(item_ids), n_k), np.nan)
    first = table.rows[0]
    method = first.get("method")
    cov = Coverage(f"{path}{f' [{method}]' if method else ''}", len(item_ids))
    untranslated = ()  # asked the release's way in a language its translation lacks items of
    if first.get("protocol") == "release":
        from utils.analysis.paper_compat import release_translation_gaps  # lazy: pandas and scipy

        untranslated = release_translation_gaps(first.get("steering_method", ""), first.get("country", ""))
    for i, (item, order) in enumerate(zip(item_ids, orders)):
        row = latest.get(item)
        ans = read_row(row, listing(item, order, policy.questions_dir)) if row is not None else None
        if ans is not None and ans.ok:
            vec = np.array([ans.distribution.get(k, 0.0) for k in order])
            lost = sum(v for k, v in ans.distribution.items() if k not in order)
            if lost > 1e-9:
                log.warning("%s: %s gives %.3f to codes outside the item's options; renormalized", path, item, lost)
            if vec.sum() > 0:
                out[i] = 0.0
                out[i, :len(vec)] = vec / vec.sum()
            if ans.remapped:
                cov.remapped.append(item)
        asked = policy.asked is None or item in policy.asked
        absent = UNTRANSLATED if item in untranslated else "absent"
        reason = "not asked" if not asked else absent if ans is None else \
            ("scored" if np.isfinite(out[i, 0]) else ans.reason if not ans.ok else "unparsed")
        cov.add(item, reason)
    check(cov, policy, Path(path))
    return out


def model_files(results_root: Path, experiment: str, models: str | None = None,
                policy: AnswerPolicy | None = None, groups: bool = False) -> list[ResultsFile]:
    """The results files of one experiment (one per model and condition). RQ2 runs steered toward
    a respondent group (`--group`) are left out unless `groups`, so every analysis of the paper's
    conditions reads exactly those; `rq2_steering.py --by` asks for them.

    models: "a,b" exactly those; "all" every model found; None (no `--models`) every model but
    one with a single condition where others have several (`lone_models`), which is named in a
    note and left out of the tables, figures and averages."""
    root = Path(results_root)
    if not root.is_dir():
        raise UserError(f"results root {root} not found; {RUN_RQ1}")
    # the prompt as it is: `--perturb` and `--repeats` runs are read by show_results/robustness.py
    files = [f for f in find_results(root)
             if f.spec.experiment == experiment and (groups or not f.spec.group) and not f.spec.prompt]
    files = one_per_condition(files, policy.probe_method if policy else None)
    if models and models.strip().lower() != "all":  # `--models all`: every model found
        wanted = [m.strip() for m in models.split(",") if m.strip()]
        unknown = [m for m in wanted if m not in {f.spec.model for f in files}]
        if unknown:
            raise UserError(f"no {experiment} results for model(s) {', '.join(unknown)} under {root}")
        files = [f for f in files if f.spec.model in wanted]
    elif not models:
        lone = lone_models(files)
        for model in lone:
            (f,) = [f for f in files if f.spec.model == model]
            NOTES.info("%s has a single %s condition (%s) where the other models have up to %d; left out of the "
                       "tables, figures and averages (--models all, or --models %s, includes it)", model, experiment,
                       ", ".join(x for x in (f.spec.condition, f.spec.country) if x), max(_per_model(files).values()),
                       model)
        files = [f for f in files if f.spec.model not in lone]
    return files


def _per_model(files: list[ResultsFile]) -> dict[str, int]:
    return dict(Counter(f.spec.model for f in files))


def lone_models(files: list[ResultsFile]) -> list[str]:
    """Models with a single condition (results file) where some other model has several: the
    paper's release holds one such, `RQ2/language_persona/Korea/gpt-4o`, which would otherwise
    be a one-cell panel, a table column and one AVG cell over eight models where all others are
    over seven. Where every model has one file (RQ1), none is.

    >>> from utils.core.results.spec import Experiment, RunSpec
    >>> from utils.core.results.tree import ResultsFile
    >>> def f(method, country, model):
    ...     return ResultsFile(None, RunSpec(Experiment.RQ2, steering=method, country=country, model=model), None)
    >>> lone_models([f("persona", "Japan", "m1"), f("language", "Japan", "m1"), f("persona", "Korea", "m2")])
    ['m2']
    """
    per = _per_model(files)
    return sorted(m for m, n in per.items() if n == 1) if per and max(per.values()) > 1 else []


def rq1_answers(results_root: Path, item_ids, orders, models: str | None = None,
                policy: AnswerPolicy | None = None) -> dict[str, np.ndarray]:
    """Each RQ1 model's answers; pass `coverage.answer_policy(config, sc)` for the script's flags."""
    policy = policy or AnswerPolicy()
    files = model_files(results_root, "RQ1", models, policy)
    if not files:
        raise UserError(f"no RQ1 results (RQ1/<model>/results.csv) under {results_root}; {RUN_RQ1}")
    return {f.spec.model: load_answers(f.path, item_ids, orders, policy) for f in files}


def short_name(model: str) -> str:
    """'meta-llama/Meta-Llama-3-70B-Instruct' -> 'Meta-Llama-3-70B-Instruct' for figure labels."""
    return model.rsplit("/", 1)[-1]
