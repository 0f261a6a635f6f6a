"""Every analysis by name. `ANALYSES[name].run(config, options, said)` returns the files it wrote and
tells `said` what the caller shows.

    >>> entry = ANALYSES["rq1_country_level"]
    >>> entry.needs, entry.paper, entry.options().n_boot
    (('RQ1',), True, 1000)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from utils.analysis.elicitation import ElicitationOptions, elicitation
from utils.analysis.internal_consistency import ConsistencyOptions, internal_consistency
from utils.analysis.options import NoOptions
from utils.analysis.parse_report import ParseReportOptions, parse_report
from utils.analysis.robustness.analysis import RobustnessOptions, robustness
from utils.analysis.rq1.average_human import AverageHumanOptions, rq1_average_human
from utils.analysis.rq1.country_level import CountryLevelOptions, rq1_country_level
from utils.analysis.rq1.closest_group import GroupsOptions, rq1_groups
from utils.analysis.rq1.matrix import MatrixOptions, human_alignment_matrix
from utils.analysis.rq1.model_level import ModelLevelOptions, rq1_model_level
from utils.analysis.rq2 import SteeringOptions, rq2_steering
from utils.analysis.rq3 import TemporalOptions, rq3_temporal
from utils.analysis.sensitivity import sensitivity
from utils.analysis.survey.human_pairs import survey_human_pairs
from utils.analysis.survey.survey_scores import SurveyFiles, SurveyOptions, survey_scores


SURVEY_UNSHARED = ("weights", "drop_nonsubstantive", "questions_dir", "metric")


@dataclass(frozen=True)
class Analysis:
    """One analysis. `needs`: the experiments whose results must exist ("perturbed": `--perturb`
    runs); `waves`: the human tables it reads; `groups`: how a study's `[analysis] by` reaches it
    ("takes": as `by`; "needs": it runs only with one; "runs": where RQ2 runs steered toward that
    variable exist); `paper`: takes `--paper-compat`; `methods`: a study runs it across the probe
    methods' result trees; `unshared`: shared options not offered; `survey`: scores an imported survey."""

    name: str
    run: Callable
    options: type = NoOptions
    needs: tuple[str, ...] = ("RQ1",)
    waves: tuple[int, ...] = (7,)
    groups: str = ""
    paper: bool = True
    shared: bool = True
    methods: bool = False
    unshared: tuple[str, ...] = ()
    survey: bool = False


ANALYSES = {a.name: a for a in (
    Analysis("parse_report", parse_report, ParseReportOptions, (), (), paper=False, shared=False),
    Analysis("rq1_country_level", rq1_country_level, CountryLevelOptions, groups="takes"),
    Analysis("rq1_groups", rq1_groups, GroupsOptions, groups="needs", paper=False),
    Analysis("rq1_model_level", rq1_model_level, ModelLevelOptions),
    Analysis("rq1_average_human", rq1_average_human, AverageHumanOptions),
    Analysis("human_alignment_matrix", human_alignment_matrix, MatrixOptions),
    Analysis("rq2_steering", rq2_steering, SteeringOptions, ("RQ1", "RQ2"), groups="runs"),
    Analysis("internal_consistency", internal_consistency, ConsistencyOptions),  # RQ2's conditions where they exist
    Analysis("sensitivity", sensitivity, needs=("RQ1", "sensitivity")),
    Analysis("rq3_temporal", rq3_temporal, TemporalOptions, waves=(5, 6, 7)),
    Analysis("elicitation", elicitation, ElicitationOptions, paper=False, methods=True),
    Analysis("robustness", robustness, RobustnessOptions, ("RQ1", "perturbed"), paper=False),
    Analysis("survey_scores", survey_scores, SurveyOptions, ("survey",), (), paper=False, unshared=SURVEY_UNSHARED,
             survey=True),
    Analysis("survey_human_pairs", survey_human_pairs, SurveyFiles, (), (), paper=False, unshared=SURVEY_UNSHARED,
             survey=True),
)}
