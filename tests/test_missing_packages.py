"""Every entry script, started by a Python without the project's packages, says in one line which
command installs them (utils/core/missing_packages.py), instead of a ModuleNotFoundError traceback.

`python -S` starts the same Python without its site-packages: numpy, pandas, torch and openai are
all gone, as on a fresh machine where the virtual environment was not activated.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from wvs_fixtures import load_script

from utils.core.missing_packages import INSTALL

ROOT = Path(__file__).resolve().parents[1]
ENTRY = sorted([*ROOT.glob("code/RQ*/prob_by_*.py"), ROOT / "code" / "run_study.py",
                *ROOT.glob("show_results/*.py"), *ROOT.glob("dataset/*.py")])
NEEDS_NO_PACKAGE = {"make_shuffled_questionnaire"}  # the standard library only: it runs
FIRST_IMPORT = {"import_shares": "pandas", "import_survey": "pandas"}  # the first package a script imports (numpy where not named)


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | (env or {})
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("script", [p for p in ENTRY if p.stem not in NEEDS_NO_PACKAGE],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_a_python_without_the_packages_gets_one_line_with_the_install_command(script):
    proc = run("-S", str(script), "--help")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    first = FIRST_IMPORT.get(script.stem, "numpy")
    assert proc.stderr.startswith(f"error: this Python ({sys.executable}) has no module '{first}'")
    assert f"install the packages from {ROOT} with: {INSTALL}" in proc.stderr and "Traceback" not in proc.stderr


def test_a_script_of_the_standard_library_alone_still_runs():
    proc = run("-S", str(ROOT / "dataset" / "make_shuffled_questionnaire.py"), "--help")
    assert proc.returncode == 0 and "--seed" in proc.stdout, proc.stderr


def test_a_package_missing_at_run_time_is_one_line_too(tmp_path):
    """openai is imported only when the client is made, inside the script's main."""
    shadow = tmp_path / "openai"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'openai'\", name='openai')\n")
    proc = run(str(ROOT / "code" / "RQ1" / "prob_by_api.py"), "--model_name_or_path", "m", "--limit", "1",
               "--base_url", "http://127.0.0.1:9/v1", "--results-root", str(tmp_path / "results"),
               env={"PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert "has no module 'openai'" in proc.stderr and INSTALL in proc.stderr


def test_the_install_command_is_the_readmes():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"{INSTALL} && python code/RQ1/prob_by_llm.py" in readme


def test_importing_a_script_sets_no_hook():
    before = sys.excepthook
    load_script("show_results/rq1_country_level.py")
    assert sys.excepthook is before


def test_every_entry_script_is_covered():
    names = {p.stem for p in ENTRY}
    assert {"prob_by_api", "prob_by_llm", "run_study", "rq1_country_level", "prepare_wvs"} <= names
    assert (NEEDS_NO_PACKAGE) <= names
