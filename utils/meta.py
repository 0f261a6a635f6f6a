"""`run_meta.json`: what produced a results file, so a number can be traced back to its run."""
from __future__ import annotations

import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata

from utils.paths import REPO_ROOT

PACKAGES = ("openai", "transformers", "torch", "accelerate", "gguf", "numpy", "pandas", "scipy")
SECRET_WORDS = ("key", "token", "secret", "password")


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def run_meta(args: dict, **extra) -> dict:
    """Arguments (minus anything that looks like a secret), versions, commit and time."""
    safe = {k: v for k, v in args.items() if not any(w in k.lower() and "env" not in k.lower() for w in SECRET_WORDS)}
    return {"arguments": safe, "python": platform.python_version(), "packages": package_versions(),
            "git_commit": git_commit(), "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **extra}
