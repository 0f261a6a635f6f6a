"""Walking a results tree in the paper's layout and saying what each `results.csv` is.

    RQ1/<model>/results.csv                           -> ("RQ1", "none", "", model)
    RQ2/<method>/<country>/<model>/results.csv        -> ("RQ2", method, country, model)
    Discussion/sensitivity/<variant>/<model>/results.csv -> ("sensitivity", variant, "", model)
    Robustness/RQ1/<member>/<model>/results.csv       -> ("RQ1", "none", "", model), perturbation "order-3@0"
    Robustness/RQ2/<method>/<country>/<member>/<model>/results.csv
                                                      -> ("RQ2", method, country, model), perturbation "order-3@0"

`<model>` may span folders (`Qwen/Qwen2.5-72B-Instruct`). `runs/<NAME>/` directly under a root
holds the named runs (`--run-name NAME`), each a root of its own in the same layout: a walk of the
root leaves them out, so a run kept apart never joins the default analysis (`named_run` reads one).
A file whose rows carry the identity
columns (`IDENTITY_COLUMNS`, written by our runs) is described by its first row, wherever it lies;
the path is the source of identity only for files without them (the original release's). Either
way it is read once here, so no other code splits file names.
"""
from __future__ import annotations

import ast
import csv
import os
from dataclasses import dataclass, replace
from pathlib import Path

from utils.core.errors import UserError
from utils.core.row_checks import check_rows

# What a row was asked under; equal on every row of one file. `prompt_sha256` differs per item.
IDENTITY_COLUMNS = ("experiment", "model", "method", "steering_method", "country", "language", "variant",
                    "temperature", "max_new_tokens", "samples", "group_var", "group", "protocol", "release_commit",
                    "perturb_family", "perturb_index", "perturb_seed", "repeat")
NEEDED_COLUMNS = ("id", "choice_keys", "response")
RUNS_FOLDER = "runs"  # <root>/runs/<NAME>: the named runs, each a results root of its own


@dataclass(frozen=True)
class ResultFile:
    """One results file: `method` is its condition (the steering method, the sensitivity variant,
    or "none" for RQ1); `probe_method` how the model was asked (verbalized, logprob, ...)."""

    path: Path
    experiment: str
    method: str
    country: str
    model: str
    probe_method: str = "verbalized"  # the original release asked every model for a written distribution
    language: str = ""
    group_var: str = ""  # RQ2 steered toward a respondent group (`--group age=18-29`); "" the whole country
    group: str = ""
    perturbation: str = ""  # `--perturb` rows: "order-3@0" (family-index@seed, "#r" for a repeat); "" the prompt as is


def describe(path: Path, root: Path) -> ResultFile | None:
    """A file's identity from its first row's columns when it has them, else from its path."""
    row = _first_row(path)
    if row.get("experiment") and row.get("model"):
        return _from_row(path, row)
    found = _from_path(path, root)
    if found is not None and row.get("method"):  # our files before the identity columns
        found = replace(found, probe_method=row["method"])
    return found


def _from_row(path: Path, row: dict[str, str]) -> ResultFile:
    experiment = row["experiment"]
    condition = {"RQ2": row.get("steering_method"), "sensitivity": row.get("variant")}.get(experiment)
    return ResultFile(path, experiment, condition or "none", row.get("country", ""), row["model"],
                      row.get("method") or "verbalized", row.get("language", ""), row.get("group_var") or "",
                      row.get("group") or "", _perturbation(row))


def _perturbation(row: dict[str, str]) -> str:
    """`order-3@0` for a row asked under `--perturb order:K` (its 3rd member, seed 0), `#2` added for
    its second `--repeats` answer; "" for the prompt as it is. Other analyses read only those.

    >>> _perturbation({"perturb_family": "order", "perturb_index": "3", "perturb_seed": "0", "repeat": ""})
    'order-3@0'
    """
    family, repeat = row.get("perturb_family") or "", row.get("repeat") or ""
    name = f"{family}-{row.get('perturb_index', '')}@{row.get('perturb_seed', '')}" if family else ""
    return name + (f"#{repeat}" if repeat and repeat != "0" else "")


def _first_row(path: Path) -> dict[str, str]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return next(csv.DictReader(fh), None) or {}
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}  # an unreadable file is described by its path; reading it says what is wrong


def _from_path(path: Path, root: Path) -> ResultFile | None:
    parts = path.relative_to(root).parts[:-1]
    if len(parts) >= 2 and parts[0] == "RQ1":
        return ResultFile(path, "RQ1", "none", "", "/".join(parts[1:]))
    if len(parts) >= 4 and parts[0] == "RQ2":
        return ResultFile(path, "RQ2", parts[1], parts[2], "/".join(parts[3:]))
    if len(parts) >= 4 and parts[:2] == ("Discussion", "sensitivity"):
        return ResultFile(path, "sensitivity", parts[2], "", "/".join(parts[3:]))
    return None


