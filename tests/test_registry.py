"""The registry of analyses: --paper-compat is offered exactly where the analysis reads through the
rules it is given, the study refuses a key an analysis' options do not have, and an analysis
returns what it has to say (coverage lines, notes) instead of printing or logging it."""
from __future__ import annotations

import logging
from dataclasses import dataclass, fields

import pytest
from test_figures import M1, M2, write_human, write_results
from wvs_fixtures import load_script

from utils.analysis.config import AnalysisConfig, SharedOptions
from utils.analysis.coverage import Said
from utils.analysis.registry import ANALYSES
from utils.analysis.rules import Rules
from utils.core.errors import UserError
from utils.study.analyses import check_script_flags


class RulesUsed(Exception):
    """Raised by `Spy` the moment an analysis asks its rules for the human side."""


@dataclass(frozen=True)
class Spy(Rules):
    def human(self, *args, **kwargs):
        raise RulesUsed


@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_paper_compat_is_offered_where_the_rules_are_used(tmp_path, name):
    """An analysis whose human side does not come from `config.rules` could not honour the
    paper's rules: its script must not offer --paper-compat (and one that reads through them must)."""
    entry = ANALYSES[name]
    missing = tmp_path / "absent.csv"
    config = AnalysisConfig(human=(missing,) * 3 if entry.waves == (5, 6, 7) else missing,
                            results_root=tmp_path / "results", rules=Spy())
    options = entry.options()
    if name == "parse_report":
        options = type(options)(out=tmp_path / "p.csv")
    with pytest.raises((RulesUsed, UserError)) as raised:
        entry.run(config, options, Said())
    offered = "--paper-compat" in load_script(f"show_results/{name}.py").build_parser()._option_string_actions
    assert raised.type is RulesUsed if entry.paper else raised.type is UserError
    assert offered == entry.paper


@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_the_study_checks_script_keys_against_the_options(name):
    entry = ANALYSES[name]
    for f in fields(entry.options):  # every option of the analysis can be set, at its default
        unset = {"by": "age", "compare": ["x"], "survey_metric": "jsd"}
        default = f.default if f.default is not None else unset.get(f.name, "x")
        check_script_flags(name, {f.name: list(default) if isinstance(default, tuple) else
                                  str(default) if hasattr(default, "is_dir") else default})
    with pytest.raises(UserError, match=rf"\[analysis.scripts.{name}\]: 'n_bot' is not an option of "
                                        rf"show_results/{name}.py"):
        check_script_flags(name, {"n_bot": 5})


def test_coverage_is_returned_not_printed_or_logged(tmp_path, capsys, caplog):
    res = tmp_path / "results"
    write_results(res / "RQ1" / "org" / "m1" / "results.csv", {k: v for k, v in M1.items() if k != "Q57"})
    write_results(res / "RQ1" / "m2" / "results.csv", M2)
    human = write_human(tmp_path / "WV7.csv")
    entry = ANALYSES["rq1_country_level"]
    caplog.set_level(logging.DEBUG)
    said = Said()
    config = AnalysisConfig.of(SharedOptions(out=tmp_path / "o", formats="png", min_coverage=0), res, human)
    entry.run(config, entry.options(n_boot=20, repeats=2), said)
    said = [line for line in said.shown() if line.startswith("coverage ")]
    (m1,) = [line for line in said if "/m1/results.csv: 2/144 items scored" in line]
    assert len(said) == 2 and m1.endswith("1 absent (Q57)")
    assert capsys.readouterr() == ("", "")
    assert not [r for r in caplog.records if "items scored" in r.getMessage()]
