"""A model's answers to the items, and why not: results files -> distributions in the
questionnaire's semantic order, each file's coverage tallied (`coverage.Coverage`).

Each item's newest row counts, placed by option code (a shuffled listing scores like any other).
Long form: docs/analysis.md, "How answers are read". The release's Korean (Q119, Q122-Q129) and
Chinese (Q119) questionnaires number options 1..N, not by WVS code, so a row whose `choice_keys`
are not the questionnaire's codes but as many is mapped by position, in listing order:

    >>> read_row({"id": "Q122", "choice_keys": "['1', '2', '3']",
    ...           "response": "{'1': '20%', '2': '30%', '3': '50%'}"}, ("2", "1", "0"))
    RowAnswer(distribution={'2': 0.2, '1': 0.3, '0': 0.5}, reason='ok', detail='', remapped=True)

Read by code, '3' would fall outside Q122's options and '1' (its first option, code 2) on code 1.
"""
from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from utils.analysis.coverage import DEFAULT_MIN, UNTRANSLATED, Coverage, Said
from utils.analysis.steering import release_translation_gaps
from utils.analysis.tables import short_name
from utils.core.errors import UserError
from utils.core.parsing import parse_distribution
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.results.table import missing_shards_line, option_keys, read_complete, status_of
from utils.core.results.tree import ResultsFile, find_results, one_per_condition

if TYPE_CHECKING:
    from utils.analysis.config import AnalysisConfig

log = logging.getLogger(__name__)
RUN_RQ1 = ("run code/RQ1/prob_by_llm.py or code/RQ1/prob_by_api.py first (or point --results-root at the paper's "
           "results)")


@dataclass
class AnswerPolicy:
    """What one analysis run accepts (coverage floor, probe method, `asked`: the items the human
    data has, None: all; the questionnaire folder for renumbered options) and what it found to say."""

    min_coverage: float = DEFAULT_MIN
    probe_method: str | None = None
    asked: frozenset[str] | None = None
    questions_dir: Path | None = None
    said: Said = field(default_factory=Said)


def answer_policy(config: AnalysisConfig, said: Said | None = None) -> AnswerPolicy:
    """The policy `config` asks for, saying what it finds to `said`; `load_scoring` adds its items."""
    if not 0 <= config.min_coverage <= 1:
        raise UserError(f"--min-coverage is a fraction between 0 and 1, not {config.min_coverage:g}")
    return AnswerPolicy(config.min_coverage, config.probe_method, None, config.questions_dir, said or Said())


@dataclass(frozen=True)
class RowAnswer:
    """`distribution` over the questionnaire's codes when `reason` is "ok"; else None and
    `reason` "unparsed" or "error", with `detail` (the parser's word or the row's error)."""

    distribution: dict[str, float] | None
    reason: str
    detail: str = ""
    remapped: bool = False

    @property
    def ok(self) -> bool:
        return self.reason == "ok"


def position_map(row_keys: Sequence[str], codes: Sequence[str] | None) -> dict[str, str] | None:
    """{row key: questionnaire code} when the row numbers the options differently but has as
    many, else None (same codes, any order, or a different count: read by code).

    ["1", "2", "3"], ("2", "1", "0") -> {"1": "2", "2": "1", "3": "0"}"""
    if not codes or set(row_keys) == set(codes) or len(row_keys) != len(codes) or len(set(row_keys)) != len(codes):
        return None
    return dict(zip(row_keys, codes))


def read_row(row: dict[str, str], codes: Sequence[str] | None = None, tolerance: float = 25.0) -> RowAnswer:
    """A row's answer, mapped by position onto `codes` (listing order) when its keys are renumbered."""
    keys = option_keys(row)
    mapping = position_map(keys, codes)
    if "distribution" in row and "status" in row:  # our files
        status = status_of(row)
        if status == "error":
            return RowAnswer(None, "error", ((row.get("error") or "").strip().splitlines() or ["error"])[0][:80])
        if status != "ok":
            parsed = parse_distribution(row.get("response") or "", keys, tolerance=tolerance) if keys else None
            return RowAnswer(None, "unparsed", parsed.status if parsed else "no_choice_keys")
        dist = _json_distribution(row.get("distribution") or "")
        if dist is None:
            return RowAnswer(None, "unparsed", "bad_distribution")
    else:  # the original release's files
        if not keys:
            return RowAnswer(None, "unparsed", "no_choice_keys")
        parsed = parse_distribution(row.get("response") or "", keys, tolerance=tolerance)
        if not parsed.ok:
            return RowAnswer(None, "unparsed", parsed.status)
        dist = parsed.distribution
    if mapping is not None:
        dist = {mapping.get(k, k): v for k, v in dist.items()}
    return RowAnswer(dist, "ok", "", mapping is not None)


def _json_distribution(text: str) -> dict[str, float] | None:
    try:
        obj = json.loads(text)
        dist = {str(k): float(v) for k, v in obj.items()} if isinstance(obj, dict) and obj else None
    except (ValueError, TypeError, AttributeError):
        return None
    return dist if dist and all(math.isfinite(v) and v >= 0 for v in dist.values()) and sum(dist.values()) > 0 else None


@lru_cache(maxsize=8)
def questionnaire_codes(questions_dir: Path | None = None) -> dict[str, tuple[str, ...]]:
    """item id -> the English questionnaire's `choice_keys` (listing order): what renumbered rows map onto."""
    return {it.id: it.choice_keys for it in load_questionnaire(questionnaire_path("English", questions_dir))}


