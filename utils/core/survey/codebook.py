"""Any survey's microdata (one row per respondent) -> the survey schema, told how by a small codebook.

The codebook (TOML or JSON) says what `dataset/prepare_wvs.py` knows of the WVS: population, weight
and group variables, missing codes, and per item its variable, question and options; a worked one
in docs/surveys.md. Shares are weighted, `count` is respondents; codes that are neither options nor
missing are left out and counted in one line.
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pandas as pd

from utils.core.errors import UserError
from utils.core.human.microdata import read_columns
from utils.core.survey.data import Cell, Item, Option, SurveyData, check_item, code_text, survey_from


def import_codebook(codebook: Path, microdata: Path) -> tuple[SurveyData, list[str]]:
    """(the survey, one-line notes) from a codebook and the microdata it describes."""
    book = _load(Path(codebook))
    survey, data = survey_from(book.get("survey", {}), f"codebook {codebook}"), book["data"]
    items, variables = _items(book, codebook)
    try:
        groups = {name: (str(g["variable"]), {code_text(k): str(v) for k, v in g["labels"].items()})
                  for name, g in book.get("groups", {}).items()}
    except (KeyError, TypeError, AttributeError):
        raise UserError(f"codebook {codebook}: each [groups.<name>] needs variable and labels = {{code = \"label\"}}") \
            from None
    wanted = [data["population"], *([data["weight"]] if data.get("weight") else []), *variables.values(),
              *[v for v, _ in groups.values()]]
    df = read_columns(Path(microdata), wanted, "the codebook names variables the file lacks")
    names = {code_text(k): str(v) for k, v in data.get("populations", {}).items()}
    pop = _codes(df[data["population"]]).map(lambda c: names.get(c, c))
    weight = pd.to_numeric(df[data["weight"]], errors="coerce") if data.get("weight") else \
        pd.Series(1.0, index=df.index)
    if weight.isna().any():
        raise UserError(f"{microdata}: weight column {data['weight']} has {int(weight.isna().sum())} empty or "
                        "non-numeric values")
    partitions = [("", pd.Series("", index=df.index))] + \
        [(name, _codes(df[var]).map(labels)) for name, (var, labels) in groups.items()]
    missing = {code_text(m) for m in data.get("missing", [])}
    cells, undeclared = [], {}
    for item in items:
        code = _codes(df[variables[item.id]])
        stray = (code != "") & ~code.isin(set(item.codes) | missing)
        if stray.any():
            undeclared[item.id] = int(stray.sum())
        scored = code.isin(item.scored(survey.policy))
        for var, label in partitions:
            cells += _cells(item, survey.policy, var, pop[scored], label[scored], code[scored], weight[scored])
    notes = ["answers with codes the codebook does not list, left out: "
             + ", ".join(f"{k} ({n})" for k, n in undeclared.items())] if undeclared else []
    return SurveyData(survey, tuple(items), tuple(cells)), notes


def _codes(column: pd.Series) -> pd.Series:
    """Code texts, '' where empty."""
    lookup = {v: code_text(v) for v in column.dropna().unique()}
    return column.map(lookup).fillna("").astype(str)


def _cells(item: Item, policy: str, var: str, pop, label, code, weight) -> list[Cell]:
    frame = pd.DataFrame({"pop": pop, "group": label, "code": code, "w": weight}).dropna(subset=["group"])
    by = frame.groupby(["pop", "group", "code"])["w"]
    shares = by.sum().unstack("code", fill_value=0.0).reindex(columns=list(item.scored(policy)), fill_value=0.0)
    counts = by.size().unstack("code", fill_value=0).reindex(columns=shares.columns, fill_value=0)
    out = []
    for (population, group), row in shares.iterrows():
        total = float(row.sum())
        if total > 0:
            n = counts.loc[(population, group)]
            out += [Cell(str(population), var, str(group), item.id, c, float(row[c]) / total, float(n[c]))
                    for c in shares.columns]
    return out


def _load(path: Path) -> dict:
    if not path.is_file():
        raise UserError(f"codebook {path} not found")
    try:
        book = tomllib.loads(path.read_text(encoding="utf-8")) if path.suffix.lower() == ".toml" \
            else json.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"codebook {path} is not valid {path.suffix.lstrip('.').upper() or 'JSON'}: {exc}") from None
    if not isinstance(book, dict) or not book.get("items") or "population" not in book.get("data", {}):
        raise UserError(f"codebook {path} needs [survey], [data] with population = \"<variable>\", and [items.<id>]")
    return book


def _items(book: dict, path: Path) -> tuple[list[Item], dict[str, str]]:
    items, variables = [], {}
    for item_id, spec in book["items"].items():
        where = f"codebook {path}, item {item_id}"
        answers = spec.get("answers") if isinstance(spec, dict) else None
        answers = book.get("answers", {}).get(answers) if isinstance(answers, str) else answers
        if not isinstance(answers, dict) or not answers.get("options"):
            raise UserError(f"{where}: answers must name an [answers.<name>] table or be one (with options)")
        scale = str(answers.get("scale", "ordinal"))
        nonsub = tuple(code_text(c) for c in answers.get("non_substantive", []))
        options, k = [], 0
        for entry in answers["options"]:
            if not isinstance(entry, list) or not 2 <= len(entry) <= 3 or \
                    (len(entry) == 3 and not isinstance(entry[2], (int, float))):
                raise UserError(f"{where}: an option is [code, label] or [code, label, position], not {entry!r}")
            code = code_text(entry[0])
            k += scale == "ordinal" and code not in nonsub
            place = float(k) if scale == "ordinal" and code not in nonsub else None
            options.append(Option(code, str(entry[1]), float(entry[2]) if len(entry) == 3 else place))
        item = Item(str(item_id), str(spec.get("question", "")), tuple(options), scale, nonsub)
        check_item(item, where)
        items.append(item)
        variables[item.id] = str(spec.get("variable", item_id))
    return items, variables
