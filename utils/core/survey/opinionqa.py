"""OpinionQA's human data folders -> the survey schema (population "United States", groups by attribute).

Files, sources and policies: docs/surveys.md#opinionqa. As OpinionQA's code reads `info.csv`, the
options past `option_ordinal`'s positions are refusals, and one position for all marks a nominal
item. Scored as the OpinionQA paper does: refusals left out, the rest renormalized.
"""
from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

from utils.core.errors import UserError
from utils.core.paths import read_json
from utils.core.survey.literal import parse_literal
from utils.core.survey.data import Cell, Item, Option, Survey, SurveyData, check_item, code_text

POPULATION = "United States"
NON_GROUPS = ("nan", "Refused")
NOT_GROUPS = ("MC_options", "question_text", "marginals")  # keys of a question that hold no group
SOURCE = ("Pew Research Center, American Trends Panel, wave(s) {waves}, as released in OpinionQA's human_resp "
          "folders (Santurkar et al. 2023, github.com/tatsu-lab/opinions_qa)")
LICENCE = "Pew Research Center's terms of use for its survey data; the OpinionQA repository adds no licence"


def read_opinionqa(folder: Path) -> tuple[SurveyData, list[str]]:
    """A wave folder (with info.csv) or a folder of them -> (the survey, one-line notes)."""
    folder = Path(folder)
    waves = [folder] if (folder / "info.csv").is_file() else sorted(p.parent for p in folder.glob("*/info.csv"))
    if not waves:
        raise UserError(f"{folder} holds no info.csv, nor folders that do; pass an American_Trends_Panel_W<N> "
                        "folder or the human_resp folder that holds them")
    items, cells, notes = [], [], Counter()
    for wave in waves:
        wave_items = _read_info(wave / "info.csv", notes)
        answered = _read_groups(wave, wave_items, cells, notes) & wave_items.keys()
        items += [wave_items[k] for k in wave_items if k in answered]
        notes["items without answers in any group file (left out)"] += len(wave_items) - len(answered)
    names = ",".join(re.sub(r"^\D*", "", w.name) or w.name for w in waves)
    survey = Survey("opinionqa", names, SOURCE.format(waves=names), LICENCE, metric="w1", policy="drop")
    return SurveyData(survey, tuple(items), tuple(cells)), [f"{what}: {n}" for what, n in notes.items() if n]


def _read_info(path: Path, notes: Counter) -> dict[str, Item]:
    items = {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        need = ["key", "question", "references", "option_mapping", "option_ordinal"]
        if missing := [c for c in need if c not in (reader.fieldnames or [])]:
            raise UserError(f"{path} lacks column(s) {', '.join(missing)}; is it OpinionQA's info.csv?")
        for row in reader:
            where = f"{path}, line {reader.line_num} ({row['key']})"
            cells = {}
            for name in need[2:]:
                try:
                    cells[name] = parse_literal(row[name])
                except ValueError as exc:
                    raise UserError(f"{where}: {name} is not a Python list or dict ({exc})") from None
            refs, mapping, ordinal = cells["references"], cells["option_mapping"], cells["option_ordinal"]
            if not (isinstance(refs, list) and isinstance(mapping, dict) and isinstance(ordinal, list)) or \
                    not all(isinstance(p, (int, float)) for p in ordinal) or len(ordinal) > len(refs):
                raise UserError(f"{where}: references and option_ordinal must be lists (no more positions than "
                                "options) and option_mapping a dict of codes")
            code_of = {str(label): code_text(code) for code, label in mapping.items()}
            if unknown := [r for r in refs if r not in code_of]:
                raise UserError(f"{where}: option(s) {unknown} of references are not in option_mapping")
            flat = len(set(ordinal)) == 1
            notes["items with one position for every option (made nominal)"] += flat
            options = tuple(Option(code_of[r], r, None if flat or k >= len(ordinal) else float(ordinal[k]))
                            for k, r in enumerate(refs))
            item = Item(row["key"], row["question"], options, "nominal" if flat else "ordinal",
                        tuple(code_of[r] for r in refs[len(ordinal):]))
            check_item(item, where)
            items[item.id] = item
    return items


def _read_groups(wave: Path, items: dict[str, Item], cells: list[Cell], notes: Counter) -> set[str]:
    """Group cells of every `<ATTRIBUTE>_data.json` into `cells`, then the whole population's: the
    one-attribute file with the most answers to the question, non-groups included (`NONE_data.json`
    holds party groups in the released waves). Returns the keys that got answers."""
    whole: dict[str, tuple[float, dict]] = {}
    for path in sorted(wave.glob("*_data.json")):
        var = path.name[: -len("_data.json")]
        if var == "NONE":
            continue
        for key, question in read_json(path, "").items():
            if not isinstance(question, dict) or "MC_options" not in question:
                raise UserError(f"{path}: question {key} has no MC_options; is it an OpinionQA group file?")
            if key not in items:
                notes["questions in group files but not in info.csv (left out)"] += 1
                continue
            groups = list(_groups(question, path, key))
            if all(len(labels) == 1 for labels, _ in groups):  # one attribute: together, everyone
                total = Counter()
                for _, answers in groups:
                    total.update(answers)
                if sum(total.values()) > whole.get(key, (0.0,))[0]:
                    whole[key] = (sum(total.values()), dict(total))
            for labels, answers in groups:
                if any(label in NON_GROUPS for label in labels):
                    notes["group cells whose label is no group (nan, Refused), left out"] += 1
                else:
                    cells += _cells(items[key], var, "/".join(labels), answers, notes)
    for key, (_, answers) in whole.items():
        cells += _cells(items[key], "", "", answers, notes)
    return set(whole) | {c.item_id for c in cells}


def _groups(question: dict, path: Path, key: str):
    """(labels, answers by option text) of a question's groups, one level deep or two."""
    for label, value in question.items():
        if label in NOT_GROUPS:
            continue
        if not isinstance(value, dict):
            raise UserError(f"{path}: question {key}, group {label}: expected answers by option, not {value!r}")
        nested = any(isinstance(v, dict) for v in value.values())
        for labels, answers in (((label, k), v) for k, v in value.items()) if nested else [((label,), value)]:
            if not isinstance(answers, dict) or not all(isinstance(n, (int, float)) for n in answers.values()):
                raise UserError(f"{path}: question {key}, group {'/'.join(labels)}: expected numbers by option")
            yield labels, answers


def _cells(item: Item, var: str, group: str, answers: dict, notes: Counter) -> list[Cell]:
    labels = {o.label: o.code for o in item.options}
    if unknown := [a for a in answers if a not in labels]:
        notes["answers under a label info.csv does not list (left out)"] += len(unknown)
    counts = {c: 0.0 for c in item.scored("drop")}
    for label, n in answers.items():
        if labels.get(label) in counts:
            counts[labels[label]] += float(n)
    total = sum(counts.values())
    if total <= 0:
        notes["group cells with no answer but refusals (left out)"] += 1
        return []
    return [Cell(POPULATION, var, group, item.id, code, n / total, n) for code, n in counts.items()]
