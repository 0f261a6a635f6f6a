"""An imported survey's items as `SurveyItem`s, the one item type the probers know.

Every option is shown, refusals included: scoring drops the model's share for them as the survey's
policy drops the people's. An ordinal item's `order` is its codes by position, ties in source order,
non-substantive last; the positions themselves stay in the questionnaire, for the analysis.

    >>> from utils.core.survey.data import Item, Option
    >>> item = Item("WORLD_W26", "Compared to 50 years ago...", (Option("1", "Safer", 1.0),
    ...             Option("2", "More dangerous", 2.0), Option("3", "Neither", 1.5), Option("99", "Refused")),
    ...             non_substantive=("99",))
    >>> asked = as_asked(item)
    >>> asked.choice_keys, asked.order
    (('1', '2', '3', '99'), ('1', '3', '2', '99'))
"""
from __future__ import annotations

from pathlib import Path

from utils.core.records import SurveyItem
from utils.core.survey.data import Item, Survey
from utils.core.survey.files import read_questionnaire


def as_asked(item: Item, language: str = "English") -> SurveyItem:
    codes = item.codes
    if item.scale == "ordinal":
        placed = [o for o in item.options if o.position is not None]
        order = tuple(o.code for o in sorted(placed, key=lambda o: o.position)) + \
            tuple(o.code for o in item.options if o.position is None)
    else:
        order = codes
    return SurveyItem(item.id, item.translations.get(language, item.question), tuple(o.label for o in item.options),
                      codes, "", scale=item.scale, order=order, language=language)


def asked_items(questions: Path) -> tuple[Survey, list[SurveyItem]]:
    """`<name>.questions.jsonl` (and its `<name>.survey.json`) -> the survey and its items to ask."""
    survey, items = read_questionnaire(questions)
    return survey, [as_asked(it, survey.language) for it in items]
