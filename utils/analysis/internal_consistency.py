"""Internal consistency: do a model's answers agree across related questions, as people's do? The
statistic is OURS (`consistency.py`); a steered model is compared with its target country's people.
Files and columns: docs/analysis.md, "Internal consistency".
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from utils.analysis.answers import answer_policy, load_answers, model_files, rq1_files
from utils.analysis.config import AnalysisConfig
from utils.analysis.consistency import POOLED, TOPICS_FILE, load_topics, score_topics, steering_effect
from utils.analysis.coverage import Said
from utils.analysis.figures import discussion as figures
from utils.analysis.metrics import normalize
from utils.analysis.options import option
from utils.analysis.paper.notebooks import MODEL_LEVEL_SKIP, consistency_table as notebook_table
from utils.analysis.steering import country_codes
from utils.analysis.tables import NO_STEERING, short_name, write_csv, write_tables
from utils.core.errors import UserError
from utils.core.paths import INPUTS_DIR


@dataclass(frozen=True)
class ConsistencyOptions:
    inputs_dir: Path = option(INPUTS_DIR, "folder with steering/countries.json (steering country -> WVS code; "
                              "default inputs/)")
    topics: Path = option(TOPICS_FILE, "topics, items and each item's orientation (default "
                          "inputs/analysis/consistency_topics.json)")


def subject_rows(subject: dict, scores, index=()) -> list[dict]:
    """One row per topic for one subject (`scores`: `score_topics` of its [I, K], or of a stack of
    subjects' [C, I, K] with `index` its row)."""
    rows = []
    for s in scores:
        item_positions = s.item_positions[index]
        pos = {f"pos_{it.id}": float(p) for it, p in zip(s.topic.items, item_positions)}
        rows.append(subject | {"topic": s.topic.name, "n_items": int(np.isfinite(item_positions).sum()),
                               "stance": float(s.stance[index]), "consistency": float(s.consistency[index])} | pos)
    return rows


def consistency_table(sc, topics, rq1: dict, rq2: list, codes: dict, policy) -> pd.DataFrame:
    """Long table: kind (model | people), model, method, steer_country, country, country_code,
    topic, n_items, stance, consistency, pos_<item>."""
    ids, orders = list(sc.human.item_ids), list(sc.human.orders)
    models = [({"model": model, "method": NO_STEERING, "steer_country": "", "country": "", "country_code": np.nan},
               path) for model, path in rq1.items()]
    models += [({"model": f.spec.model, "method": f.spec.condition, "steer_country": f.spec.country,
                 "country": f.spec.country, "country_code": codes.get(f.spec.country, np.nan)}, f.path) for f in rq2]
    rows = []
    for subject, path in models:
        answers = load_answers(path, ids, orders, policy)
        rows += subject_rows({"kind": "model"} | subject, score_topics(answers, ids, orders, topics))
    people = {"kind": "people", "model": "", "method": "", "steer_country": ""}
    rows += subject_rows(people | {"country": POOLED, "country_code": np.nan},
                         score_topics(normalize(sc.pooled()), ids, orders, topics))
    per_country = score_topics(sc.shares, ids, orders, topics)  # [C] at once
    for c, (code, name) in enumerate(zip(sc.human.country_codes, sc.human.country_names)):
        rows += subject_rows(people | {"country": name, "country_code": int(code)}, per_country, c)
    return pd.DataFrame(rows)


def distance_table(df: pd.DataFrame, said: Said) -> pd.DataFrame:
    """|model - people| per topic: No Steering against every country, a steered model against its
    target country with the unsteered distance and the change."""
    people = df[(df["kind"] == "people") & (df["country"] != POOLED)].dropna(subset=["consistency"])
    by_code = people.set_index(["country_code", "topic"])["consistency"]
    models = df[df["kind"] == "model"]
    none = models[models["method"] == NO_STEERING].set_index(["model", "topic"])["consistency"]
    rows, missing = [], set()
    for r in models.itertuples():
        if not np.isfinite(r.consistency):
            continue
        if r.method == NO_STEERING:
            for p in people[people["topic"] == r.topic].itertuples():
                rows.append({"model": r.model, "method": NO_STEERING, "country": p.country,
                             "country_code": int(p.country_code), "topic": r.topic, "model_consistency": r.consistency,
                             "people_consistency": p.consistency, "distance": abs(r.consistency - p.consistency)})
            continue
        key = (r.country_code, r.topic)
        if key not in by_code.index:
            if r.country not in missing:  # once per country
                said.note(f"no human answers to every {r.topic} item for {r.country}; its steering rows are left out")
            missing.add(r.country)
            continue
        base = none.get((r.model, r.topic), np.nan)
        before, after, change = steering_effect(base, r.consistency, by_code[key])
        rows.append({"model": r.model, "method": r.method, "country": r.country, "country_code": int(r.country_code),
                     "topic": r.topic, "model_consistency": r.consistency, "people_consistency": by_code[key],
                     "distance": after, "unsteered_consistency": base, "unsteered_distance": before, "change": change,
                     "moved_toward": bool(change < 0) if np.isfinite(change) else np.nan})
    cols = ["model", "method", "country", "country_code", "topic", "model_consistency", "people_consistency",
            "distance", "unsteered_consistency", "unsteered_distance", "change", "moved_toward"]
    return pd.DataFrame(rows).reindex(columns=cols)


def summary_table(df: pd.DataFrame, dist: pd.DataFrame, topics) -> pd.DataFrame:
    """Models (No Steering) and people: each topic's consistency and mean distance to the countries' people."""
    rows = []
    cons = df.set_index(["kind", "model", "method", "country", "topic"])["consistency"]
    near = dist[dist["method"] == NO_STEERING].groupby(["model", "topic"])["distance"].mean()
    for model in dict.fromkeys(df.loc[(df["kind"] == "model") & (df["method"] == NO_STEERING), "model"]):
        row = {"Subject": short_name(model), "Condition": "No Steering"}
        for t in topics:
            row[t.label] = f"{cons[('model', model, NO_STEERING, '', t.name)]:.4f}"
            row[f"{t.label}: distance"] = f"{near.get((model, t.name), np.nan):.4f}"
        rows.append(row)
    people = df[(df["kind"] == "people") & (df["country"] != POOLED)]
    rows.append({"Subject": "People", "Condition": POOLED} |
                {t.label: f"{cons[('people', '', '', POOLED, t.name)]:.4f}" for t in topics})
    per_topic = {t.name: people.loc[people["topic"] == t.name, "consistency"].dropna() for t in topics}
    n = sorted({len(c) for c in per_topic.values()})
    rows.append({"Subject": "People", "Condition": f"mean over {'/'.join(map(str, n))} countries"}
                | {t.label: f"{per_topic[t.name].mean():.4f}" for t in topics})
    return pd.DataFrame(rows).fillna("").replace("nan", "")


def steering_summary(dist: pd.DataFrame, topics) -> pd.DataFrame:
    """Per model and method: the mean change of distance over its target countries (negative: closer)."""
    d = dist[dist["method"] != NO_STEERING]
    rows = []
    for (model, method), g in d.groupby(["model", "method"], sort=False):
        row = {"Subject": short_name(model), "Condition": method}
        for t in topics:
            x = g[g["topic"] == t.name]
            moved = int((x["moved_toward"] == True).sum())  # noqa: E712 - object column with NaN
            row[t.label] = f"{x['change'].mean():+.4f} ({moved}/{len(x)} closer)" if len(x) else ""
        rows.append(row)
    return pd.DataFrame(rows)


def internal_consistency(config: AnalysisConfig, opts: ConsistencyOptions, said: Said) -> list[Path]:
    rules, policy = config.rules, answer_policy(config, said)
    side = rules.human(config, policy)
    files = rq1_files(config.results_root, rules.models(config, "RQ1"), policy)
    if rules.paper:
        answers = {m: {q: d for q, d in a.items() if q not in MODEL_LEVEL_SKIP}
                   for m, a in rules.answers(side, files, policy).items()}
        df = notebook_table(answers, side.dists(None), side.questions)
        for r in df.itertuples():
            policy.said.line(f"{r.model:45s} consistency {r.consistency:.4f} (last item {r.item}; paper-compat)")
        return [write_csv(df, config.output, "internal_consistency.csv", None)]
    topics, sc = load_topics(opts.topics), side
    out = replace(config.output, metric="w1")  # no alignment metric here: names as they are
    rq1 = {f.spec.model: f.path for f in files}
    # models named: all their RQ2 conditions; by default a model with a single one is left out, as everywhere
    rq2 = [f for f in model_files(config.results_root, "RQ2", "all" if config.models else None, policy)
           if f.spec.model in rq1]
    df = consistency_table(sc, topics, rq1, rq2, country_codes(opts.inputs_dir), policy)
    unscored = sorted({r.model for r in df[df["kind"] == "model"].itertuples()} -
                      set(df.loc[(df["kind"] == "model") & df["consistency"].notna(), "model"]))
    if set(unscored) == set(rq1):  # e.g. the demo's first 12 items: nothing to show for any model, so say why
        items = "; ".join(f"{t.label} {', '.join(i.id for i in t.items)}" for t in topics)
        raise UserError(f"no model answered every item of a topic ({items}): {', '.join(unscored)} did not, e.g. a "
                        "run with --limit; ask those items (rerun the probe without --limit) to score internal "
                        "consistency")
    dist = distance_table(df, policy.said)
    written = [write_csv(df, out, "internal_consistency.csv"),
               write_csv(dist, out, "internal_consistency_distance.csv")]
    summary = summary_table(df, dist, topics)
    written += write_tables(summary, out, "internal_consistency_table",
                            "Internal consistency per topic (ours: 1 - mean absolute deviation of the items' mean "
                            "positions); distance: mean absolute difference from each country's people")
    written += figures.consistency(df, topics, out)
    if unscored:  # e.g. a run on the first few items only
        policy.said.note(f"no answers to every item of any topic from {', '.join(unscored)}; left out of the distances")
    if rq2 and not (dist["method"] != NO_STEERING).any():
        policy.said.note("no steering condition answered every item of a topic; no steering table")
    elif rq2:
        written += write_tables(steering_summary(dist, topics), out, "internal_consistency_steering",
                                "Steering: mean change of the absolute difference from the target country's people "
                                "(negative: closer), and how many target countries moved closer")
        written += figures.consistency_steering(dist, topics, out)
    policy.said.line(summary.to_string(index=False))
    return written
