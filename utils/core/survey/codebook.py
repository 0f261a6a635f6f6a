"""Any survey's microdata (one row per respondent) -> the survey schema, told how by a small codebook.

Where the files come from: the user's own download from the survey's archive (e.g. GESIS for the
European Values Study), under that archive's terms; the codebook (TOML or JSON) is written by the
user from the survey's documentation. Nothing is shipped or downloaded here. A codebook:

    [survey]
    name = "evs2017"                  # the files' name: evs2017.questions.jsonl, evs2017.csv
    wave = "2017"
    source = "European Values Study 2017, integrated dataset (GESIS ZA7500)"
    licence = "GESIS terms of use: academic research and teaching, no redistribution"
    metric = "w1"                     # w1, jsd or tvd
    non_substantive_policy = "keep"   # keep: such options are options; drop: left out, rest renormalized

    [data]
    population = "country"            # the variable naming the population (a country)
    weight = "gweight"                # optional; without it each respondent counts 1
    missing = [-1, -2, -3, -4, -5]    # codes that are no answer, left out of every share
    populations = {40 = "Austria", 276 = "Germany"}   # optional: a value -> the name to write

    [groups.sex]                      # optional: group_var "sex", groups by the variable's codes
    variable = "v225"
    labels = {1 = "male", 2 = "female"}

    [answers.agree4]                  # an option set items share; positions 1, 2, ... in this order
    scale = "ordinal"                 # unless an option gives a third number: [3, "Neither", 2.5]
    options = [[1, "Agree strongly"], [2, "Agree"], [3, "Disagree"], [4, "Disagree strongly"]]
    non_substantive = []

    [items.v72]                       # the item's id and, unless `variable` says otherwise, its column
    question = "When a mother works for pay, the children suffer."
    answers = "agree4"                # or an inline table with scale, options, non_substantive

Shares are weighted; `count` is the number of respondents who gave the option. Codes that are
neither options nor `missing` are left out and counted in one line per import. Files: CSV (`,`
`;` or tab), Stata `.dta`, SPSS `.sav` (the last needs the pyreadstat package); variable names
match without regard to case.
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pandas as pd

from utils.core.errors import UserError
from utils.core.survey.schema import Cell, Item, Option, Survey, SurveyData, check_item, check_survey


def import_codebook(codebook: Path, microdata: Path) -> tuple[SurveyData, list[str]]:
    """(the survey, one-line notes) from a codebook and the microdata it describes."""
    book = _load(Path(codebook))
    survey, data = _survey(book, codebook), book.get("data", {})
    items, variables = _items(book, codebook)
    groups = {name: (g["variable"], {code_text(k): str(v) for k, v in g["labels"].items()})
              for name, g in book.get("groups", {}).items()}
    wanted = [data["population"], *([data["weight"]] if data.get("weight") else []), *variables.values(),
              *[v for v, _ in groups.values()]]
    df = read_microdata(Path(microdata), wanted)
    names = {code_text(k): str(v) for k, v in data.get("populations", {}).items()}
    pop = _codes(df[data["population"].lower()]).map(lambda c: names.get(c, c))
    weight = pd.to_numeric(df[data["weight"].lower()], errors="coerce") if data.get("weight") else \
        pd.Series(1.0, index=df.index)
    if weight.isna().any():
        raise UserError(f"{microdata}: weight column {data['weight']} has {int(weight.isna().sum())} empty or "
                        "non-numeric values")
    partitions = [("", pd.Series("", index=df.index))] + \
        [(name, _codes(df[var.lower()]).map(labels)) for name, (var, labels) in groups.items()]
    missing = {code_text(m) for m in data.get("missing", [])}
    cells, undeclared = [], {}
    for item in items:
        code = _codes(df[variables[item.id].lower()])
        stray = (code != "") & ~code.isin(set(item.codes) | missing)
        if stray.any():
            undeclared[item.id] = int(stray.sum())
        scored = code.isin(item.scored(survey.policy))
        for var, label in partitions:
            cells += _cells(item, survey.policy, var, pop[scored], label[scored], code[scored], weight[scored])
    notes = [f"answers with codes the codebook does not list, left out: "
             + ", ".join(f"{k} ({n})" for k, n in undeclared.items())] if undeclared else []
    return SurveyData(survey, tuple(items), tuple(cells)), notes


def code_text(value) -> str:
    """A code as text, whatever the file stored: 1, 1.0 and '1' -> '1'; 2.5 -> '2.5'; 'DE' -> 'DE'."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value).strip()
    return str(int(f)) if f.is_integer() else repr(f)


