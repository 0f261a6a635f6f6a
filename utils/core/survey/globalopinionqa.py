"""GlobalOpinionQA's `global_opinions.csv` -> the survey schema (one population per country).

File and policies: docs/surveys.md#globalopinionqa. Items are nominal, scored by 1 - Jensen-Shannon
distance as in the GlobalOpinionQA paper; "DK/Refused"-like options are kept (the file's shares
include them). An item's id is its source and 10 hex digits of the SHA-1 of its text
(`GAS_1a2b3c4d5e`), stable across copies of the file; a text seen again gets `_2`, `_3`.
"""
from __future__ import annotations

import csv
import hashlib
import math
import re
from pathlib import Path

from utils.core.errors import UserError
from utils.core.survey.literal import parse_literal
from utils.core.survey.data import Cell, Item, Option, Survey, SurveyData, check_item

COLUMNS = ("question", "selections", "options", "source")
SUM_TOLERANCE = 0.05  # the file's shares are rounded percents: sums of 0.99 or 1.01 are normal
NON_SUBSTANTIVE = re.compile(r"\b(DK|don.t know|refused|no answer)\b", re.I)
SOURCE = ("GlobalOpinionQA (Durmus et al. 2023), Anthropic/llm_global_opinions on the Hugging Face hub, "
          "data/global_opinions.csv; questions from the Pew Global Attitudes Survey (GAS) and the WVS")
LICENCE = "CC BY-NC-SA 4.0 (the dataset card); the Pew and WVS data behind it keep their own terms"


def read_globalopinionqa(path: Path) -> tuple[SurveyData, list[str]]:
    """The CSV -> (the survey, one line per question left out and why)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} not found; pass GlobalOpinionQA's global_opinions.csv")
    items, cells, notes, seen = [], [], [], {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if missing := [c for c in COLUMNS if c not in (reader.fieldnames or [])]:
            raise UserError(f"{path} lacks column(s) {', '.join(missing)}; is it GlobalOpinionQA's file?")
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            options, selections = _parse(row, where)
            problem = _problem(options, selections)
            if problem:
                notes.append(f"{where}: left out: {problem} ({row['question'][:60]!r})")
                continue
            digest = hashlib.sha1(row["question"].strip().encode("utf-8")).hexdigest()[:10]
            base = f"{re.sub(r'[^A-Za-z0-9]+', '', row['source']) or 'Q'}_{digest}"
            seen[base] = seen.get(base, 0) + 1
            item_id = base if seen[base] == 1 else f"{base}_{seen[base]}"
            codes = [str(k) for k in range(1, len(options) + 1)]
            item = Item(item_id, row["question"], tuple(Option(c, o) for c, o in zip(codes, options)), "nominal",
                        tuple(c for c, o in zip(codes, options) if NON_SUBSTANTIVE.search(o)))
            check_item(item, where)
            items.append(item)
            for country, shares in selections.items():
                total = sum(shares)
                cells += [Cell(country, "", "", item_id, c, s / total) for c, s in zip(codes, shares)]
    repeated = sum(n - 1 for n in seen.values())
    if repeated:
        notes.append(f"{repeated} question text(s) seen again got _2, _3, ... after their id")
    survey = Survey("globalopinionqa", "", SOURCE, LICENCE, metric="jsd", policy="keep")
    return SurveyData(survey, tuple(items), tuple(cells)), notes


def _parse(row: dict, where: str) -> tuple[list, dict]:
    try:
        options, selections = parse_literal(row["options"] or ""), parse_literal(row["selections"] or "")
    except ValueError as exc:
        raise UserError(f"{where}: options or selections is not the Python text of a list or dict ({exc})") from None
    if not (isinstance(options, list) and all(isinstance(o, str) for o in options)):
        raise UserError(f"{where}: options must be a list of texts, not {row['options'][:80]!r}")
    if not (isinstance(selections, dict) and all(isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)
                                                 for v in selections.values())):
        raise UserError(f"{where}: selections must map each country to a list of shares, not "
                        f"{row['selections'][:80]!r}")
    return options, {str(k): [float(x) for x in v] for k, v in selections.items()}


def _problem(options: list[str], selections: dict[str, list[float]]) -> str:
    """Why a question cannot be scored (repeated options, merged share lists, sums far from 1), or ''."""
    if len(set(options)) != len(options) or len(options) < 2:
        return f"options repeat, or fewer than two: {options}"
    for country, shares in selections.items():
        if len(shares) != len(options):
            return f"{country} has {len(shares)} shares for {len(options)} options (merged options?)"
        if not math.isclose(sum(shares), 1.0, abs_tol=SUM_TOLERANCE) or min(shares) < 0:
            return f"{country}'s shares {shares} are not fractions summing to about 1"
    return "" if selections else "no country has shares"
