"""The experimental conditions a run can cover, each a list of requests plus where its results go.

    RQ1                 English questionnaire, plain prompt       -> RQ1/<model>
    RQ2 (method, country) steering, see inputs/steering/*.json     -> RQ2/<method>/<country>/<model>
    sensitivity variant  RQ1 with fewer/other examples or shuffled options
                                                                   -> Discussion/sensitivity/<variant>/<model>

Everything country- or language-specific comes from `inputs/` (docs/steering.md): no code names a country.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from utils.core.errors import UserError
from utils.core.flag_parser import match_name
from utils.core.paths import INPUTS_DIR, read_json
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.records import ProbeRequest, SurveyItem
from utils.core.results.spec import Experiment, RunSpec
from utils.probing.group_steering import group_phrases, group_shares
from utils.probing.prompts import PromptSet, build_requests, example_from_item, load_prompt_set, whole_phrases


@dataclass(frozen=True)
class Condition:
    """A condition's spec (before the model and the way of asking are filled in) and its requests."""

    spec: RunSpec
    requests: list[ProbeRequest] = field(compare=False)
    shown: dict = field(default_factory=dict, compare=False)  # item id -> perturb.Shown: how --perturb showed it


def _json(path: Path) -> dict:
    return read_json(path, "it is part of the project's inputs")


def steering_countries(inputs_dir: Path = INPUTS_DIR) -> dict[str, dict]:
    return _json(Path(inputs_dir) / "steering" / "countries.json")["countries"]


def steering_methods(inputs_dir: Path = INPUTS_DIR) -> dict[str, dict]:
    return _json(Path(inputs_dir) / "steering" / "methods.json")["methods"]


def paper_steering_methods(inputs_dir: Path = INPUTS_DIR) -> list[str]:
    """The study's five methods, in file order: what `--steering_method all` runs."""
    return [name for name, spec in steering_methods(inputs_dir).items() if spec.get("paper", True)]


def sensitivity_variants(inputs_dir: Path = INPUTS_DIR) -> dict[str, dict]:
    return _json(Path(inputs_dir) / "sensitivity" / "variants.json")["variants"]


def few_shot_items(country: str, inputs_dir: Path = INPUTS_DIR) -> list[dict]:
    """`[{"id": "Q60", "percentages": {"1": 13.79, ...}}, ...]`: the country's real WVS shares."""
    return _json(Path(inputs_dir) / "few_shot" / f"{country}.json")["items"]


def choose(value: str | None, valid: list[str], what: str, all_means: list[str] | None = None) -> list[str]:
    """`all`/None -> `all_means` (default: every valid value); else comma-separated names in any case,
    in the order given, an unknown one a one-line error naming its nearest name.

    >>> choose("korea,Japan", ["Japan", "Korea"], "country")
    ['Korea', 'Japan']
    >>> choose("Japan,Japn", ["Japan", "Korea"], "country")
    Traceback (most recent call last):
    utils.core.errors.UserError: unknown country 'Japn' (did you mean Japan?); choose one of: Japan, Korea (or all)
    """
    if value is None or value.strip().lower() == "all":
        return list(valid if all_means is None else all_means)
    names = [v.strip() for v in value.split(",") if v.strip()]
    try:
        return list(dict.fromkeys(match_name(v, valid, what, extra=" (or all)") for v in names or [value]))
    except ValueError as exc:
        raise UserError(str(exc)) from None


def rq1_items(questions_dir: Path | None = None) -> list[SurveyItem]:
    """The English questionnaire, then the cross-wave items (`WV567.jsonl`) it lacks, worded in
    `extra/WV7_English.jsonl` (Q151), so RQ3 can score all 75; RQ1 still scores only the 144. A
    questions folder without those two files asks its own items."""
    path = questionnaire_path("English", questions_dir)
    items = load_questionnaire(path)
    wave_map, extra = path.parent / "WV567.jsonl", path.parent / "extra" / "WV7_English.jsonl"
    if not (wave_map.is_file() and extra.is_file()):
        return items
    from utils.core.human.wave_map import load_wave_map  # the survey's fixed facts: shared with the analysis

    known = {it.id for it in items}
    worded = {it.id: it for it in load_questionnaire(extra, "English")}
    return items + [worded[w.id] for w in load_wave_map(wave_map) if w.id not in known and w.id in worded]