def _codes(column: pd.Series) -> pd.Series:
    """A column's values as code texts ('' where empty), each distinct value converted once."""
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
            out += [Cell(str(population), var, str(group), item.id, c, float(row[c]) / total, float(counts.at[(population, group), c]))
                    for c in shares.columns]
    return out


def read_microdata(path: Path, columns: list[str]) -> pd.DataFrame:
    """The named columns of a CSV, Stata or SPSS file, named in lower case; a missing one is a UserError."""
    if not path.is_file():
        raise UserError(f"microdata file {path} not found")
    suffix = path.name.lower()
    try:
        if suffix.endswith(".sav"):
            try:
                import pyreadstat  # optional: only SPSS files need it
            except ModuleNotFoundError:
                raise UserError(f"reading {path} (SPSS) needs the pyreadstat package: pip install pyreadstat, "
                                "or save the file as .csv or .dta") from None
            header = pyreadstat.read_sav(str(path), metadataonly=True)[1].column_names
            read = lambda cols: pyreadstat.read_sav(str(path), usecols=cols)[0]  # noqa: E731
        elif suffix.endswith(".dta"):
            with pd.read_stata(path, iterator=True) as reader:
                header = list(reader.variable_labels())
            read = lambda cols: pd.read_stata(path, columns=cols, convert_categoricals=False)  # noqa: E731
        else:
            sep = _separator(path)
            header = list(pd.read_csv(path, nrows=0, sep=sep).columns)
            read = lambda cols: pd.read_csv(path, usecols=cols, sep=sep, low_memory=False)  # noqa: E731
        actual = {str(c).strip().lower(): c for c in header}
        if lacking := [c for c in dict.fromkeys(columns) if c.lower() not in actual]:
            raise UserError(f"{path} has no column {', '.join(lacking)}; the codebook names variables the file lacks")
        df = read([actual[c.lower()] for c in dict.fromkeys(columns)])
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise UserError(f"cannot read microdata {path}: {str(exc).splitlines()[0]}") from None
    return df.rename(columns=lambda c: str(c).strip().lower())


def _separator(path: Path) -> str:
    with path.open(encoding="utf-8", errors="replace") as fh:
        line = fh.readline()
    return max([",", ";", "\t"], key=line.count)


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


def _survey(book: dict, path: Path) -> Survey:
    s = book.get("survey", {})
    survey = Survey(name=str(s.get("name", "")), wave=str(s.get("wave", "")), source=str(s.get("source", "")),
                    licence=str(s.get("licence", "")), metric=str(s.get("metric", "w1")),
                    policy=str(s.get("non_substantive_policy", "keep")), language=str(s.get("language", "English")))
    check_survey(survey, f"codebook {path}")
    return survey


def _items(book: dict, path: Path) -> tuple[list[Item], dict[str, str]]:
    """The items in the codebook's order and each one's variable."""
    items, variables = [], {}
    for item_id, spec in book["items"].items():
        where = f"codebook {path}, item {item_id}"
        answers = spec.get("answers")
        answers = book.get("answers", {}).get(answers) if isinstance(answers, str) else answers
        if not isinstance(answers, dict) or not answers.get("options"):
            raise UserError(f"{where}: answers must name an [answers.<name>] table or be one (with options)")
        scale = str(answers.get("scale", "ordinal"))
        nonsub = tuple(code_text(c) for c in answers.get("non_substantive", []))
        options, k = [], 0
        for entry in answers["options"]:
            code = code_text(entry[0])
            k += scale == "ordinal" and code not in nonsub
            place = float(entry[2]) if len(entry) > 2 else float(k) if scale == "ordinal" and code not in nonsub else None
            options.append(Option(code, str(entry[1]), place))
        item = Item(str(item_id), str(spec.get("question", "")), tuple(options), scale, nonsub)
        check_item(item, where)
        items.append(item)
        variables[item.id] = str(spec.get("variable", item_id))
    return items, variables
