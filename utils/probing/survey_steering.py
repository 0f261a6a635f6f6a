"""Persona steering toward a population of an imported survey, or a group inside it (code/RQ2
`--survey`): which cells a run asks and the phrases that name them.

Phrases are data, `inputs/surveys/phrases/English.json`: per group variable the three whole persona
phrases, with `$place` (the population) and `$label` (the group as the survey writes it); a variable
without its own takes the file's `default`:

    United States                 -> people "people in the United States"
    United States, POLPARTY=Democrat -> people "people in the United States who identify as Democrat"
"""
from __future__ import annotations

from pathlib import Path

from utils.core.errors import UserError
from utils.core.flag_parser import match_name
from utils.core.paths import INPUTS_DIR, read_json
from utils.core.results.spec import Experiment, RunSpec
from utils.core.survey.asked import asked_items
from utils.core.survey.files import populations
from utils.probing.conditions import Cell, choose, steering_methods
from utils.probing.prompts import load_prompt_set, whole_phrases

STEERING = "persona"


def survey_phrases(population: str, group: tuple[str, str] | None, inputs_dir: Path = INPUTS_DIR) -> dict[str, str]:
    """The persona phrases naming `population`, or `group` (`("POLPARTY", "Democrat")`) inside it."""
    path = Path(inputs_dir) / "surveys" / "phrases" / "English.json"
    data = read_json(path, "it holds the phrases that steer toward a survey's populations")
    place = data.get("places", {}).get(population, population)
    forms = data["population"] if group is None else data.get("variables", {}).get(group[0], data["default"])
    var, label = group or ("", "")
    return whole_phrases(forms, str(path), var or "a population", place=place, var=var, label=label)


def survey_cells(config, select, inputs_dir: Path = INPUTS_DIR) -> list[Cell]:
    """One cell per population (`--country`) or group inside it (`--group`)."""
    methods = choose(config.steering_method, list(steering_methods(inputs_dir)), "steering method", [STEERING])
    if methods != [STEERING]:
        raise UserError(f"--survey steers with persona only, not {', '.join(m for m in methods if m != STEERING)}: "
                        "the language methods need the survey in other languages, the few-shot ones real shares as "
                        "examples")
    if config.human is not None:
        raise UserError("--human feeds the WVS few-shot examples; leave it out with --survey")
    survey, items = asked_items(config.survey)
    cells = populations(config.survey)
    chosen_items = select(items)
    targets = choose(config.country, list(cells), "population")
    asked = [(pop, None) for pop in targets] if not config.group else \
        [(pop, survey_group(text, pop, cells[pop], config.survey)) for text in config.group for pop in targets]
    names = steering_methods(inputs_dir)[STEERING]["names"]
    ps, out = load_prompt_set("English", inputs_dir=inputs_dir), []
    for population, group in dict.fromkeys(asked):
        steer = {"names": names, "phrases": survey_phrases(population, group, inputs_dir)}
        spec = RunSpec(Experiment.RQ2, steering=STEERING, country=population, language="English", group=group,
                       survey=survey.name, survey_wave=survey.wave)
        out.append(Cell(chosen_items, ps, steer, spec))
    return out


def survey_group(text: str, population: str, groups: list[tuple[str, str]], where: Path) -> tuple[str, str]:
    """`POLPARTY=Democrat` -> ("POLPARTY", "Democrat"), checked against the population's groups
    in the survey's table (variable and label in any case; a near miss is suggested)."""
    var, sep, label = text.partition("=")
    if not sep or not var.strip() or not label.strip():
        raise UserError(f"--group {text!r}: write VAR=LABEL, e.g. POLPARTY=Democrat")
    variables = list(dict.fromkeys(v for v, _ in groups))
    if not variables:
        raise UserError(f"{where}: the survey's table has no groups for {population}; leave out --group")
    try:
        var = match_name(var.strip(), variables, f"group variable of {population}")
        label = match_name(label.strip(), [g for v, g in groups if v == var], f"{var} group")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return var, label
