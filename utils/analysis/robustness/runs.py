"""Reading the runs a robustness analysis compares, and scoring each on the items all prompts share.
A run's prompt is read from its columns (`original` where it has no `perturb_family`), never from
its folder; group-steered runs are left out.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from utils.analysis.answers import load_answers, wanted_models
from utils.analysis.robustness.stats import ORIGINAL
from utils.analysis.scoring import Scoring
from utils.analysis.steering import country_codes, few_shot_ids
from utils.analysis.tables import NO_STEERING
from utils.core.errors import UserError
from utils.core.results.spec import Perturbation
from utils.core.results.tree import find_results, one_per_condition


@dataclass(frozen=True)
class Run:
    """One results file: whose answers, under which condition and prompt."""

    path: Path
    model: str
    condition: str  # "none" (RQ1) or "<steering method>/<country>"
    family: str  # ORIGINAL for the unperturbed prompt
    index: int = 0
    seed: int = 0
    repeat: int = 0

    @property
    def prompt(self) -> str:
        return ORIGINAL if self.family == ORIGINAL else Perturbation(self.family, self.index, self.seed).name


@dataclass(frozen=True, eq=False)
class Scored:
    """A run's item scores [C, I] (NaN outside its comparison) and the answers [I, K] behind them."""

    scores: np.ndarray
    answers: np.ndarray


def find_runs(root: Path, probe_method: str | None, models: str | None) -> list[Run]:
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"results root {root} not found; run a probing script with --perturb first")
    files = one_per_condition([f for f in find_results(root) if f.spec.experiment in ("RQ1", "RQ2")
                               and not f.spec.group], probe_method)
    keep = wanted_models(models, {f.spec.model for f in files}, "RQ1 or RQ2", root)
    runs = []
    for f in files:
        spec = f.spec
        if spec.model not in keep:
            continue
        f.read()  # a damaged or cut-off file: one line now, not a wrong score later
        p = spec.perturbation
        cond = NO_STEERING if spec.experiment == "RQ1" else f"{spec.steering}/{spec.country}"
        runs.append(Run(f.path, spec.model, cond, p.family if p else ORIGINAL, p.index if p else 0, p.seed if p else 0,
                        spec.repeat or 0))
    if not any(r.family != ORIGINAL for r in runs):
        raise UserError(f"no perturbed results under {root}; run e.g. python code/RQ1/prob_by_llm.py --method logprob "
                        "--perturb order:5 first")
    return runs


def item_scores(sc: Scoring, runs: list[Run], policy) -> dict[Run, Scored]:
    """[C, I] item scores of every run on the items all runs of its model and country answered: an
    RQ2 run on its country's row without its few-shot items; RQ1 runs also as each steered country's
    base (`none/<country>`), so a gain can be read under every prompt."""
    ids, orders = list(sc.human.item_ids), list(sc.human.orders)
    row_of = {int(c): i for i, c in enumerate(sc.human.country_codes)}
    answers = {r: sc.model(load_answers(r.path, ids, orders, policy)) for r in runs}
    full = {r: sc.similarity(a[None], sc.shares) for r, a in answers.items()}
    steered = sorted({r.condition.split("/", 1)[1] for r in runs if r.condition != NO_STEERING})
    codes = country_codes() if steered else {}
    shots = {c: few_shot_ids(c, missing_ok=True) for c in steered}
    out: dict[Run, np.ndarray] = {r: s for r, s in full.items() if r.condition == NO_STEERING}
    for r, s in full.items():
        targets = [r.condition.split("/", 1)[1]] if r.condition != NO_STEERING else steered
        for country in targets:
            code = codes.get(country)
            if code not in row_of:
                continue
            keep = np.zeros_like(s, dtype=bool)
            keep[row_of[code]] = [i not in shots.get(country, set()) for i in ids]
            key = r if r.condition != NO_STEERING else replace(r, condition=f"{NO_STEERING}/{country}")
            out[key] = np.where(keep, s, np.nan)
    groups: dict[tuple, list[Run]] = {}
    for r in out:
        target = r.condition if r.condition == NO_STEERING else r.condition.split("/", 1)[1]
        groups.setdefault((r.model, target), []).append(r)
    for members in groups.values():
        common = np.all([np.isfinite(out[r]) for r in members], axis=0)
        for r in members:
            out[r] = np.where(common, out[r], np.nan)
    return {r: Scored(s, answers[replace(r, condition=NO_STEERING) if r.condition.startswith(f"{NO_STEERING}/")
                                 else r]) for r, s in out.items()}
