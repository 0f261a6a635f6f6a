"""Steering toward a respondent group inside a country (RQ2 `--group age=18-29`): the phrases
that name the group, and the group's own shares for the few-shot examples.

Phrases are data, `inputs/groups/phrases/<Language>.json`: per group the three whole phrases, `$place`
filled by the country's own phrase from the same file, so the case, article or particle each template
needs is written out per language, never composed:

    English, Japan, age=18-29 -> people "people aged 18 to 29 in Japan",
                                 respondent "a respondent aged 18 to 29 in Japan",
                                 group "a group of people aged 18 to 29 in Japan"
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from utils.core.errors import UserError
from utils.core.paths import INPUTS_DIR, read_json
from utils.core.records import SurveyItem
from utils.probing.prompts import whole_phrases


def group_phrases(language: str, country: str, group: tuple[str, str], inputs_dir: Path = INPUTS_DIR) -> dict[str, str]:
    """The whole phrases naming `group` of `country` in `language` (see the module docstring)."""
    path = Path(inputs_dir) / "groups" / "phrases" / f"{language}.json"
    data = read_json(path, f"no group phrases for {language}; add them (see inputs/groups/phrases/)")
    key = f"{group[0]}={group[1]}"
    place = data.get("places", {}).get(country)
    forms = data.get("groups", {}).get(key)
    if place is None:
        raise UserError(f"{path} has no place phrase for {country}; it has: {', '.join(data.get('places', {}))}")
    if forms is None:
        raise UserError(f"{path} has no phrases for {key}; it has: {', '.join(data.get('groups', {}))}")
    return whole_phrases(forms, str(path), key, place=place)


def group_shares(human: Path, country: str, country_code: int, group: tuple[str, str],
                 items: list[SurveyItem]) -> dict[str, dict[str, float]]:
    """{item id: {code: percent of valid answers, two decimals}} of `group` in the country, as
    `inputs/few_shot/<Country>.json` gives the country's."""
    from utils.core.human.human_data import load_human  # the one reader of the long table (as rq1_items: wave map)

    data = load_human(human, [it.id for it in items], [tuple(it.order) for it in items], group=group)
    where = np.flatnonzero(data.country_codes == int(country_code))
    if not len(where):
        raise UserError(f"{human} has no {group[0]}={group[1]} answers for {country} (WVS code {country_code}); "
                        "the group may have been dropped for size (--min-group-n), or leave out --human to use "
                        "the country's own shares")
    shares = data.shares()[where[0]]
    out = {}
    for i, it in enumerate(items):
        if not np.isfinite(shares[i, 0]):
            raise UserError(f"{human}: {country}'s {group[0]}={group[1]} group has no answers to few-shot item "
                            f"{it.id}; leave out --human to use the country's own shares")
        out[it.id] = {code: round(100 * float(shares[i, k]), 2) for k, code in enumerate(it.order)}
    return out
