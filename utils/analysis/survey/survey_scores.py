"""How well each model answers an imported survey like each of its populations and groups: a cell's
score is the mean over items of `item_scores.similarity`. Files and columns: docs/surveys.md,
"Scoring it"; hand-computed values: tests/test_survey_run.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from utils.analysis.answers import read_row, wanted_models
from utils.analysis.config import AnalysisConfig
from utils.analysis.coverage import Coverage, Said
from utils.analysis.metrics import METRIC_LABELS, bootstrap_ci
from utils.analysis.options import option
from utils.analysis.survey import item_scores
from utils.analysis.figures.world_map import world_maps
from utils.analysis.survey.survey_figures import cell_scores_figure
from utils.analysis.tables import short_name, write_csv, write_tables
from utils.core.errors import UserError
from utils.core.human.wave_map import country_names
from utils.core.results.spec import Experiment
from utils.core.results.table import read_complete
from utils.core.results.tree import find_results, one_per_condition
from utils.core.survey.data import Item, SurveyData
from utils.core.survey.files import read_survey

CELL = ("population", "group_var", "group")
MIN_MAP_COUNTRIES = 3  # fewer countries than this make no map worth drawing


@dataclass(frozen=True)
class SurveyFiles:
    """Which imported survey, and by which metric."""

    survey: Path | None = option(None, "the imported survey's <name>.questions.jsonl (dataset/import_survey.py); its "
                                 "human table <name>.csv is read from beside it", metavar="FILE")
    survey_metric: str | None = option(None, "w1: 1 - W1 over the options' positions; jsd: 1 - Jensen-Shannon "
                                       "distance; tvd: 1 - total variation (default: the survey's own)",
                                       choices=("w1", "jsd", "tvd"))


@dataclass(frozen=True)
class SurveyOptions(SurveyFiles):
    n_boot: int = option(1000, "bootstrap resamples of the items for each score's interval (default 1000)")
    halves: int = option(10, "random splits per item for the human split-half ceiling (default 10)")


@dataclass(frozen=True)
class Human:
    """A survey read for scoring: its items by id, shares and counts per cell and item."""

    data: SurveyData
    metric: str
    items: dict[str, Item]
    shares: dict[tuple[str, str, str], dict[str, dict[str, float]]]
    counts: dict[tuple[str, str, str], dict[str, dict[str, float]]]  # only where every scored option has a count


def read_human(options: SurveyFiles) -> Human:
    if options.survey is None:
        raise UserError("--survey names the imported survey to score: its <name>.questions.jsonl from "
                        "python dataset/import_survey.py")
    data = read_survey(options.survey)
    shares: dict = {}
    counts: dict = {}
    for c in data.cells:
        cell = (c.population, c.group_var, c.group)
        shares.setdefault(cell, {}).setdefault(c.item_id, {})[c.option] = c.share
        counts.setdefault(cell, {}).setdefault(c.item_id, {})[c.option] = c.count
    items = {it.id: it for it in data.items}
    counted = {cell: {i: n for i, n in by_item.items()
                      if all(v is not None for v in n.values()) and set(n) == set(items[i].scored(data.survey.policy))}
               for cell, by_item in counts.items()}
    return Human(data, options.survey_metric or data.survey.metric, items, shares, counted)


def model_answers(config: AnalysisConfig, human: Human, said: Said) -> list[tuple[object, dict[str, dict]]]:
    """(spec, {item id: distribution}) per run that asked the survey, one per model and condition."""
    survey = human.data.survey
    files = [f for f in find_results(config.results_root, survey=survey.name)
             if f.spec.survey_wave == survey.wave and not f.spec.prompt]
    files = one_per_condition(files, config.probe_method)
    keep = wanted_models(config.models, {f.spec.model for f in files}, f"survey {survey.name}", config.results_root)
    files = [f for f in files if f.spec.model in keep]
    if not files:
        raise UserError(f"no results for survey {survey.name} under {config.results_root}; ask it first: python "
                        f"code/RQ1/prob_by_llm.py --survey <dir>/{survey.name}.questions.jsonl")
    items, out = human.items, []
    for f in files:
        table = read_complete(f.path, config.results_root)
        cov = Coverage(f"{f.path} [{f.spec.method}]", len(items))
        answers = {}
        for item_id, item in items.items():
            row = table.latest.get(item_id)
            ans = read_row(row, item.codes) if row is not None else None
            cov.add(item_id, "absent" if ans is None else "scored" if ans.ok else ans.reason)
            if ans is not None and ans.ok:
                answers[item_id] = ans.distribution
        said.coverage(cov)
        cov.check(config.min_coverage)
        out.append((f.spec, answers))
    return out


def cell_score(human: Human, cell, answers: dict[str, dict], seed: int, n_boot: int, halves: int) -> dict:
    """The model's scores on `cell`'s items, and the baselines on the same items."""
    items, policy, metric = human.items, human.data.survey.policy, human.metric
    shares = human.shares.get(cell, {})
    ids = [i for i in shares if i in answers]
    model = np.array([item_scores.similarity(items[i], answers[i], shares[i], metric, policy) for i in ids])
    keep = ~np.isnan(model)
    ids, model = [i for i, k in zip(ids, keep) if k], model[keep]
    if not ids:
        return dict.fromkeys(("score", "ci_low", "ci_high", "uniform", "ceiling"), np.nan) | {"n_items": 0}
    uniform = [item_scores.similarity(items[i], dict.fromkeys(items[i].codes, 1.0), shares[i], metric, policy)
               for i in ids]
    rng = np.random.default_rng(seed)
    counts = human.counts.get(cell, {})
    ceiling = [item_scores.split_half(items[i], counts[i], metric, policy, rng, halves) for i in ids if i in counts]
    lo, hi = bootstrap_ci(model, n_boot=n_boot, seed=seed)
    return {"score": float(model.mean()), "ci_low": float(lo), "ci_high": float(hi),
            "uniform": float(np.mean(uniform)),
            "ceiling": float(np.nanmean(ceiling)) if len(ceiling) == len(ids) and not np.isnan(ceiling).all()
            else np.nan, "n_items": len(ids)}


MAX_BARS = 80  # more cells than this (GlobalOpinionQA's countries) read better on the map


def country_map(df: pd.DataFrame, config: AnalysisConfig, name: str, label: str, said: Said) -> list[Path]:
    """The whole populations' scores on a world map, one panel per model, when they are countries."""
    known = {n.casefold() for n in country_names().values()}
    whole = df[df.group_var == ""]
    placed = whole[whole.population.str.casefold().isin(known)]
    if placed.population.nunique() < MIN_MAP_COUNTRIES:
        return []
    unplaced = sorted(set(whole.population) - set(placed.population))
    if unplaced:
        said.note(f"not on the world map (not a country name of dataset/countries.json): {', '.join(unplaced)}")
    panels = {short_name(m): dict(zip(part.population, part.score)) for m, part in placed.groupby("model", sort=False)}
    drawn = world_maps(panels, config.output, f"{name}: {label} per country", f"survey_{name}_map")
    if drawn.note():
        said.note(drawn.note())
    return drawn.paths


