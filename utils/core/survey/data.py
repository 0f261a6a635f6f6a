"""The survey-agnostic records: a survey, its items and its human answers per population cell.

One shape for every source, so nothing downstream branches on the survey. An OpinionQA item and a cell:

    Item("WORLDDANGER_W26", "Compared to 50 years ago, do you think", (Option("1", "Safer", 1.0),
         Option("2", "More dangerous", 2.0), Option("3", "Neither", 1.5), Option("99", "Refused", None)),
         scale="ordinal", non_substantive=("99",))
    Cell("United States", "POLPARTY", "Democrat", "WORLDDANGER_W26", "1", share=0.1333, count=198.0)

Positions may tie (OpinionQA's "neither" at 1.5); None for every option of a nominal item and for
an ordinal one's non-substantive options. A cell's shares sum to 1 over the options its policy
scores: `"drop"` leaves the non-substantive ones out (OpinionQA's refusals), `"keep"` scores them
(the WVS's "Hard to say").
"""
from __future__ import annotations

from dataclasses import dataclass, field

from utils.core.errors import UserError

METRICS = ("w1", "jsd", "tvd")  # 1 - W1/(N-1) over positions, 1 - Jensen-Shannon distance, 1 - TVD
POLICIES = ("keep", "drop")  # non-substantive options scored as options, or left out and renormalized
SCALES = ("ordinal", "nominal")


@dataclass(frozen=True)
class Survey:
    name: str
    wave: str = ""
    source: str = ""
    licence: str = ""
    metric: str = "w1"
    policy: str = "keep"
    language: str = "English"


@dataclass(frozen=True)
class Option:
    code: str
    label: str
    position: float | None = None


@dataclass(frozen=True)
class Item:
    """`options` in the source's order; `translations`: language -> question text."""

    id: str
    question: str
    options: tuple[Option, ...]
    scale: str = "ordinal"
    non_substantive: tuple[str, ...] = ()
    translations: dict[str, str] = field(default_factory=dict)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(o.code for o in self.options)

    def scored(self, policy: str) -> tuple[str, ...]:
        """The codes a cell's shares cover under `policy`."""
        return tuple(c for c in self.codes if policy == "keep" or c not in self.non_substantive)


@dataclass(frozen=True)
class Cell:
    """One option's share of a population; `group_var` and `group` empty for the whole population."""

    population: str
    group_var: str
    group: str
    item_id: str
    option: str
    share: float
    count: float | None = None


@dataclass(frozen=True)
class SurveyData:
    survey: Survey
    items: tuple[Item, ...]
    cells: tuple[Cell, ...]


def survey_from(meta: dict, where: str) -> Survey:
    """A codebook's [survey] or a `<name>.survey.json` -> a checked `Survey`."""
    if not isinstance(meta, dict):
        raise UserError(f"{where}: the survey's description must be a table of name, wave, source, ...")
    survey = Survey(str(meta.get("name", "")), str(meta.get("wave", "")), str(meta.get("source", "")),
                    str(meta.get("licence", "")), str(meta.get("metric", "w1")),
                    str(meta.get("non_substantive_policy", "keep")), str(meta.get("language", "English")))
    if survey.metric not in METRICS:
        raise UserError(f"{where}: metric must be one of {', '.join(METRICS)}, not {survey.metric!r}")
    if survey.policy not in POLICIES:
        raise UserError(f"{where}: non_substantive_policy must be keep or drop, not {survey.policy!r}")
    if not survey.name or any(c in survey.name for c in "/\\"):
        raise UserError(f"{where}: the survey needs a name usable as a file name, not {survey.name!r}")
    return survey


def survey_json(s: Survey) -> dict:
    return {"name": s.name, "wave": s.wave, "source": s.source, "licence": s.licence, "metric": s.metric,
            "non_substantive_policy": s.policy, "language": s.language}


def code_text(value) -> str:
    """1, 1.0 and '1' -> '1'; 2.5 -> '2.5'; 'DE' -> 'DE'."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value).strip()
    return str(int(f)) if f.is_integer() else repr(f)


def check_item(item: Item, where: str) -> None:
    codes = item.codes
    if len(codes) < 2 or len(set(codes)) != len(codes):
        raise UserError(f"{where}: item {item.id} needs at least two options with distinct codes, not {list(codes)}")
    if item.scale not in SCALES:
        raise UserError(f"{where}: item {item.id} scale must be ordinal or nominal, not {item.scale!r}")
    if not set(item.non_substantive) <= set(codes):
        raise UserError(f"{where}: item {item.id} lists non-substantive codes {list(item.non_substantive)} "
                        f"that are not among its option codes {list(codes)}")
    for o in item.options:  # a non-substantive option of an ordinal item may have a place (WVS) or not
        if item.scale == "nominal" and o.position is not None:
            raise UserError(f"{where}: item {item.id} is nominal, so option {o.code} takes null as its position")
        if item.scale == "ordinal" and o.position is None and o.code not in item.non_substantive:
            raise UserError(f"{where}: item {item.id} is ordinal, so option {o.code} needs a number as its position")
