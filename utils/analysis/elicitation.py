"""Comparing probe methods (`verbalized`, `logprob`, `sample`) on the items all of a model's methods
answered, so no method is helped or hurt by answering others. docs/analysis.md, "Elicitation methods
compared".
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from utils.analysis import metrics, resample
from utils.analysis.answers import answer_policy, load_answers, wanted_models
from utils.analysis.config import AnalysisConfig
from utils.analysis.coverage import Said
from utils.analysis.figures import discussion as figures
from utils.analysis.metrics import quiet_nan_warnings
from utils.analysis.options import option
from utils.analysis.scoring import load_scoring
from utils.analysis.tables import write_csv
from utils.core.errors import UserError
from utils.core.paths import RESULTS_DIR
from utils.core.results.tree import find_results

METHOD_ORDER = ("logprob", "verbalized", "sample")


@dataclass(frozen=True)
class ElicitationOptions:
    compare: tuple[Path, ...] | None = option(None, "results roots to read together, e.g. one per probe method "
                                              "(default: --results-root)", metavar="ROOT")
    n_boot: int = option(1000, "bootstrap resamples of the items (default 1000)")
    bootstrap: str = option("items", resample.HELP, choices=resample.MODES)


def find_runs(roots: list[Path], models: str | None, said: Said) -> dict[str, dict[str, Path]]:
    """{model: {method: its RQ1 results file}, in `METHOD_ORDER`} of the models with results under 2+
    methods (each once); a model with only one is a note."""
    found: dict[str, dict[str, Path]] = {}
    for root in roots:
        if not Path(root).is_dir():
            raise UserError(f"results root {root} not found; run code/RQ1/prob_by_llm.py (or prob_by_api.py) "
                            "with --method logprob, verbalized or sample first")
        for f in find_results(Path(root)):
            if f.spec.experiment != "RQ1" or f.spec.prompt:  # `--perturb` / `--repeats` runs: robustness.py reads them
                continue
            method = f.spec.method
            have = found.setdefault(f.spec.model, {})
            if method in have and have[method].resolve() == f.path.resolve():
                continue  # the same file, reached through two spellings of one root
            if method in have:
                raise UserError(f"{f.spec.model} has two {method} RQ1 results files: {have[method]} and {f.path}; "
                                "move one out of the results roots")
            have[method] = f.path
    keep = wanted_models(models, found, "RQ1", ", ".join(map(str, roots)))
    found = {m: paths for m, paths in found.items() if m in keep}
    rank = {m: i for i, m in enumerate(METHOD_ORDER)}
    runs = {}
    for model, paths in found.items():
        ordered = dict(sorted(paths.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))
        if len(ordered) > 1:
            runs[model] = ordered
        else:
            said.note(f"{model}: only {next(iter(ordered))} results, nothing to compare")
    return runs


def bootstrap_country_mean(scores: np.ndarray, n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high) over countries of [C, I] scores' item means; one item draw for every country.

    >>> bootstrap_country_mean(np.array([[0.5, 0.7], [0.9, 0.9]]), n_boot=50)[0]
    0.75
    """
    s = np.asarray(scores, float)
    with quiet_nan_warnings():
        point = float(np.nanmean(np.nanmean(s, -1)))
        if s.shape[-1] == 0 or np.isnan(point):
            return point, float("nan"), float("nan")
        idx = np.random.default_rng(seed).integers(0, s.shape[-1], size=(n_boot, s.shape[-1]))
        means = np.nanmean(np.nanmean(s[:, idx], -1), 0)  # [C, B, I] -> [B]
    lo, hi = resample.interval(means)
    return point, float(lo), float(hi)


def respondent_intervals(sc, answers: dict[str, np.ndarray], common: np.ndarray, n_boot: int,
                         seed: int) -> dict[str, tuple[float, float]]:
    """method -> interval of its alignment on the `common` items, all under the same resamples."""
    if not common.any():
        return {m: (np.nan, np.nan) for m in answers}
    n_opt, known = sc.n_options[common], sc.human.has_respondents

    def similarity(a):
        return lambda shares: metrics.similarity(a[None], shares, n_opt, sc.metric)

    draws = resample.country_draws([similarity(a[common]) for a in answers.values()], sc.counts[:, common], n_boot,
                                   seed, "respondents", None if known is None else known[:, common])
    return {m: tuple(float(v) for v in resample.interval(resample.mean_over(d))) for m, d in zip(answers, draws)}


