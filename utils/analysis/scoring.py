"""Human shares and model answers on the same items and options, scored with `metrics`."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from utils.analysis import metrics
from utils.analysis.answers import AnswerPolicy, questionnaire_items
from utils.core.human.human_data import HumanData, keep_mask, load_human, wave_note
from utils.core.errors import UserError

if TYPE_CHECKING:
    from utils.analysis.config import AnalysisConfig

log = logging.getLogger(__name__)


@dataclass
class Scoring:
    human: HumanData
    shares: np.ndarray  # [C, I, K]
    counts: np.ndarray  # [C, I, K] after dropping options, for the split halves
    n_options: np.ndarray  # [I]
    keep: np.ndarray | None  # [I, K] options kept, None when nothing is dropped
    metric: str = "w1"  # metrics.METRICS key: w1 (the paper's), jsd or tvd

    @classmethod
    def build(cls, human: HumanData, drop_nonsubstantive: bool = False, metric: str = "w1") -> Scoring:
        counts, n_opt, keep = human.counts, human.n_options, None
        if drop_nonsubstantive:
            keep = keep_mask(human.item_ids, human.orders, counts.shape[-1])
            shares, n_opt = metrics.drop_options(counts, keep)
            counts = np.take_along_axis(np.where(keep, counts, 0.0), np.argsort(~keep, -1, kind="stable")[None], -1)
        else:
            shares = human.shares()
        return cls(human, shares, counts, n_opt, keep, metric)

    def model(self, answers: np.ndarray) -> np.ndarray:
        """A model's [I, K] answers, with the same options dropped."""
        return answers if self.keep is None else metrics.drop_options(answers, self.keep)[0]

    def scores(self, answers: np.ndarray) -> np.ndarray:
        """[C, I] alignment of a model with every country, NaN where either side is missing."""
        return self.similarity(self.model(answers)[None], self.shares)

    def similarity(self, p, q) -> np.ndarray:
        """The chosen metric between distributions already in this scoring's options."""
        return metrics.similarity(p, q, self.n_options, self.metric)

    def uniform_scores(self) -> np.ndarray:
        u = metrics.uniform(self.n_options, self.shares.shape[-1])
        return self.similarity(u[None], self.shares)

    def ceiling(self, repeats: int = 10, seed: int = 0) -> np.ndarray:
        """[C, I] split-half alignment of each country; weighted counts are split as whole respondents
        (the table keeps no respondent weights; WVS weights average 1)."""
        known = self.human.has_respondents
        if known is not None and not known.all():
            log.warning("%s gives shares without respondent counts (n) for %d of %d country-items: the "
                        "split-half ceiling is left out there", self.human.source, (~known).sum(), known.size)
        known = np.ones(self.counts.shape[:2], bool) if known is None else known  # a counts table knows them all
        counts = np.where(known[..., None], self.counts, 0.0)
        out = metrics.split_half(counts, self.n_options, np.where(known, self.human.n_invalid, 0.0), repeats, seed,
                                 metric=self.metric)
        return np.where(known, out, np.nan)

    def pooled(self) -> np.ndarray:
        """[I, K] every country's answers together; NaN where some country has no count (no made-up weights)."""
        pooled = self.counts.sum(0)
        known = self.human.has_respondents
        if known is None:
            return pooled
        if not known.all():
            log.warning("%s gives shares without respondent counts (n): the pooled population is left out "
                        "for %d item(s)", self.human.source, (~known.all(0)).sum())
        return np.where(known.all(0)[:, None], pooled, np.nan)


def load_scoring(config: AnalysisConfig, policy: AnswerPolicy | None = None, item_ids=None, orders=None,
                 human_path: Path | None = None, expected_wave: int | None = 7) -> Scoring:
    """The human side as `config` asks (`human_path`: one wave of several); its items count as asked in
    `policy`, and a table of another wave than `expected_wave` (None: any) is a note there."""
    if item_ids is None:
        item_ids, orders = questionnaire_items(config.questions_dir)
    path = human_path or config.human
    human = load_human(path, item_ids, orders, config.weights)
    if not len(human.country_codes):
        raise UserError(f"{path} has no countries")
    if policy is not None:
        answered = human.counts.sum(axis=(0, 2)) > 0  # an item some country answered counts as asked
        policy.asked = (policy.asked or frozenset()) | {i for i, yes in zip(human.item_ids, answered) if yes}
        if note := wave_note(path, human.wave, expected_wave):
            policy.said.note(note)
    return Scoring.build(human, config.drop_nonsubstantive, config.metric)
