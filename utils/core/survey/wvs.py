"""The WVS questionnaire and a prepared WVS long table -> the survey schema, with no number changed.

Options keep the order shown, each positioned at its rank in `order` (Q122's codes 2, 1, 0 at
1, 2, 3), as the analysis's 1 - W1/(N-1) places them; non-substantive codes are kept, as the paper
scores them. A share is over the item's codes only, missing and other codes left out. A table of
published shares (`dataset/import_shares.py`) is renormalized the same way, a cell's count its
share of `n` where given.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from utils.core.errors import UserError
from utils.core.groups import ALL
from utils.core.records import SurveyItem
from utils.core.survey.data import Cell, Item, Option, Survey, SurveyData

SOURCE = "World Values Survey wave {wave} microdata (worldvaluessurvey.org), prepared by dataset/prepare_wvs.py"
LICENCE = "WVS Association: free for non-commercial research after registration; no redistribution"


def read_wvs(table: Path, questionnaire: list[SurveyItem], non_substantive: Mapping[str, tuple[str, ...]],
             weights: str = "none") -> SurveyData:
    """Survey `wvs<wave>`: the items the table answers, shares from `count` (weights "none", the
    paper's) or `weighted_count` ("survey"); `count` stays respondents either way."""
    items = []
    for q in questionnaire:
        ordinal = q.scale == "ordinal"
        options = tuple(Option(k, label, float(q.order.index(k) + 1) if ordinal else None)
                        for k, label in zip(q.choice_keys, q.choices))
        items.append(Item(q.id, q.question, options, q.scale, tuple(non_substantive.get(q.id, ()))))
    try:
        df = pd.read_csv(table, dtype={"option": str, "item_id": str, "country": str, "group_var": str, "group": str},
                         keep_default_na=False, na_values={"count": [""], "weighted_count": [""]})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UserError(f"cannot read the WVS long table {table}: {str(exc).splitlines()[0]}") from None
    shares = "count" not in df.columns and {"share", "n"} <= set(df.columns)  # import_shares.py's table
    column = "share" if shares else {"none": "count", "survey": "weighted_count"}.get(weights)
    if column is None or column not in df.columns or not {"country", "item_id", "option"} <= set(df.columns):
        raise UserError(f"{table} is not a prepared WVS table with {column or weights!r} counts, nor a table of "
                        "shares; make it with python dataset/prepare_wvs.py (--weights takes none or survey) or "
                        "python dataset/import_shares.py")
    if shares:
        df["share"] = pd.to_numeric(df["share"], errors="coerce")
        df["count"] = pd.to_numeric(df["n"], errors="coerce")  # the item's respondents: made the option's below
    if "group_var" not in df.columns:
        df["group_var"] = df["group"] = ALL
    codes = {i.id: set(i.codes) for i in items}
    df = df[[o in codes.get(i, ()) for i, o in zip(df["item_id"], df["option"])]]
    keys = ["country", "group_var", "group", "item_id"]
    total = df.groupby(keys, sort=False)[column].transform("sum")
    df = df.assign(share=df[column] / total)[total > 0]
    if shares:  # an option's respondents: its share of the n the source gave (none without n)
        df = df.assign(count=df["share"] * df["count"])
    waves = sorted({str(w) for w in df.get("wave", pd.Series(["7"]))})
    if df.empty:
        raise UserError(f"{table} has no answers to the questionnaire's items; is it a prepared WVS table?")
    if len(waves) != 1:
        raise UserError(f"{table} holds waves {', '.join(waves)}; import one wave's table at a time")
    cells = tuple(Cell(c, "" if v == ALL else v, "" if g == ALL else g, i, o, float(s),
                       None if pd.isna(n) else float(n))
                  for c, v, g, i, o, s, n in zip(df["country"], df["group_var"], df["group"], df["item_id"],
                                                 df["option"], df["share"], df["count"]))
    answered = {c.item_id for c in cells}
    source = f"published shares ({Path(table).name}, dataset/import_shares.py)" if shares else \
        SOURCE.format(wave=waves[0])
    survey = Survey(f"wvs{waves[0]}", waves[0], source, LICENCE, metric="w1", policy="keep")
    return SurveyData(survey, tuple(i for i in items if i.id in answered), cells)
