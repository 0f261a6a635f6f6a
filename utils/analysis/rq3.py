"""RQ3, time: each model's RQ1 answers scored against WVS Waves 5, 6 and 7 on their shared items,
each wave over the countries it surveyed and over those surveyed in all three, so a change over
waves is not just a change of countries. Files and columns: docs/analysis.md, "RQ3 over time".
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from utils.analysis import metrics
from utils.analysis.answers import AnswerPolicy, answer_policy
from utils.analysis.config import AnalysisConfig
from utils.analysis.coverage import Said
from utils.analysis.figures import discussion as figures
from utils.core.human.human_data import read_long_table
from utils.core.human.wave_map import load_wave_map
from utils.analysis.options import option
from utils.analysis.rq1.average_human import TAU, Selection, against_average, compare, select_aligned
from utils.analysis.rules import country_table
from utils.analysis.tables import write_csv
from utils.core.errors import UserError

ALIGNED = "all waves, aligned with the model in Wave 7"


@dataclass(frozen=True)
class TemporalOptions:
    select: str = option("all", "aligned: also score each model over the countries it aligns with in Wave 7 "
                         "(appropriately or over-aligned, at least the average human's score minus --tau; the "
                         "paper's Table 8), writing rq3_selected_countries.csv; all: no selection (default)",
                         choices=("all", "aligned"))
    tau: float = option(TAU, f"margin for --select aligned (default {TAU})")


def surveyed(paths: list[Path]) -> dict[int, tuple[Path, set[int]]]:
    """wave -> (its table, the country codes it has), from each prepared table's wave column."""
    out: dict[int, tuple[Path, set[int]]] = {}
    for path in paths:
        table, _ = read_long_table(path)
        waves = table["wave"].dropna().unique() if "wave" in table.columns else []
        if len(waves) != 1:
            raise UserError(f"{path} has no single wave in its wave column; prepare each wave separately")
        out[int(waves[0])] = (Path(path), set(table["country_code"].dropna().astype(int)))
    return out


def select_countries(config: AnalysisConfig, policy: AnswerPolicy, tau: float) -> tuple[Selection, list[Path]]:
    """Supplementary Table 8's selection for margin `tau` (per model, the countries it aligns with in
    Wave 7 among those surveyed in every wave given) and its CSV; its notes go to `policy.said`."""
    waves = surveyed(config.human_paths())
    if 7 not in waves:
        raise UserError("--select aligned picks countries by their Wave 7 alignment; pass the Wave 7 table in --human")
    rules = config.rules
    side = rules.human(config, policy, waves[7][0])
    answers = rules.rq1_answers(config, side, policy)
    sel = select_aligned(compare(against_average(rules, side, answers), tau),
                         set.intersection(*(codes for _, codes in waves.values())), tau)
    for note in sel.notes:
        policy.said.note(note)
    return sel, [write_csv(sel.table, config.output, "rq3_selected_countries.csv")]


def keep_selected(df: pd.DataFrame, sel: Selection) -> pd.DataFrame:
    """The rows of `df` of each included model's selected countries."""
    keep = [int(c) in set(sel.chosen.get(m, ())) for m, c in zip(df["model"], df["country_code"])]
    return df[keep].reset_index(drop=True)


def wave_summary(df: pd.DataFrame) -> pd.DataFrame:
    waves = sorted(df["wave"].unique())
    common = set.intersection(*(set(df.loc[df["wave"] == w, "country_code"]) for w in waves))
    out = []
    for label, d in (("each wave", df), ("all waves", df[df["country_code"].isin(common)])):
        g = d.groupby(["model", "wave"], sort=False)
        s = g.agg(n_countries=("score", "size"), score=("score", "mean"), n_items=("n_items", "max"),
                  uniform=("uniform", "mean"))
        s["std"] = g["score"].std(ddof=0)
        out.append(s.reset_index().assign(countries=label))
    cols = ["model", "wave", "countries", "n_countries", "score", "std", "n_items", "uniform"]
    return pd.concat(out, ignore_index=True)[cols]


def paper_summary(df: pd.DataFrame, common: set[int]) -> pd.DataFrame:
    """Per model and wave: mean and std over the countries surveyed, and over those surveyed in all."""
    rows = []
    for (model, wave), d in df.groupby(["model", "wave"], sort=True):
        for countries, part in (("all surveyed", d), ("in all waves", d[d["country_code"].isin(common)])):
            rows.append({"model": model, "wave": wave, "countries": countries, "n_countries": len(part),
                         "score": part["score"].mean(), "std": part["score"].std(ddof=0)})
    return pd.DataFrame(rows)


def rq3_temporal(config: AnalysisConfig, opts: TemporalOptions, said: Said) -> list[Path]:
    rules, policy, out = config.rules, answer_policy(config, said), config.output
    selected, written = select_countries(config, policy, opts.tau) if opts.select == "aligned" else (None, [])
    mapping, sides = load_wave_map(), {}
    for path in config.human_paths():
        side = rules.human(config, policy, path, mapping, expected_wave=None)
        if side.human.wave is None:
            raise UserError(f"{path} has no single wave in its wave column; prepare each wave separately")
        sides[side.human.wave] = side
    sides = dict(sorted(sides.items()))
    answers = rules.rq1_answers(config, next(iter(sides.values())), policy)
    frames = []
    for wave, side in sides.items():
        uniform = None if rules.paper else side.uniform_scores()
        more = None if rules.paper else lambda m, s: {"uniform": metrics.summarize(np.where(np.isnan(s), np.nan,
                                                                                            uniform))[0]}
        scores = {m: rules.country_scores(side, a) for m, a in answers.items()}
        frames.append(country_table(rules, side, scores, more).assign(wave=wave))
    df = pd.concat(frames, ignore_index=True)
    if rules.paper:
        common = set.intersection(*(set(side.human.country_codes) for side in sides.values()))
        summary = paper_summary(df, common)
    else:
        df = df[["model", "wave", "country_code", "country", "score", "std", "n_items", "uniform"]]
        summary = wave_summary(df)
    if selected is not None and not rules.paper:  # the same summary over each included model's own countries
        picked = wave_summary(keep_selected(df, selected)) if selected.chosen else summary.iloc[:0]
        summary = pd.concat([summary, picked[picked["countries"] == "all waves"].assign(countries=ALIGNED)],
                            ignore_index=True)
    written += [write_csv(df, out, "rq3_country_scores.csv", rules.digits),
                write_csv(summary, out, "rq3_temporal.csv", rules.digits)]
    if not rules.paper:
        written += figures.temporal(summary, out)
    policy.said.line(summary.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return written
