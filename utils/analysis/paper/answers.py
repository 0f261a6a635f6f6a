"""The paper's answers: the `response` text read as the original code reads it, and which row counts.

    >>> read_answer("{1: 30%, 2: 70%}"), read_answer("{1: '30%'}")
    ({'1': 0.3, '2': 0.7}, {1: 0.3})

Bare keys are quoted when the text is no Python literal; an integer key stays an integer. The
notebooks score an id's FIRST row (`first_rows`), RQ2's script its LAST (`rq2.file_scores`).
"""
from __future__ import annotations

import ast
import logging
import re
from pathlib import Path

from utils.core.errors import UserError
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.results.table import read_complete
from utils.core.results.tree import ResultsFile

log = logging.getLogger(__name__)
OPINION = "Opinion-Dependent"
_BARE = re.compile(r"(\d+):\s*([\d.]+%)")


def read_answer(text: str, where: str = "") -> dict:
    """`"{'1': '30%'}"` -> `{'1': 0.3}`; a text the original code cannot read is a UserError naming `where`."""
    try:
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            parsed = ast.literal_eval(_BARE.sub(r"'\1': '\2'", text))
        return {k: float(v.strip("%")) / 100 for k, v in parsed.items()}
    except Exception:  # noqa: BLE001 - the original code stops here; we say where and why
        raise UserError(f"{where}: --paper-compat cannot read the answer {str(text)[:60]!r} (the original "
                        "code stops on it too); leave out --paper-compat or fix the row") from None


def first_rows(path: Path, ids, any_type: bool = False) -> dict[str, dict]:
    """id -> the first opinion-dependent row's answer, left out when empty (a failed request, which
    stops the original code); `any_type`: the matrix notebook's first row with a response, any type."""
    out: dict[str, dict] = {}
    seen: set[str] = set()
    table = read_complete(path)
    for n, row in zip(table.lines, table.rows):
        q, empty = row.get("id", ""), not (row.get("response") or "").strip()
        if q not in ids or q in seen or (any_type and empty) or (not any_type and row.get("type", OPINION) != OPINION):
            continue
        seen.add(q)
        if empty:
            log.warning("%s: %s has no response; left out", path, q)
            continue
        out[q] = read_answer(row["response"], f"{path}, line {n}")
    return out


def rq1_questions(questions_dir: Path | None = None, rq1_files: list[ResultsFile] = ()) -> dict[str, list[str]]:
    """id -> choice_keys of the opinion-dependent items, in gpt-4's RQ1 file's order when it is among
    `rq1_files` (as the notebooks; it decides the "consistency" item), else the questionnaire's."""
    items = load_questionnaire(questionnaire_path("English", questions_dir))
    keys = {it.id: list(it.choice_keys) for it in items if it.type in ("", OPINION)}
    ref = next((f for f in rq1_files if f.spec.model == "gpt-4"), None)
    if ref is None:
        return keys
    order = [r.get("id", "") for r in read_complete(ref.path).rows if r.get("type", OPINION) == OPINION]
    first = list(dict.fromkeys(i for i in order if i in keys))
    return {i: keys[i] for i in first + [i for i in keys if i not in first]}