def compare(sc, model: str, answers: dict[str, np.ndarray], n_boot: int, seed: int, bootstrap: str = "items"
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(per-item agreement, per-pair summary, per-method table) of one model's method -> [I, K]; the
    agreement has no human side, so its interval resamples items under either `bootstrap`."""
    ids = np.array(sc.human.item_ids)
    model_ans = {m: sc.model(a) for m, a in answers.items()}
    common = np.all([np.isfinite(a).all(-1) for a in model_ans.values()], axis=0)
    common &= np.isfinite(sc.shares).all(-1).any(0)
    items, pairs = [], []
    for a, b in itertools.combinations(model_ans, 2):
        agree = sc.similarity(model_ans[a], model_ans[b])[common]
        items.append(pd.DataFrame({"model": model, "method_a": a, "method_b": b, "item_id": ids[common],
                                   "agreement": agree}))
        lo, hi = metrics.bootstrap_ci(agree, n_boot, seed=seed) if agree.size else (np.nan, np.nan)
        pairs.append({"model": model, "method_a": a, "method_b": b, "n_items": int(common.sum()),
                      "agreement": float(np.mean(agree)) if agree.size else np.nan,
                      "ci_low": float(lo), "ci_high": float(hi)})
    rows = []
    uniform = metrics.uniform(sc.n_options, sc.shares.shape[-1])
    candidates = {"uniform answer": uniform, **model_ans}
    drawn = respondent_intervals(sc, candidates, common, n_boot, seed) if bootstrap == "respondents" else {}
    for method, ans in candidates.items():
        s = sc.similarity(ans[None], sc.shares)[:, common]
        mean, lo, hi = bootstrap_country_mean(s, n_boot, seed=seed)
        if method in drawn and np.isfinite(mean):
            lo, hi = drawn[method]
        n_c = int(np.isfinite(s).any(-1).sum())
        ent = metrics.mean_normalized_entropy(ans[common], sc.n_options[common]) if common.any() else np.nan
        rows.append({"model": model, "method": method, "kind": "baseline" if method == "uniform answer" else "method",
                     "n_items": int(common.sum()), "n_countries": n_c, "alignment": mean, "ci_low": lo,
                     "ci_high": hi, "entropy": ent})
    with quiet_nan_warnings():
        human_ent = float(np.nanmean(metrics.normalized_entropy(sc.shares[:, common], sc.n_options[common])))
    rows.append({"model": model, "method": "human (mean over countries)", "kind": "human",
                 "n_items": int(common.sum()), "n_countries": len(sc.human.country_codes), "alignment": np.nan,
                 "ci_low": np.nan, "ci_high": np.nan, "entropy": human_ent})
    return pd.concat(items, ignore_index=True), pd.DataFrame(pairs), pd.DataFrame(rows)


def elicitation(config: AnalysisConfig, opts: ElicitationOptions, said: Said) -> list[Path]:
    policy, out = answer_policy(config, said), config.output
    roots = list(opts.compare or [])
    if not roots or config.results_root != RESULTS_DIR:
        roots.insert(0, config.results_root)
    runs = find_runs(list(dict.fromkeys(roots)), config.models, policy.said)
    if not runs:
        raise UserError(f"no model has RQ1 results under more than one probe method in {', '.join(map(str, roots))}; "
                        "run code/RQ1/prob_by_llm.py with --method logprob, verbalized and sample "
                        "(each into its own --results-root) and pass them with --compare")
    sc = load_scoring(config, policy)
    ids, orders = list(sc.human.item_ids), list(sc.human.orders)
    policy.probe_method = None  # every method is read here
    parts = []
    for model, paths in runs.items():
        answers = {m: load_answers(p, ids, orders, policy) for m, p in paths.items()}
        for m in [m for m, a in answers.items() if not np.isfinite(a).all(-1).any()]:
            policy.said.note(f"{model}: no {m} answer could be read (see the coverage line); {m} is left out")
            del answers[m]
        common = np.all([np.isfinite(a).all(-1) for a in answers.values()], axis=0).sum() if answers else 0
        if len(answers) < 2 or common == 0:
            policy.said.note(f"{model}: fewer than two methods with answers to the same items; left out")
            continue
        parts.append(compare(sc, model, answers, opts.n_boot, config.seed, opts.bootstrap))
    if not parts:
        raise UserError("the methods of no model answered the same items; check the runs' coverage lines")
    items, pairs, methods = (pd.concat(p, ignore_index=True) for p in zip(*parts))
    written = [write_csv(items, out, "elicitation_items.csv"), write_csv(pairs, out, "elicitation_pairs.csv"),
               write_csv(methods, out, "elicitation_methods.csv")]
    written += figures.elicitation(items, methods, metrics.METRIC_LABELS[config.metric], out, METHOD_ORDER)
    policy.said.line(pairs.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    policy.said.line(methods.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return written
