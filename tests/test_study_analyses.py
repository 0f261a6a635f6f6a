"""The study runner builds each analysis' typed options from the study's keys: the paper-compat
pass drops the corrected analysis's own choices, which `--paper-compat` refuses, and keeps the rest."""
from __future__ import annotations

import doctest

import pytest

from utils.analysis.registry import ANALYSES
from utils.core.errors import UserError
from utils.study import analyses


def test_docstring_examples():
    assert doctest.testmod(analyses).failed == 0


def test_the_paper_pass_drops_what_the_papers_rules_refuse(tmp_path):
    flags = {"metric": "tvd", "weights": "survey", "drop_nonsubstantive": True, "min_coverage": 0.5, "formats": ["png"]}
    own = {"bootstrap": "respondents", "n_boot": 9}
    human = {7: tmp_path / "WV7.csv"}
    ours, ours_opts = analyses.configure(ANALYSES["rq1_model_level"], tmp_path, tmp_path / "f", human, flags, own,
                                         False, None)
    paper, paper_opts = analyses.configure(ANALYSES["rq1_model_level"], tmp_path, tmp_path / "f", human, flags, own,
                                           True, None)
    assert (ours.metric, ours.weights, ours.drop_nonsubstantive, ours.rules.paper) == ("tvd", "survey", True, False)
    assert (paper.metric, paper.weights, paper.drop_nonsubstantive, paper.rules.paper) == ("w1", "none", False, True)
    assert ours.min_coverage == paper.min_coverage == 0.5 and paper.output.formats == ("png",)
    assert (ours_opts.bootstrap, paper_opts.bootstrap, paper_opts.n_boot) == ("respondents", "items", 9)
    assert paper.output.suffix == "_paper_compat" and paper.human == tmp_path / "WV7.csv"


def test_a_group_variable_reaches_the_analyses_that_take_it(tmp_path):
    human = {w: tmp_path / f"WV{w}.csv" for w in (5, 6, 7)}
    _, opts = analyses.configure(ANALYSES["rq1_country_level"], tmp_path, tmp_path, human, {}, {}, False, "age")
    config, _ = analyses.configure(ANALYSES["rq3_temporal"], tmp_path, tmp_path, human, {}, {}, False, None)
    assert opts.by == "age" and config.human == tuple(human[w] for w in (5, 6, 7))


@pytest.mark.parametrize("values, message", [
    ({"min_coverage": "most"}, "[analysis]: min_coverage takes float, not 'most'"),
    ({"seeed": 1}, "'seeed' is not an option of the analyses (did you mean seed?)"),
    ({"out": "figures"}, "out is set by the study"),
])
def test_shared_keys_are_checked_with_one_line(values, message):
    with pytest.raises(UserError) as err:
        analyses.check_shared(values)
    assert message in str(err.value)


def test_shared_keys_take_the_toml_types():
    shared = analyses.shared_options({"min_coverage": 0, "models": ["a", "b"], "formats": ["png", "pdf"]})
    assert (shared.min_coverage, shared.models, shared.formats) == (0.0, "a,b", "png,pdf")
