"""Sensitivity: the default RQ1 prompt against the prompt variants that were run (number, prob, order).
Files and columns: docs/analysis.md, "Sensitivity".
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from utils.analysis import metrics
from utils.analysis.answers import AnswerPolicy, answer_policy, load_answers, model_files
from utils.analysis.config import AnalysisConfig
from utils.analysis.coverage import Said
from utils.analysis.figures import discussion as figures
from utils.analysis.options import NoOptions
from utils.analysis.rules import country_table
from utils.analysis.tables import write_csv
from utils.core.errors import UserError

VARIANTS = ["number", "prob", "order"]


def sensitivity_table(sc, results_root: Path, models: str | None, policy: AnswerPolicy) -> pd.DataFrame:
    """Our scores of each model's default prompt and variants."""
    ids, orders = list(sc.human.item_ids), list(sc.human.orders)
    files = model_files(results_root, "sensitivity", models, policy)
    if not files:
        raise UserError(f"no sensitivity results (Discussion/sensitivity/<variant>/<model>/results.csv) under "
                        f"{results_root}; run code/RQ1/prob_by_llm.py or prob_by_api.py with --variant first")
    rq1 = {f.spec.model: f.path for f in model_files(results_root, "RQ1", policy=policy)}
    by_model: dict[str, dict[str, Path]] = {}
    for f in files:
        by_model.setdefault(f.spec.model, {})[f.spec.condition] = f.path
    rows = []
    for model, variants in by_model.items():
        conds = ({"default": rq1[model]} if model in rq1 else {}) | \
            {v: variants[v] for v in VARIANTS if v in variants} | \
            {v: p for v, p in variants.items() if v not in VARIANTS}
        scores = {variant: sc.scores(load_answers(path, ids, orders, policy)) for variant, path in conds.items()}
        # every variant on the items all of them answered, per country, so a delta or a rank
        # correlation compares the prompts and not two sets of items
        common = np.all([np.isfinite(v) for v in scores.values()], axis=0)
        summaries = {variant: metrics.summarize(np.where(common, s, np.nan)) for variant, s in scores.items()}
        base = summaries["default"][0] if "default" in summaries else None
        if base is None:
            policy.said.note(f"no RQ1 results for {model}; its variants are shown without the default")
        for variant, (cur, _, n) in summaries.items():
            ok = ~np.isnan(cur)
            row = {"model": model, "variant": variant, "score": float(cur[ok].mean()), "std": float(cur[ok].std()),
                   "delta": np.nan, "rank_corr": np.nan, "n_countries": int(ok.sum()), "n_items": int(n.max()),
                   "n_items_answered": int(np.isfinite(scores[variant]).any(0).sum())}
            if base is not None:
                both = ok & ~np.isnan(base)
                row["delta"] = row["score"] - float(base[~np.isnan(base)].mean())
                if both.sum() > 2:
                    row["rank_corr"] = float(spearmanr(base[both], cur[both])[0])
            rows.append(row)
    return pd.DataFrame(rows)


def paper_table(config: AnalysisConfig, side, policy: AnswerPolicy) -> pd.DataFrame:
    """Each prompt under the paper's rules: mean and std over countries of the notebook's scores."""
    rules = config.rules
    answers = rules.rq1_answers(config, side, policy)
    variants = [f for f in model_files(config.results_root, "sensitivity", config.models, policy)
                if f.spec.model in answers]
    runs = [(m, "default", a) for m, a in answers.items()] + \
        [(f.spec.model, f.spec.condition, rules.answers(side, [f], policy)[f.spec.model]) for f in variants]
    rows = []
    for model, variant, ans in runs:
        d = country_table(rules, side, {model: rules.country_scores(side, ans)})
        rows.append({"model": model, "variant": variant, "score": d["score"].mean(), "std": d["score"].std(ddof=0),
                     "n_countries": len(d)})
    df = pd.DataFrame(rows)
    return df.assign(delta=df["score"] - df["model"].map(df[df["variant"] == "default"].set_index("model")["score"]))


def sensitivity(config: AnalysisConfig, opts: NoOptions, said: Said) -> list[Path]:
    rules, policy, out = config.rules, answer_policy(config, said), config.output
    side = rules.human(config, policy)
    if rules.paper:
        return [write_csv(paper_table(config, side, policy), out, "sensitivity_scores.csv", rules.digits)]
    df = sensitivity_table(side, config.results_root, config.models, policy)
    written = [write_csv(df, out, "sensitivity_scores.csv")] + figures.sensitivity(df, out, VARIANTS)
    policy.said.line(df.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return written
