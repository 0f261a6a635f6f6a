"""RQ2, steering: for each model and country, the score with no steering (its RQ1 answer) and with
each method; `--by` also scores runs steered toward a group. Files and columns: docs/analysis.md,
"RQ2 steering", and docs/groups.md, "Steering toward a group".
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from utils.analysis import metrics, significance, steering
from utils.analysis.answers import AnswerPolicy, answer_policy, load_answers, model_files
from utils.analysis.config import AnalysisConfig
from utils.analysis.coverage import Said
from utils.analysis.figures import rq2 as figures
from utils.analysis.group_scores import BY_HELP, group_scorings, groups_in_table
from utils.analysis.options import option
from utils.analysis.paper import rq2 as paper
from utils.analysis.paper.models import sort_models
from utils.analysis.tables import NO_STEERING, layout, short_name, told, write_csv, write_tables
from utils.core.errors import UserError
from utils.core.paths import INPUTS_DIR

GROUP_COLUMNS = ["model", "country", "country_code", "method", "group_var", "group", "score_group", "score_country",
                 "base_group", "none_group", "gain_group", "n_items"]
WIDE_KEYS = ("model", "country", "country_code", "n_items", "best_method", "best_gain", "best_beats_none")


@dataclass(frozen=True)
class SteeringOptions:
    inputs_dir: Path = option(INPUTS_DIR, "folder with steering/ and few_shot/ (default inputs/)")
    test: str = option("rel", significance.TEST_HELP, choices=significance.TESTS)
    correction: str = option("none", significance.CORRECTION_HELP, choices=significance.CORRECTIONS)
    by: str | None = option(None, "also score the runs steered toward a GROUPVAR group (--group) against that group "
                            "and the whole country: rq2_group_steering.csv and its figure" + BY_HELP,
                            metavar="GROUPVAR", ours_only=True)


def conditions(results_root: Path, models: str | None, policy: AnswerPolicy) -> dict:
    """{(model, country): {method: path}}, No Steering (the model's RQ1 file) first."""
    files = model_files(results_root, "RQ2", models, policy)
    if not files:
        raise UserError(f"no RQ2 results (RQ2/<method>/<country>/<model>/results.csv) under {results_root}; "
                        "run code/RQ2/prob_by_llm.py or code/RQ2/prob_by_api.py first")
    rq1 = {f.spec.model: f.path for f in model_files(results_root, "RQ1", policy=policy)}
    out: dict = {}
    for f in files:
        m = f.spec.model
        out.setdefault((m, f.spec.country), {NO_STEERING: rq1[m]} if m in rq1 else {})[f.spec.condition] = f.path
    return out


def human_row(side, country: str, codes: dict, policy: AnswerPolicy) -> int | None:
    """The WVS code of `country` when the human data has it; else a note (once) and None."""
    code = steering.country_code(country, codes)
    if code in set(map(int, side.human.country_codes)):
        return code
    policy.said.note(f"no human data for {country} ({code}); its RQ2 results are left out")
    return None


def score_table(sc, conds: dict, inputs_dir: Path, policy: AnswerPolicy) -> pd.DataFrame:
    """Our scores of every condition, without the country's few-shot items (their prompts show the
    real shares); the item scores, for the tests, in `attrs["item_scores"]`."""
    ids, orders = list(sc.human.item_ids), list(sc.human.orders)
    methods, codes = steering.methods(inputs_dir), steering.country_codes(inputs_dir)
    row_of = {int(c): i for i, c in enumerate(sc.human.country_codes)}
    rows, items = [], {}
    for (model, country), paths in conds.items():
        if (code := human_row(sc, country, codes, policy)) is None:
            continue
        skip = steering.few_shot_ids(country, inputs_dir)
        kept = np.array([i not in skip for i in ids])
        human = sc.shares[row_of[code]]
        ordered = {NO_STEERING: paths.get(NO_STEERING)} | {m: paths.get(m) for m in methods} | \
            {m: p for m, p in paths.items() if m not in methods}
        scores = {method: np.where(kept, sc.similarity(sc.model(load_answers(path, ids, orders, policy)), human),
                                   np.nan) for method, path in ordered.items() if path is not None}
        # the same items for every condition, so gains, the best method and the paired tests compare
        # like with like; one that answered nothing is shown empty instead of emptying the others
        answered = [np.isfinite(v) for v in scores.values() if np.isfinite(v).any()]
        common = np.all(answered, axis=0) if answered else kept
        for method, s in scores.items():
            s = np.where(common, s, np.nan)
            mean, std, n = metrics.summarize(s)
            items[(model, country, method)] = s  # for the significance tests
            rows.append({"model": model, "country": country, "country_code": code, "method": method,
                         "score": float(mean), "std": float(std), "n_items": int(n),
                         "n_items_answered": int(np.isfinite(np.where(kept, scores[method], np.nan)).sum())})
    df = pd.DataFrame(rows)
    if df.empty:
        raise UserError("none of the RQ2 countries is in the human data; check --human")
    base = df[df["method"] == NO_STEERING].set_index(["model", "country"])["score"]
    df["gain"] = df["score"] - base.reindex(pd.MultiIndex.from_frame(df[["model", "country"]])).to_numpy()
    df.attrs["item_scores"] = items
    return df


def paper_table(rules, side, conds: dict, inputs_dir: Path, policy: AnswerPolicy) -> pd.DataFrame:
    """The paper's scores of every condition, its AVG rows and Student's tests, in its model order."""
    codes, rows, items = steering.country_codes(inputs_dir), [], {}
    for (model, country), paths in conds.items():
        if (code := human_row(side, country, codes, policy)) is None:
            continue
        skip = sorted(steering.few_shot_ids(country, inputs_dir))
        for method, path in paths.items():
            s = paper.file_scores(path, side.human, code, skip, steering.release_translation_gaps(method, country))
            items[(model, country, method)] = s
            rows.append({"model": model, "country": country, "country_code": code, "method": method,
                         "score": float(np.round(np.mean(s), 4)) if s else np.nan, "n_items": len(s)})
    if not rows:
        raise UserError("none of the RQ2 countries is in the human data; check --human")
    return sort_models(significance.add_significance(pd.DataFrame(rows), items, "ind", "none", rules))


def wide_table(df: pd.DataFrame) -> pd.DataFrame:
    order = [NO_STEERING] + [m for m in dict.fromkeys(df["method"]) if m != NO_STEERING]
    w = df.pivot_table(index=["model", "country", "country_code"], columns="method", values="score", sort=False)
    w = w.reindex(columns=[m for m in order if m in w.columns])
    n = df.groupby(["model", "country", "country_code"], sort=False)["n_items"].min()
    steered = w.drop(columns=[NO_STEERING], errors="ignore")
    w["best_method"] = steered.idxmax(axis=1)
    w["best_gain"] = steered.max(axis=1) - w.get(NO_STEERING, np.nan)
    # the best of the five can still be worse than asking plainly: say so rather than crown it
    w["best_beats_none"] = pd.Series([None if pd.isna(g) else bool(g > 0) for g in w["best_gain"]], index=w.index,
                                     dtype=object)  # empty where there is no RQ1 answer to beat
    w.insert(0, "n_items", n)
    w.columns.name = None
    return w.reset_index()


def summary_lines(wide: pd.DataFrame) -> list[str]:
    """Each model's mean per condition, the AVG rows, and how often no method beats no steering."""
    conds = [c for c in wide.columns if c not in WIDE_KEYS]
    models = wide[wide["model"] != "AVG"]
    per_model = models.groupby("model", sort=False)[conds].mean()
    per_model.insert(0, "countries", models.groupby("model", sort=False).size())
    per_model.index = [short_name(m) for m in per_model.index]
    avg = wide[wide["model"] == "AVG"].set_index("country")[conds + ["best_method", "best_gain"]]
    fmt = {"float_format": lambda x: f"{x:.4f}"}
    lines = ["mean over countries, per model and condition:", per_model.to_string(**fmt)]
    if len(avg):
        lines += ["AVG over the models, per country:", avg.to_string(**fmt)]
    worse = wide[[told(b) is False for b in wide["best_beats_none"]]]
    if len(worse):
        rows = f"{len(worse)} of {int(wide['best_beats_none'].notna().sum())}"
        lines.append(f"note: in {rows} rows (model or AVG, and country) no steering method beats no steering "
                     "(best_beats_none False in rq2_steering_table.csv; dashed box in the figure)")
    return lines


def group_table(sc, scorings: dict, by: str, config: AnalysisConfig, inputs_dir: Path,
                policy: AnswerPolicy) -> pd.DataFrame:
    """Each run steered toward a `by` group against that group and the whole country, and the same
    method's whole-country run and the RQ1 answer against the group, on the items the four share."""
    files = [f for f in model_files(config.results_root, "RQ2", config.models, policy, groups=True)
             if f.spec.group and f.spec.group[0] == by]
    if not files:
        raise UserError(f"no RQ2 results steered toward a {by} group under {config.results_root}; run "
                        f"code/RQ2/prob_by_llm.py (or prob_by_api.py) with --group {by}=<group> first")
    h = sc.human
    ids, orders, codes = list(h.item_ids), list(h.orders), steering.country_codes(inputs_dir)
    whole = {(f.spec.model, f.spec.country, f.spec.condition): f.path
             for f in model_files(config.results_root, "RQ2", config.models, policy)}
    rq1 = {f.spec.model: f.path for f in model_files(config.results_root, "RQ1", policy=policy)}

    def answers(path):
        return sc.model(load_answers(path, ids, orders, policy)) if path is not None else np.full(
            (len(ids), h.counts.shape[-1]), np.nan)

    rows = []
    for f in files:
        code = steering.country_code(f.spec.country, codes)
        g = scorings.get(f.spec.group[1])
        if g is None or code not in set(g.human.country_codes.tolist()) or code not in set(h.country_codes.tolist()):
            policy.said.note(f"no human data for {by}={f.spec.group[1]} in {f.spec.country}; {f.path} is left out")
            continue
        gi, ci = list(g.human.country_codes).index(code), list(h.country_codes).index(code)
        kept = np.array([i not in steering.few_shot_ids(f.spec.country, inputs_dir) for i in ids])
        steered = answers(f.path)
        s = {"score_group": g.similarity(steered, g.shares[gi]), "score_country": sc.similarity(steered, sc.shares[ci]),
             "base_group": g.similarity(answers(whole.get((f.spec.model, f.spec.country, f.spec.condition))),
                                        g.shares[gi]),
             "none_group": g.similarity(answers(rq1.get(f.spec.model)), g.shares[gi])}
        common = kept & np.all([np.isfinite(v) for k, v in s.items() if not np.isnan(v).all()], axis=0)
        means = {k: float(np.mean(v[common])) if common.any() and np.isfinite(v[common]).all() else np.nan
                 for k, v in s.items()}
        rows.append({"model": f.spec.model, "country": f.spec.country, "country_code": code, "method": f.spec.condition,
                     "group_var": by, "group": f.spec.group[1], **means,
                     "gain_group": means["score_group"] - means["base_group"], "n_items": int(common.sum())})
    if not rows:
        raise UserError(f"none of the {by}-steered RQ2 runs has human data for its group; check --human")
    return pd.DataFrame(rows, columns=GROUP_COLUMNS).sort_values(["model", "country", "method", "group"], kind="stable")


def rq2_steering(config: AnalysisConfig, opts: SteeringOptions, said: Said) -> list[Path]:
    rules, policy, out = config.rules, answer_policy(config, said), config.output
    if opts.by:
        groups_in_table(config.human, opts.by)  # an unknown or absent group variable: say so before scoring
    side = rules.human(config, policy)
    conds = conditions(config.results_root, rules.models(config, "RQ2"), policy)
    if rules.paper:
        df, caption = paper_table(rules, side, conds, opts.inputs_dir, policy), paper.CAPTION
    else:
        df = score_table(side, conds, opts.inputs_dir, policy)
        df = significance.add_significance(df, df.attrs.pop("item_scores"), opts.test, opts.correction)
        caption = significance.caption(opts.test, opts.correction)
    written = [write_csv(significance.for_csv(df), out, "rq2_steering_scores.csv")]
    written += write_tables(layout(sort_models(df)), out, "rq2_paper_table", caption)  # the paper's column order
    if rules.paper:
        return written
    wide = wide_table(df)
    written.append(write_csv(wide, out, "rq2_steering_table.csv"))
    written += figures.steering_table(wide, out, {(r.model, r.country, r.method): r.stars for r in df.itertuples()})
    written += figures.steering_gains(df, out)
    if opts.by:
        items, orders = list(side.human.item_ids), list(side.human.orders)
        gdf = group_table(side, group_scorings(config, opts.by, items, orders), opts.by, config, opts.inputs_dir,
                          policy)
        written.append(write_csv(gdf, out, "rq2_group_steering.csv"))
        written += figures.group_steering(gdf, opts.by, out)
    for line in summary_lines(wide):
        policy.said.line(line)
    return written