def survey_scores(config: AnalysisConfig, options: SurveyOptions, said: Said) -> list[Path]:
    human = read_human(options)
    runs = model_answers(config, human, said)
    name, cells = human.data.survey.name, list(human.shares)
    rows, steered = [], []
    for spec, answers in runs:
        if spec.experiment == Experiment.RQ1:
            rows += [{"model": spec.model, **dict(zip(CELL, cell)),
                      **cell_score(human, cell, answers, config.seed, options.n_boot, options.halves)}
                     for cell in cells]
        elif spec.experiment == Experiment.RQ2:
            target = (spec.country or "", *(spec.group or ("", "")))
            if target not in human.shares:
                said.note(f"{spec.label()} of {spec.model}: its target {'/'.join(t for t in target if t)} has no "
                          "answers in the survey's table; left out")
                continue
            score = cell_score(human, target, answers, config.seed, options.n_boot, options.halves)
            steered.append({"model": spec.model, "steering": spec.steering, **dict(zip(CELL, target)),
                            "steered": score["score"], "n_items": score["n_items"]})
    written = []
    label = f"{METRIC_LABELS[human.metric]} ({human.metric})"
    if rows:
        df = pd.DataFrame(rows)
        df.insert(1, "metric", human.metric)
        written.append(write_csv(df, config.output, f"survey_{name}_scores.csv"))
        wide = df.assign(cell=[" / ".join(x for x in (p, f"{v}={g}" if v else "") if x)
                               for p, v, g in zip(df.population, df.group_var, df.group)])
        table = wide.pivot_table(index="cell", columns="model", values="score", sort=False).round(3)
        table.columns = [short_name(m) for m in table.columns]
        written += write_tables(table.reset_index(), config.output, f"survey_{name}_scores_table",
                                caption=f"{name}: each model's score per population cell, {label}")[1:]
        for model, part in wide.groupby("model", sort=False):
            if len(part) <= MAX_BARS:
                written += cell_scores_figure(part, config.output, f"survey_{name}_{short_name(model)}",
                                              f"{short_name(model)} on {name}: {label}")
        written += country_map(df, config, name, label, said)
        if df["score"].notna().any():
            best = df.loc[df["score"].idxmax()]
            said.line(f"{name}: {len(cells)} population cells, {df.model.nunique()} model(s), {label}; highest "
                      f"{best.score:.3f} ({short_name(best.model)} on {' / '.join(x for x in best[list(CELL)] if x)})")
    if steered:
        st = pd.DataFrame(steered)
        unsteered = {(r["model"], r["population"], r["group_var"], r["group"]): r["score"] for r in rows}
        st.insert(st.columns.get_loc("steered"), "unsteered",
                  [unsteered.get((m, p, v, g), np.nan) for m, p, v, g in zip(st.model, st.population, st.group_var,
                                                                             st.group)])
        st["gain"] = st["steered"] - st["unsteered"]
        written.append(write_csv(st, config.output, f"survey_{name}_steering.csv"))
    if not written:
        raise UserError(f"the results for survey {name} hold no RQ1 or RQ2 run to score")
    return written
