"""Where things live, model names as results folders, and paths in messages: user paths are relative
to the current directory, the defaults to the repository, so a message shows the full path."""
from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from utils.core.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[2]
QUESTIONS_DIR = REPO_ROOT / "dataset" / "questions"
INPUTS_DIR = REPO_ROOT / "inputs"
RESULTS_DIR = REPO_ROOT / "results"
HUMAN_DIR = REPO_ROOT / "dataset" / "human"  # prepared human tables (dataset/prepare_wvs.py)
FIGURES_DIR = REPO_ROOT / "figures"  # what the show_results scripts write


def read_json(path: Path, missing: str):
    """An input file the project reads as JSON; absent or unreadable, a one-line UserError (`missing`
    says what to do when it is absent)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} not found; {missing}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not valid UTF-8 JSON: {exc}") from None


def model_folder(model_name_or_path: str) -> PurePosixPath:
    """`Qwen/Qwen2.5-72B-Instruct` -> itself; an existing local path -> its folder name
    (`/models/llama3/` -> `llama3`). Anything that could climb out of the root is a `UserError`."""
    name = model_name_or_path.strip()
    local = Path(name).expanduser()
    if name and (local.is_absolute() or name.startswith(("./", "~"))) and local.exists():
        name = local.resolve().name
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not parts or any(p in ("", ".", "..") or p.startswith("/") for p in parts) or name.startswith("/"):
        raise UserError(
            f"model name {model_name_or_path!r} cannot be used as a results folder; "
            "give a hub-style id like 'org/model' or an existing local model folder"
        )
    return PurePosixPath(*parts)


def results_dir(results_root: Path, *parts: str | PurePosixPath) -> Path:
    """`parts` under `results_root`; a `UserError` if that leaves it."""
    root = Path(results_root).resolve()
    target = root.joinpath(*[str(p) for p in parts]).resolve()
    if not target.is_relative_to(root):
        raise UserError(f"results path {target} would be outside the results root {root}")
    return target


# Names that say "a file", refused where a flag names a folder (a figure script's --out)
FILE_SUFFIXES = (".csv", ".png", ".pdf", ".svg", ".md", ".tex", ".html", ".json", ".txt")


def shown(path: str | Path) -> str:
    """A path for a message, absolute (not resolved: a symlink stays as given)."""
    return str(Path(path).expanduser().absolute())


def repo_hint(path: str | Path) -> str:
    """For a relative `path` missing here but present under the repository root, the sentence
    that says so; else "". Run from /home/me:

    >>> repo_hint("dataset/questions")  # doctest: +SKIP
    '; did you mean /repo/dataset/questions? paths are relative to the current directory (/home/me)'
    """
    given = Path(path).expanduser()
    if given.is_absolute() or given.exists() or not (REPO_ROOT / given).exists():
        return ""
    return f"; did you mean {REPO_ROOT / given}? paths are relative to the current directory ({Path.cwd()})"


def not_found(path: str | Path, what: str) -> str:
    """`what /abs/path not found`, plus `repo_hint`'s sentence."""
    return f"{what} {shown(path)} not found{repo_hint(path)}"


def _file_in_the_way(path: Path) -> Path | None:
    """The first existing one of `path` and its parents, when it is a file (no folder can go there)."""
    for p in (path, *path.parents):
        if p.exists():
            return None if p.is_dir() else p
    return None


def output_folder(path: str | Path, flag: str = "--out") -> Path:
    """A folder a script writes files into: a file name (`x.csv`) or a file in the way is a
    UserError now, not a FileExistsError after the scoring."""
    path = Path(path)
    if path.suffix.lower() in FILE_SUFFIXES:
        raise UserError(f"{flag} {path} is a file name, but {flag} is the folder this script writes its PNG, PDF "
                        f"and CSV files into; give a folder, e.g. {flag} {path.with_suffix('')}")
    full = path.expanduser().absolute()
    blocker = _file_in_the_way(full)
    if blocker is not None:
        where = f"{shown(path)} is" if blocker == full else f"{shown(path)}: {blocker} is"
        raise UserError(f"{flag} {where} a file, but {flag} is the folder this script writes its files into; "
                        "give a folder")
    return path


def output_file(path: str | Path, example: str, flag: str = "--out") -> Path:
    """One file a script writes (`example`: a name for it): an existing folder there, or a file
    where a parent folder must go, is a UserError now."""
    path = Path(path)
    full = path.expanduser().absolute()
    if full.is_dir():
        raise UserError(f"{flag} {shown(path)} is a folder, but {flag} is the one file this script writes; "
                        f"give a file name, e.g. {flag} {path / example}")
    blocker = _file_in_the_way(full.parent)
    if blocker is not None:
        raise UserError(f"{flag} {shown(path)}: {blocker} is a file, so no folder can hold {path.name} there")
    return path