def questionnaire_items(questions_dir: Path | None = None) -> tuple[list[str], list[tuple[str, ...]]]:
    """The questionnaire's ids and each item's options in semantic order."""
    items = load_questionnaire(questionnaire_path("English", questions_dir))
    return [it.id for it in items], [it.order for it in items]


def load_answers(path: Path, item_ids: list[str], orders: list[tuple[str, ...]],
                 policy: AnswerPolicy | None = None) -> np.ndarray:
    """[I, K] a model's distributions in semantic order, NaN rows for items not scored; its coverage
    goes to `policy.said`, and below `policy.min_coverage` it is a UserError. A missing shard is one
    note, its items absent."""
    policy = policy or AnswerPolicy()
    table = read_complete(path)
    if table.missing:
        policy.said.note(missing_shards_line(table))
    n_k = max(len(o) for o in orders)
    out = np.full((len(item_ids), n_k), np.nan)
    first = table.rows[0]
    method = first.get("method")
    cov = Coverage(f"{path}{f' [{method}]' if method else ''}", len(item_ids))
    try:  # renumbered rows map onto the questionnaire's listing of the same codes, else the analysis' order
        listed = questionnaire_codes(policy.questions_dir)
    except UserError:  # no questionnaire there
        listed = {}
    untranslated = ()  # asked the release's way in a language its translation lacks items of
    if first.get("protocol") == "release":
        untranslated = release_translation_gaps(first.get("steering_method", ""), first.get("country", ""))
    for i, (item, order) in enumerate(zip(item_ids, orders)):
        row = table.latest.get(item)
        codes = listed.get(item)
        ans = read_row(row, codes if codes and set(codes) == set(order) else order) if row is not None else None
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
    policy.said.coverage(cov)
    cov.check(policy.min_coverage, f" because {missing_shards_line(table)}" if table.missing else "")
    return out


def model_files(results_root: Path, experiment: str, models: str | None = None,
                policy: AnswerPolicy | None = None, groups: bool = False) -> list[ResultsFile]:
    """One results file per model and condition of `experiment`: group-steered runs only with `groups`,
    perturbed ones never. `models` "a,b", "all", or None: all but the `lone_models`, each in a note."""
    root = Path(results_root)
    if not root.is_dir():
        raise UserError(f"results root {root} not found; {RUN_RQ1}")
    files = [f for f in find_results(root)
             if f.spec.experiment == experiment and (groups or not f.spec.group) and not f.spec.prompt]
    files = one_per_condition(files, policy.probe_method if policy else None)
    if models:
        keep = wanted_models(models, {f.spec.model for f in files}, experiment, root)
        return [f for f in files if f.spec.model in keep]
    lone = lone_models(files)
    for model in lone:
        (f,) = [f for f in files if f.spec.model == model]
        where = ", ".join(x for x in (f.spec.condition, f.spec.country) if x)
        most = max(Counter(f.spec.model for f in files).values())
        (policy or AnswerPolicy()).said.note(
            f"{model} has a single {experiment} condition ({where}) where the other models have up to {most}; left "
            f"out of the tables, figures and averages (--models all, or --models {model}, includes it)")
    return [f for f in files if f.spec.model not in lone]


def wanted_models(models: str | None, found, what: str, where) -> set[str]:
    """The models among `found` that `--models` names: "a,b" by full or short name ("org/m" or "m"),
    "all" or None every one. A name matching none is a UserError: a typo must not shrink a table unsaid.

    >>> sorted(wanted_models("m1, all-mpnet", {"org/m1", "m2", "all-mpnet"}, "RQ1", "results"))
    ['all-mpnet', 'org/m1']
    """
    if not models or models.strip().lower() == "all":
        return set(found)
    wanted = [m.strip() for m in models.split(",") if m.strip()]
    names = {name for model in found for name in (model, short_name(model))}
    unknown = [m for m in wanted if m not in names]
    if unknown:
        raise UserError(f"no {what} results for model(s) {', '.join(unknown)} under {where}")
    return {model for model in found if model in wanted or short_name(model) in wanted}


def lone_models(files: list[ResultsFile]) -> list[str]:
    """Models with a single results file where some other model has several, such as the release's
    stray `RQ2/language_persona/Korea/gpt-4o`: it would be a one-cell panel and skew one AVG cell.

    >>> from utils.core.results.spec import Experiment, RunSpec
    >>> def f(method, country, model):
    ...     return ResultsFile(None, RunSpec(Experiment.RQ2, steering=method, country=country, model=model), None)
    >>> lone_models([f("persona", "Japan", "m1"), f("language", "Japan", "m1"), f("persona", "Korea", "m2")])
    ['m2']
    """
    per = Counter(f.spec.model for f in files)
    return sorted(m for m, n in per.items() if n == 1) if per and max(per.values()) > 1 else []


def rq1_files(results_root: Path, models: str | None, policy: AnswerPolicy | None = None) -> list[ResultsFile]:
    """Every RQ1 file `models` selects; none is a UserError saying how to get them."""
    files = model_files(results_root, "RQ1", models, policy)
    if not files:
        raise UserError(f"no RQ1 results (RQ1/<model>/results.csv) under {results_root}; {RUN_RQ1}")
    return files

