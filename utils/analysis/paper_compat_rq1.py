"""`--paper-compat` for RQ1 and everything scored like it (the release's notebooks).

Rules (the notebooks' `alignment_score` and its helpers):
* a model's answer to an item is the FIRST row of that id among the `Opinion-Dependent` rows;
* the human side is keyed by the item's codes (`choice_keys`), counted unweighted;
* an item is skipped when the answer has a different number of keys from the item's options;
* the support is each side's keys sorted as Python sorts them (`'0' < '1' < '10' < '2'` for
  strings), taken as numbers from the FIRST argument; the second side's values are paired by
  that sorted position. For the usual string keys this is the codes sorted, so Q119's `0` comes
  first; an answer with integer keys is sorted numerically while the codes stay sorted as text;
* a country's score is the mean over items rounded to 4 decimals, its std likewise.

Example: codes `['2', '1', '0']` answered `{'2': '50%', '1': '50%', '0': '0%'}` with humans
`{'2': 1.0, '1': 0, '0': 0}` -> support `[0, 1, 2]`, weights `[0, .5, .5]` and `[0, 0, 1]`,
W1 = 0.5, score `1 - 0.5 / 2 = 0.75`.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from utils.analysis.paper_compat import OPINION, PaperHuman, item_score, read_answer
from utils.core.errors import UserError
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.results.table import read_complete
from utils.core.results.tree import ResultsFile

log = logging.getLogger(__name__)
# left out of the model-level notebook's pooled score and per-country figure (Japan's few-shot items)
MODEL_LEVEL_SKIP = ("Q60", "Q70", "Q90", "Q110", "Q130")


def rq1_questions(questions_dir: Path | None = None, rq1_files: list[ResultsFile] = ()) -> dict[str, list[str]]:
    """id -> choice_keys of the opinion-dependent items. The notebooks take them from gpt-4's RQ1
    file, in its row order (which decides the consistency figure's item); we use that file's
    order when it is among `rq1_files` and the questionnaire's otherwise."""
    items = load_questionnaire(questionnaire_path("English", questions_dir))
    keys = {it.id: list(it.choice_keys) for it in items if it.type in ("", OPINION)}
    ref = next((f for f in rq1_files if f.spec.model == "gpt-4"), None)
    if ref is None:
        return keys
    order = [r.get("id", "") for r in read_complete(ref.path).rows if r.get("type", OPINION) == OPINION]
    first = list(dict.fromkeys(i for i in order if i in keys))
    return {i: keys[i] for i in first + [i for i in keys if i not in first]}


def first_answers(path: Path, ids, skip=()) -> dict[str, dict]:
    """id -> the first opinion-dependent row's answer, for `ids` not in `skip`. When that row has
    an empty response (a failed request in our results; the release's files have none, and the
    original code would stop on it) the item is left out."""
    out: dict[str, dict] = {}
    wanted, seen = set(ids) - set(skip), set()
    table = read_complete(path)
    for n, row in zip(table.lines, table.rows):
        q = row.get("id", "")
        if q not in wanted or q in seen or row.get("type", OPINION) != OPINION:
            continue
        seen.add(q)
        if not (row.get("response") or "").strip():
            log.warning("%s: %s has no response; left out", path, q)
            continue
        out[q] = read_answer(row["response"], f"{path}, line {n}")
    return out


def human_dists(human: PaperHuman, questions: dict[str, list[str]], country: int | None) -> dict[str, dict]:
    """id -> {code: share} for one country (None: all countries pooled); items nobody answered left out."""
    out = {}
    for q, keys in questions.items():
        counts = human.pooled(q) if country is None else human.item(country, q)
        shares = human.shares(counts, keys, q)
        if shares is not None:
            out[q] = dict(zip(keys, shares))
    return out


def item_scores(d1: dict, d2: dict, ids) -> list[float]:
    """The notebooks' per-item scores of `d1` against `d2` (support from `d1`'s sorted keys)."""
    scores = []
    for q in ids:
        if q not in d1 or q not in d2 or len(d1[q]) != len(d2[q]):
            continue
        try:
            s1, s2 = sorted(d1[q].items()), sorted(d2[q].items())
        except TypeError:
            raise UserError(f"{q}: an answer mixes integer and text keys; the original code stops on it") from None
        scores.append(item_score([int(k) for k, _ in s1], [v for _, v in s1], [v for _, v in s2]))
    return scores


def mean_std(scores: list[float]) -> tuple[float, float]:
    if not scores:
        return math.nan, math.nan
    return float(np.round(np.mean(scores), 4)), float(np.round(np.std(scores), 4))


def country_scores(answers: dict[str, dict], human: PaperHuman, questions: dict[str, list[str]],
                   countries=None) -> pd.DataFrame:
    """model, country_code, country, score, std, n_items: the country-level notebook per model."""
    rows = []
    per_country = {c: human_dists(human, questions, c) for c in (countries or human.country_codes)}
    for model, ans in answers.items():
        for c, hum in per_country.items():
            if not hum:
                continue
            s = item_scores(ans, hum, questions)
            if s:
                mean, std = mean_std(s)
                rows.append({"model": model, "country_code": c, "country": human.names.get(c, str(c)),
                             "score": mean, "std": std, "n_items": len(s)})
    return pd.DataFrame(rows, columns=["model", "country_code", "country", "score", "std", "n_items"])


def rq1_answers_paper(files: list[ResultsFile], questions: dict[str, list[str]], skip=()) -> dict[str, dict]:
    return {f.spec.model: first_answers(f.path, questions, skip) for f in files}


def normalized_entropy(dist: dict) -> float:
    """The notebook's `shannon_entropy(p, 2) / log2(len(p))`: zeros dropped, renormalized if off 1."""
    probs = [float(p) for p in dist.values() if p > 0]
    s = sum(probs)
    if not math.isclose(s, 1.0, rel_tol=1e-9, abs_tol=1e-12):
        probs = [p / s for p in probs]
    return -sum(p * math.log2(p) for p in probs) / math.log(len(dist), 2)  # noqa: FURB163 - as the notebook


def notebook_consistency(dists: dict[str, dict], questions) -> float:
    """The llms-level notebook's "consistency" (`inconsistency_score`): its loop appends after the
    loop ends, so it is the normalized entropy of the LAST item (in `questions`' order) that `dists`
    has, rounded to 4 decimals; not a consistency across items. The notebook computes it for each
    model (Q60, Q70, Q90, Q110, Q130 left out) and for all countries' people pooled (every item;
    it prints 0.9449 on the WVS data). `{'Q1': {'1': 1.0, '2': 0.0}, 'Q2': {'1': .5, '2': .5}}` -> 1.0."""
    last = [q for q in questions if q in dists]
    return float(np.round(normalized_entropy(dists[last[-1]]), 4)) if last else math.nan


def model_level(answers: dict[str, dict], human: PaperHuman, questions: dict[str, list[str]]) -> tuple[pd.DataFrame,
                                                                                                        pd.DataFrame]:
    """The model-level notebook: per model the score against all countries pooled (human side
    first, so the support comes from the codes), the largest and smallest item score's distance
    from it, the 'consistency' (the notebook appends only the LAST item's normalized entropy, so
    that is what it reports), and the mean of the rounded per-country scores; Q60, Q70, Q90, Q110
    and Q130 left out throughout. `people_consistency`: the same figure for all countries' people
    pooled, every item kept, as the notebook computes it. Returns (summary, per-country scores)."""
    pooled = human_dists(human, questions, None)
    summary, per_country = [], []
    for model, full in answers.items():
        ans = {q: d for q, d in full.items() if q not in MODEL_LEVEL_SKIP}
        s = item_scores(pooled, ans, questions)
        score = float(np.round(np.mean(s), 4)) if s else math.nan
        hi, lo = (float(np.round(np.max(s), 4)), float(np.round(np.min(s), 4))) if s else (math.nan, math.nan)
        consistency = notebook_consistency(ans, questions)
        countries = country_scores({model: ans}, human, questions)
        per_country.append(countries)
        summary.append({"model": model, "pooled_score": score, "max_minus_score": float(np.round(hi - score, 4)),
                        "score_minus_min": float(np.round(score - lo, 4)), "consistency": consistency,
                        "mean_country_score": float(countries["score"].mean()) if len(countries) else math.nan,
                        "n_countries": len(countries), "n_items": len(s)})
    summary = pd.DataFrame(summary)
    summary["people_consistency"] = notebook_consistency(pooled, questions)  # the people's, beside the models'
    return summary, pd.concat(per_country, ignore_index=True)


def matrix_dists_human(human: PaperHuman, questions: dict[str, list[str]], country: int) -> dict[str, list[float]]:
    """The human-alignment notebook's country side: shares in the codes' listed order."""
    out = {}
    for q, keys in questions.items():
        shares = human.shares(human.item(country, q), keys, q)
        if shares is not None:
            out[q] = shares
    return out


def matrix_dists_model(path: Path, questions: dict[str, list[str]]) -> dict[str, list[float]]:
    """The notebook's model side: the first row of each id (any type), values in the answer's order."""
    return {q: list(d.values()) for q, d in first_answers_any_type(path, questions).items()}


def first_answers_any_type(path: Path, ids) -> dict[str, dict]:
    out: dict[str, dict] = {}
    table = read_complete(path)
    for n, row in zip(table.lines, table.rows):
        q = row.get("id", "")
        if q in ids and q not in out and (row.get("response") or "").strip():
            out[q] = read_answer(row["response"], f"{path}, line {n}")
    return out


def matrix_score(a: dict[str, list[float]], b: dict[str, list[float]]) -> float:
    """Mean over the shared items of the score with support 1..N (values in listed order), rounded."""
    common = sorted(set(a) & set(b))
    s = [item_score(np.arange(1, len(a[q]) + 1), a[q], b[q]) for q in common if len(a[q]) == len(b[q])]
    return float(np.round(np.mean(s), 4)) if s else math.nan


def matrix(dists: list[dict[str, list[float]]]) -> np.ndarray:
    """`matrix_score` for every pair at once: on the support 1..N, W1 is the summed absolute
    difference of the two cumulative shares, the same number scipy computes (to ~1e-16), here
    for all pairs and items in one array operation ([L, L] from L labels)."""
    items = sorted({q for d in dists for q in d})
    k = max((len(v) for d in dists for v in d.values()), default=1)
    cdf = np.full((len(dists), len(items), k), np.nan)
    size = np.zeros((len(dists), len(items)), dtype=int)
    for li, d in enumerate(dists):
        for qi, q in enumerate(items):
            if q in d:
                v = np.asarray(d[q], float)
                cdf[li, qi, :len(v)] = np.cumsum(v / v.sum())
                size[li, qi] = len(v)
    out = np.full((len(dists), len(dists)), np.nan)
    for li in range(len(dists)):
        same = (size[li][None] == size) & (size[li][None] > 0)  # [L, I]
        steps = np.arange(k)[None, None] < (size[li] - 1)[None, :, None]  # [1, I, K]: the N - 1 gaps
        w1 = np.nansum(np.where(steps, np.abs(cdf[li][None] - cdf), 0.0), -1)
        score = np.where(same, 1 - w1 / np.maximum(size[li] - 1, 1)[None], 0.0)
        n = same.sum(-1)
        out[li] = np.round(np.where(n > 0, score.sum(-1) / np.maximum(n, 1), np.nan), 4)
    return out
