"""`rq3_temporal.py --select aligned`: the countries each model is scored on over time (the paper's
supplementary Table 8).

For each model, the countries it aligns with appropriately or over-aligns in Wave 7 (its score is
at least the average human's minus tau, `average_human.select_aligned`), among the countries
surveyed in all three waves given; a model with fewer than five is left out with a note. Wave 7
is scored as in RQ1 (the 144 questionnaire items, the script's --metric and --weights; with
--paper-compat the release's notebook arithmetic). Writes rq3_selected_countries.csv: one row per
model with `included`, `n_countries`, `countries` and `country_codes` (the Table 8 layout).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from utils.analysis import average_human as avg
from utils.analysis.answers import rq1_answers
from utils.analysis.config import AnalysisConfig
from utils.analysis.coverage import answer_policy
from utils.analysis.human.human_data import read_long_table
from utils.analysis.plotting import write_csv
from utils.analysis.scoring import load_scoring
from utils.core.errors import UserError


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


def wave7_scores(config: AnalysisConfig, wave7: Path) -> pd.DataFrame:
    """model, country_code, country, model_score, human_score, n_items on Wave 7."""
    if config.paper_compat:
        from utils.analysis.average_human_paper import paper_scores
        return paper_scores(config, wave7)[0]
    sc = load_scoring(config, human_path=wave7)
    answers = rq1_answers(config.results_root, list(sc.human.item_ids), list(sc.human.orders), config.models,
                          answer_policy(config, sc))
    return avg.scores_against_average(sc, answers)


def select_countries(config: AnalysisConfig, human_paths: list[Path], tau: float) -> tuple[avg.Selection, list[Path]]:
    """The selection for margin `tau`, its CSV written to `config.output`, its notes printed."""
    waves = surveyed(human_paths)
    if 7 not in waves:
        raise UserError("--select aligned picks countries by their Wave 7 alignment; pass the Wave 7 table in --human")
    common = set.intersection(*(codes for _, codes in waves.values()))
    compared = avg.compare(wave7_scores(config, waves[7][0]), tau)
    sel = avg.select_aligned(compared, common, tau)
    for note in sel.notes:
        print(f"note: {note}")
    name = "rq3_selected_countries" + ("_paper_compat" if config.paper_compat else "") + ".csv"
    return sel, [write_csv(sel.table, config.output, name)]


def keep_selected(df: pd.DataFrame, sel: avg.Selection) -> pd.DataFrame:
    """The rows of `df` (model, country_code, ...) of each included model's selected countries."""
    keep = [int(c) in set(sel.chosen.get(m, ())) for m, c in zip(df["model"], df["country_code"])]
    return df[keep].reset_index(drop=True)
