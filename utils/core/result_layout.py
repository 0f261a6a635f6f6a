"""Walking a results tree in the paper's layout and saying what each `results.csv` is.

    RQ1/<model>/results.csv                           -> ("RQ1", "none", "", model)
    RQ2/<method>/<country>/<model>/results.csv        -> ("RQ2", method, country, model)
    Discussion/sensitivity/<variant>/<model>/results.csv -> ("sensitivity", variant, "", model)

`<model>` may span folders (`Qwen/Qwen2.5-72B-Instruct`). The metadata comes from the path
relative to the root, read once here, so no other code splits file names.
"""
from __future__ import annotations

import ast
import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ResultFile:
    path: Path
    experiment: str
    method: str
    country: str
    model: str


def describe(path: Path, root: Path) -> ResultFile | None:
    parts = path.relative_to(root).parts[:-1]
    if len(parts) >= 2 and parts[0] == "RQ1":
        return ResultFile(path, "RQ1", "none", "", "/".join(parts[1:]))
    if len(parts) >= 4 and parts[0] == "RQ2":
        return ResultFile(path, "RQ2", parts[1], parts[2], "/".join(parts[3:]))
    if len(parts) >= 4 and parts[:2] == ("Discussion", "sensitivity"):
        return ResultFile(path, "sensitivity", parts[2], "", "/".join(parts[3:]))
    return None


def find_result_files(root: Path) -> list[ResultFile]:
    root = Path(root)
    found = (describe(p, root) for p in sorted(root.rglob("results.csv")))
    return [f for f in found if f is not None]


def option_keys(row: dict[str, str]) -> list[str]:
    """A results row's option codes from its `choice_keys` column ("['1', '2']" -> ["1", "2"]),
    so rows of any questionnaire, ours or the paper's, are read over their own options."""
    try:
        keys = ast.literal_eval(row.get("choice_keys") or "[]")
    except (ValueError, SyntaxError):
        return []
    return [str(k) for k in keys] if isinstance(keys, (list, tuple)) else []


def read_results(path: Path) -> list[dict[str, str]]:
    """Rows of a results file (ours or the paper's), as dicts of strings."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
