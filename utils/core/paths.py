"""Where things live, and how a model name becomes a results folder that stays inside the root."""
from __future__ import annotations

from pathlib import Path, PurePosixPath

from utils.core.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[2]
QUESTIONS_DIR = REPO_ROOT / "dataset" / "questions"
INPUTS_DIR = REPO_ROOT / "inputs"
RESULTS_DIR = REPO_ROOT / "results"


def model_folder(model_name_or_path: str) -> PurePosixPath:
    """Relative folder for a model's results, as in the paper's layout.

    A hub id keeps its namespace (`Qwen/Qwen2.5-72B-Instruct` -> `Qwen/Qwen2.5-72B-Instruct`);
    an existing local path uses its folder name (`/models/llama3/` -> `llama3`). Anything that
    could climb out of the results root (`..`, absolute parts, empty parts) is refused.
    """
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
    """Join `parts` under `results_root` and check the result is still inside it."""
    root = Path(results_root).resolve()
    target = root.joinpath(*[str(p) for p in parts]).resolve()
    if not target.is_relative_to(root):
        raise UserError(f"results path {target} would be outside the results root {root}")
    return target
