"""`run_meta.json`: what produced a results file, so a number can be traced back to its run."""
from __future__ import annotations

import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from utils.core.paths import REPO_ROOT
from utils.core.secrets import redact_value

PACKAGES = ("openai", "transformers", "torch", "accelerate", "gguf", "numpy", "pandas", "scipy")


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
    """Arguments (secret values redacted, never dropped by name), versions, commit and time."""
    return {"arguments": redact_value({k: (str(v) if isinstance(v, Path) else v) for k, v in args.items()}), "python": platform.python_version(), "packages": package_versions(),
            "git_commit": git_commit(), "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **extra}
