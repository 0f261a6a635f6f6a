"""How answers are read and scored: one value every analysis passes through the same steps.

    side = rules.human(config, policy)                 who answered what (a `Scoring`; the paper's counts)
    answers = rules.rq1_answers(config, side, policy)  each RQ1 model's answers to the side's items
    scores = rules.country_scores(side, answers[m])    [C, I] item scores against every country
    mean, std, n = rules.summarize(scores)             per country, over the items it scored

`OURS` is the corrected arithmetic; `paper.rules.PAPER` the original release's (`--paper-compat`),
whose own statistics an analysis takes from `utils/analysis/paper/` at one place in its body.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from utils.analysis import metrics
from utils.analysis.answers import AnswerPolicy, load_answers, rq1_files
from utils.analysis.scoring import Scoring, load_scoring
from utils.core.results.tree import ResultsFile

if TYPE_CHECKING:
    from utils.analysis.config import AnalysisConfig


@dataclass(frozen=True)
class Rules:
    """Our rules; `paper.rules.PaperRules` overrides each step."""

    paper: bool = False
    suffix: str = ""  # added to every file name
    digits: int = 6  # decimals of the CSVs' numbers
    paired: bool = True  # RQ2's AVG tests only the models that have a No Steering answer

    def models(self, config: AnalysisConfig, experiment: str) -> str | None:
        """The `--models` value to read `experiment` with."""
        return config.models

    def human(self, config: AnalysisConfig, policy: AnswerPolicy, path: Path | None = None, items=None,
              expected_wave: int | None = 7) -> Scoring:
        """The human side on `items` (objects with `id` and `order`; None: the questionnaire's)."""
        ids, orders = ([it.id for it in items], [it.order for it in items]) if items is not None else (None, None)
        return load_scoring(config, policy, ids, orders, path, expected_wave)

    def answers(self, side: Scoring, files: list[ResultsFile], policy: AnswerPolicy) -> dict[str, np.ndarray]:
        ids, orders = list(side.human.item_ids), list(side.human.orders)
        return {f.spec.model: load_answers(f.path, ids, orders, policy) for f in files}

    def rq1_answers(self, config: AnalysisConfig, side: Scoring, policy: AnswerPolicy) -> dict:
        """Each RQ1 model the rules select, answering the side's items."""
        return self.answers(side, rq1_files(config.results_root, self.models(config, "RQ1"), policy), policy)

    def country_scores(self, side: Scoring, answer: np.ndarray) -> np.ndarray:
        return side.scores(answer)

    def average_human(self, side: Scoring) -> np.ndarray:
        """[C, I] every country's answers pooled (the average human) scored against each country."""
        return side.similarity(np.broadcast_to(side.pooled(), side.shares.shape), side.shares)

    def summarize(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return metrics.summarize(scores)

    def average(self, scores: pd.Series) -> float:
        """An average over models (RQ2's AVG row) of their scores."""
        return float(scores.mean())


OURS = Rules()


def country_table(rules: Rules, side, scores: dict[str, np.ndarray], more=None) -> pd.DataFrame:
    """model, country_code, country, score, std, n_items: each model's [C, I] `scores` summarized
    per country by `rules`, countries without a scored item left out; `more(model, s)` adds [C] columns."""
    frames = []
    for model, s in scores.items():
        mean, std, n = rules.summarize(s)
        frames.append(pd.DataFrame({"model": model, "country_code": side.human.country_codes,
                                    "country": side.human.country_names, "score": mean, "std": std, "n_items": n}
                                   | (more(model, s) if more else {})))
    if not frames:
        return pd.DataFrame(columns=["model", "country_code", "country", "score", "std", "n_items"])
    df = pd.concat(frames, ignore_index=True)
    return df[df["n_items"] > 0].reset_index(drop=True)
