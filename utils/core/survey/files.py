"""A survey on disk: three files side by side (docs/surveys.md), written whole or not at all.

    <name>.survey.json       {"name": "opinionqa", "wave": "26", "metric": "w1", "non_substantive_policy": "drop", ...}
    <name>.questions.jsonl   {"id": "WORLDDANGER_W26", "question": "...", "scale": "ordinal", "non_substantive": ["99"],
                              "options": [{"code": "1", "label": "We live in a safer world", "position": 1.0}, ...]}
    <name>.csv               population,group_var,group,item_id,option,share,count
                             United States,,,WORLDDANGER_W26,1,0.0969449121962954,403

Reading names the file and line of the first problem.
"""
from __future__ import annotations

import csv
import json
import math
import os
from collections import defaultdict
from pathlib import Path

from utils.core.errors import UserError
from utils.core.paths import read_json
from utils.core.survey.data import (Cell, Item, Option, Survey, SurveyData, check_item, code_text, survey_from,
                                    survey_json)

COLUMNS = ("population", "group_var", "group", "item_id", "option", "share", "count")
SUM_TOLERANCE = 1e-6
QUESTIONS = ".questions.jsonl"


def survey_paths(questions: Path) -> tuple[Path, Path, Path]:
    """`<name>.questions.jsonl` -> the survey's three files: `<name>.survey.json`, it, `<name>.csv`."""
    questions = Path(questions)
    if not questions.name.endswith(QUESTIONS):
        raise UserError(f"{questions}: a survey's questionnaire is named <survey>{QUESTIONS}")
    name = questions.name[: -len(QUESTIONS)]
    return questions.with_name(f"{name}.survey.json"), questions, questions.with_name(f"{name}.csv")


def write_survey(data: SurveyData, folder: Path) -> tuple[Path, Path, Path]:
    """Written under temporary names, renamed once all three are complete: a failed import leaves
    what was there."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--output {folder} is a file; name the folder the survey's files go in")
    folder.mkdir(parents=True, exist_ok=True)
    paths = survey_paths(folder / f"{data.survey.name}{QUESTIONS}")
    temps = [p.with_name(f".{p.name}.{os.getpid()}.tmp") for p in paths]
    try:
        temps[0].write_text(json.dumps(survey_json(data.survey), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        with temps[1].open("w", encoding="utf-8") as fh:
            for item in data.items:
                fh.write(json.dumps(_item_json(item), ensure_ascii=False) + "\n")
        with temps[2].open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(COLUMNS)
            for c in data.cells:
                w.writerow([c.population, c.group_var, c.group, c.item_id, c.option, repr(float(c.share)),
                            "" if c.count is None else code_text(c.count)])
        for tmp, path in zip(temps, paths):
            os.replace(tmp, path)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    return paths


def read_survey(questions: Path) -> SurveyData:
    """`<folder>/<name>.questions.jsonl` and the two files beside it -> a checked `SurveyData`."""
    survey, items = read_questionnaire(questions, need_table=True)
    return SurveyData(survey, items, tuple(_read_cells(survey_paths(questions)[2], {i.id: i for i in items},
                                                       survey.policy)))


def read_questionnaire(questions: Path, need_table: bool = False) -> tuple[Survey, tuple[Item, ...]]:
    """Without the human table: what a prober needs."""
    meta_path, questions, table_path = survey_paths(questions)
    how = "import the survey with python dataset/import_survey.py"
    for p in (meta_path, questions) + ((table_path,) if need_table else ()):
        if not p.is_file():
            raise UserError(f"{p} not found; {how}")
    return survey_from(read_json(meta_path, how), str(meta_path)), tuple(_read_items(questions))


def populations(questions: Path) -> dict[str, list[tuple[str, str]]]:
    """What steering may name: each population, in file order, with its `(group_var, group)`s."""
    table = survey_paths(questions)[2]
    if not table.is_file():
        raise UserError(f"{table} not found; steering names a population of the survey's table "
                        "(import the survey with python dataset/import_survey.py)")
    out: dict[str, dict[tuple[str, str], None]] = {}
    with table.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            groups = out.setdefault(row.get("population") or "", {})
            if row.get("group_var"):
                groups[(row["group_var"], row.get("group") or "")] = None
    return {p: list(g) for p, g in out.items()}


def _item_json(item: Item) -> dict:
    out = {"id": item.id, "question": item.question, "scale": item.scale,
           "options": [{"code": o.code, "label": o.label, "position": o.position} for o in item.options],
           "non_substantive": list(item.non_substantive)}
    return {**out, "translations": item.translations} if item.translations else out


def _read_items(path: Path):
    seen = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {lineno}"
        try:
            obj = json.loads(line)
            item = Item(id=str(obj["id"]), question=str(obj["question"]), scale=str(obj.get("scale", "ordinal")),
                        options=tuple(Option(str(o["code"]), str(o["label"]),
                                             None if o.get("position") is None else float(o["position"]))
                                      for o in obj["options"]),
                        non_substantive=tuple(str(c) for c in obj.get("non_substantive", [])),
                        translations={str(k): str(v) for k, v in obj.get("translations", {}).items()})
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UserError(f"{where}: not an item ({type(exc).__name__}: {exc}); each line needs id, question and "
                            "options [{code, label, position}]") from None
        check_item(item, where)
        if item.id in seen:
            raise UserError(f"{where}: item {item.id} appears twice")
        seen.add(item.id)
        yield item


def _read_cells(path: Path, items: dict[str, Item], policy: str) -> list[Cell]:
    cells, sums, first = [], defaultdict(float), {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS[:-1] if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(f"{path} lacks column(s) {', '.join(missing)}; the columns are {', '.join(COLUMNS)}")
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            item = items.get(row["item_id"])
            if item is None:
                raise UserError(f"{where}: item {row['item_id']!r}, which the questionnaire lacks")
            if row["option"] not in item.scored(policy):
                raise UserError(f"{where}: option {row['option']!r}, which item {item.id} does not score "
                                f"(it scores {list(item.scored(policy))})")
            try:
                share = float(row["share"])
                count = float(row["count"]) if row.get("count") not in (None, "") else None
            except ValueError:
                raise UserError(f"{where}: share and count must be numbers") from None
            if not share >= 0:
                raise UserError(f"{where}: share must be a number >= 0, not {row['share']!r}")
            cell = Cell(row["population"], row["group_var"], row["group"], row["item_id"], row["option"], share, count)
            key = (cell.population, cell.group_var, cell.group, cell.item_id)
            sums[key] += share
            first.setdefault(key, where)
            cells.append(cell)
    for key, total in sums.items():
        if not math.isclose(total, 1.0, abs_tol=SUM_TOLERANCE):
            raise UserError(f"{first[key]}: the shares of {key[3]} for {'/'.join(k for k in key[:3] if k)} sum to "
                            f"{total:.6g}, not 1; each population cell's shares must sum to 1")
    return cells