def sensitivity_condition(variant: str, method: str, select, questions_dir: Path | None) -> Condition:
    spec = sensitivity_variants()[variant]
    qname = spec.get("questionnaire", "English")
    items = select(load_questionnaire(questionnaire_path(qname, questions_dir), "English"))
    ps = load_prompt_set("English", spec.get("examples_file"), spec.get("n_examples"))
    return Condition(RunSpec(Experiment.SENSITIVITY, variant=variant, language="English"),
                     build_requests(items, method, ps))


@dataclass(frozen=True)
class Cell:
    """One condition before it is rendered, so `--perturb` can ask it under other prompts; `steer`
    (RQ2): `build_requests`'s `names`, `phrases`, `real_examples`."""

    items: list[SurveyItem]
    ps: PromptSet
    steer: dict
    spec: RunSpec

    @property
    def real_examples(self) -> bool:
        """Whether the examples shown are real shares (the few-shot methods), i.e. the steering itself."""
        return self.steer.get("real_examples") is not None

    def condition(self, method: str) -> Condition:
        return Condition(self.spec, build_requests(self.items, method, self.ps, **self.steer))


def rq2_cell(country: str, steering: str, select, questions_dir: Path | None, inputs_dir: Path = INPUTS_DIR,
             group: tuple[str, str] | None = None, human: Path | None = None) -> Cell:
    """With `group` (`("age", "18-29")`) the instruction names that group inside the country, few-shot
    examples are the group's own shares where `human` gives them, and the cell has its own spec and
    folder (`RQ2/<method>/<country>/age=18-29`)."""
    spec = steering_methods(inputs_dir)[steering]
    info = steering_countries(inputs_dir)[country]
    language = info["language"] if spec["language"] == "country" else spec["language"]
    if group and not spec.get("names"):
        named = [m for m, s in steering_methods(inputs_dir).items() if s.get("names")]
        raise UserError(f"--group names a group inside the country, which steering method {steering} does not do; "
                        f"use one that names the country's people: {', '.join(named)}")
    ps = load_prompt_set(language, inputs_dir=inputs_dir)
    all_items = load_questionnaire(questionnaire_path(language, questions_dir), language)
    steer: dict = {}
    if spec.get("names"):
        steer["names"] = spec["names"]
        steer["phrases"] = (group_phrases(language, country, group, inputs_dir) if group
                            else country_phrases(ps, country))
    if spec["examples"] == "country":
        steer["real_examples"] = tuple(_real_examples(country, language, all_items, questions_dir, inputs_dir,
                                                      group=group, human=human, code=info.get("wvs_code")))
    spec = RunSpec(Experiment.RQ2, steering=steering, country=country, language=language, group=group or None)
    return Cell(select(all_items), ps, steer, spec)


def country_phrases(ps: PromptSet, country: str) -> dict[str, str]:
    """English Argentina -> `{"people": "Argentinian people", "respondent": "an Argentinian respondent",
    "group": "a group of Argentinian people"}`: whole phrases, so no code composes grammar."""
    return whole_phrases((ps.templates.get("country_phrases") or {}).get(country) or {},
                         f"inputs/prompts/{ps.language}.json", f"{country}; add them under 'country_phrases'")


def _real_examples(country, language, items, questions_dir, inputs_dir, group=None, human=None, code=None):
    """Items outside the 144 are worded in `extra/WV7_<language>.jsonl`; with `group` and `human` the
    shares are that group's, on the same items."""
    by_id = {it.id: it for it in items}
    extra = questionnaire_path(language, questions_dir).parent / "extra" / f"WV7_{language}.jsonl"
    if extra.is_file():
        by_id.update({it.id: it for it in load_questionnaire(extra, language)})
    chosen = few_shot_items(country, inputs_dir)
    missing = [ex["id"] for ex in chosen if ex["id"] not in by_id]
    if missing:
        raise UserError(f"few-shot item {missing[0]} of {country} has no {language} wording; add it to {extra}")
    if group and human:
        own = group_shares(human, country, code, group, [by_id[ex["id"]] for ex in chosen])
        chosen = [{"id": ex["id"], "percentages": own[ex["id"]]} for ex in chosen]
    out = []
    for ex in chosen:
        item = by_id[ex["id"]]
        if set(ex["percentages"]) != set(item.choice_keys):
            raise UserError(f"inputs/few_shot/{country}.json: {ex['id']} gives codes {sorted(ex['percentages'])}, "
                            f"the item has {list(item.choice_keys)}")
        out.append(example_from_item(item, ex["percentages"]))
    return out