def named_run(root: Path, name: str) -> Path:
    """`<root>/runs/<name>`: where `--run-name NAME` keeps a run apart, and where an analysis given
    the same `--run-name` reads it.

    >>> named_run(Path("results"), "t07")
    PosixPath('results/runs/t07')
    """
    if name in (".", "..") or "/" in name or "\\" in name or not name.strip():
        raise UserError(f"--run-name {name!r} must be one folder name, e.g. verbalized-t07")
    return Path(root) / RUNS_FOLDER / name


def result_paths(root: Path) -> list[Path]:
    """Every `results.csv` under `root` but those of the named runs (`<root>/runs/<NAME>/...`)."""
    root = Path(root)
    return [p for p in sorted(root.rglob("results.csv")) if p.relative_to(root).parts[0] != RUNS_FOLDER]


def find_result_files(root: Path) -> list[ResultFile]:
    root = Path(root)
    found = (describe(p, root) for p in result_paths(root))
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
    """Rows of a results file (ours or the paper's), as dicts of strings; a row of ours that the
    prober would refuse (`row_checks`) is a one-line UserError naming it."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows, lines, end = [], [], reader.line_num
        for row in reader:
            rows.append(row)
            lines.append(end + 1)
            end = reader.line_num
    check_rows(path, zip(lines, rows))
    return rows


def read_result_rows(path: Path) -> list[dict[str, str]]:
    """`read_results` for analysis: an empty, header-only or garbled file (not CSV, not our
    columns) is a one-line UserError naming it, and so is a file whose rows mix conditions."""
    how = "rerun the probe for it (it resumes) or move it out of the results root"
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            columns = reader.fieldnames or []
            rows, lines, end = [], [], reader.line_num
            for row in reader:  # the line each record starts on, to name a torn or damaged one
                rows.append(row)
                lines.append(end + 1)
                end = reader.line_num
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a results file (not UTF-8 text); {how}") from None
    except csv.Error as exc:
        raise UserError(f"{path} is not a results file (not CSV: {exc}); {how}") from None
    if not columns:
        raise UserError(f"{path} is empty; {how}")
    missing = [c for c in NEEDED_COLUMNS if c not in columns]
    if missing:
        raise UserError(f"{path} is not a results file (no {', '.join(missing)} column); {how}")
    if not rows:
        raise UserError(f"{path} has a header but no rows; {how}")
    if _torn(path, rows[-1], columns):
        raise UserError(f"{path}: the last row (line {lines[-1]}) is incomplete, cut off mid-row (a full disk or "
                        "an interrupted copy); rerun the probing command that wrote it, which repairs the file "
                        "and asks that item again")
    check_rows(path, zip(lines, rows))  # the prober's own row checks: a hand edit is not scored
    mixed = {c: sorted({r.get(c) or "" for r in rows}) for c in IDENTITY_COLUMNS if c in columns}
    mixed = {c: v for c, v in mixed.items() if len(v) > 1}
    if mixed:
        what = "; ".join(f"{c}: {', '.join(x or '(empty)' for x in v)}" for c, v in mixed.items())
        raise UserError(f"{path} mixes conditions ({what}); keep one condition per file "
                        "(move the rows of the others to their own --results-root)")
    return rows


def _torn(path: Path, last: dict, columns: list[str]) -> bool:
    """A last record short of fields, or (in our files, which always end their records with a
    newline) one without its newline: the file was cut while that row was written."""
    if any(v is None for k, v in last.items() if k is not None) or len(last) < len(columns):
        return True
    if "status" not in columns:  # the original release's files: no promise about the last newline
        return False
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) != b"\n"


def one_per_condition(files: list[ResultFile], probe_method: str | None = None) -> list[ResultFile]:
    """Keep `probe_method`'s files (all when None); refuse two files for one model and condition.

    Two files in the same place (experiment, condition, country, model) would be scored as one
    model twice, e.g. a logprob and a verbalized run kept in their own folders."""
    if probe_method:
        found = sorted({f.probe_method for f in files})
        files = [f for f in files if f.probe_method == probe_method]
        if found and not files:
            raise UserError(f"no results by probe method {probe_method} (found {', '.join(found)}); "
                            "choose one of those with --probe-method")
    seen: dict[tuple, ResultFile] = {}
    for f in files:
        key = (f.experiment, f.method, f.country, f.group_var, f.group, f.model, f.perturbation)
        if key in seen:
            other = seen[key]
            if other.probe_method != f.probe_method:
                raise UserError(f"{f.model} has {f.experiment} results by more than one probe method "
                                f"({other.probe_method}: {other.path}; {f.probe_method}: {f.path}); "
                                "choose one with --probe-method")
            raise UserError(f"two results files for {f.model} in the same condition: {other.path} and {f.path}; "
                            "move one out of the results root")
        seen[key] = f
    return files
