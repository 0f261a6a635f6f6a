"""`PAPER`: the steps of `utils/analysis/rules.py` done as the release's notebooks do them: unweighted
counts, the items in the notebooks' order, each id's first row, the sorted-key support, rounded means.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from utils.analysis.answers import AnswerPolicy, model_files
from utils.core.human.human_data import wave_note
from utils.analysis.paper.answers import first_rows, rq1_questions
from utils.analysis.paper.human import PaperHuman, load_paper_human
from utils.analysis.paper.models import ALL, paper_selection
from utils.analysis.paper.notebooks import sorted_score
from utils.analysis.rules import Rules
from utils.core.results.tree import ResultsFile


@dataclass(eq=False)
class PaperSide:
    """The paper's human side: counts and the items (id -> codes) the notebooks score, in their order."""

    human: PaperHuman
    questions: dict[str, list[str]]
    _dists: dict = field(default_factory=dict, repr=False)

    def dists(self, country: int | None) -> dict[str, dict]:
        """id -> {code: share} of one country (None: all pooled), computed once."""
        if country not in self._dists:
            self._dists[country] = self.human.dists(self.questions, country)
        return self._dists[country]


@dataclass(frozen=True)
class PaperRules(Rules):
    paper: bool = True
    suffix: str = "_paper_compat"
    digits: int = 12  # scores are rounded to 4 decimals already; means of them are kept whole
    paired: bool = False  # AVG pools the item scores of all models

    def models(self, config, experiment: str) -> str | None:
        """The paper's seven among the models found (`paper.models`), unless `--models` says otherwise."""
        return paper_selection(config.models, [f.spec.model for f in model_files(config.results_root, experiment, ALL)])

    def human(self, config, policy: AnswerPolicy, path: Path | None = None, items=None,
              expected_wave: int | None = 7) -> PaperSide:
        path = path or config.human
        human = load_paper_human(path)
        if note := wave_note(path, human.wave, expected_wave):
            policy.said.note(note)
        if items is not None:
            return PaperSide(human, {it.id: list(it.choice_keys) for it in items})
        rq1 = model_files(config.results_root, "RQ1") if Path(config.results_root).is_dir() else []
        return PaperSide(human, rq1_questions(config.questions_dir, rq1))

    def answers(self, side: PaperSide, files: list[ResultsFile], policy: AnswerPolicy) -> dict[str, dict]:
        return {f.spec.model: first_rows(f.path, side.questions) for f in files}

    def country_scores(self, side: PaperSide, answer: dict) -> np.ndarray:
        return _grid(side, answer)

    def average_human(self, side: PaperSide) -> np.ndarray:
        """The pooled counts first, as the model-level notebook puts the human side first."""
        return _grid(side, side.dists(None))

    def average(self, scores) -> float:
        return float(np.round(scores.mean(), 4))

    def summarize(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: the mean and std (ddof 0) of its scored items rounded to 4 decimals (NaN for none), and
        their number."""
        rows = [row[np.isfinite(row)] for row in np.atleast_2d(scores)]
        mean = [np.round(np.mean(r), 4) if r.size else np.nan for r in rows]
        std = [np.round(np.std(r), 4) if r.size else np.nan for r in rows]
        return np.array(mean, dtype=float), np.array(std, dtype=float), np.array([r.size for r in rows])


def _grid(side: PaperSide, first: dict) -> np.ndarray:
    """[C, I] `sorted_score` of `first` (the first side) against each country's shares."""
    codes = side.human.country_codes
    return np.array([[sorted_score(first, side.dists(c), q) for q in side.questions] for c in codes]).reshape(
        len(codes), len(side.questions))


PAPER = PaperRules()
