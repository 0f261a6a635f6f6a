"""The commit a checkout is at, read from the files git keeps: no git program needed, no process started."""
from __future__ import annotations

from pathlib import Path


def git_head(root: Path) -> str | None:
    """HEAD -> ref -> SHA from the files git keeps (loose ref or packed-refs); None if unreadable."""
    dotgit = root / ".git"
    try:
        if dotgit.is_file():  # a worktree or submodule: "gitdir: <path>"
            gitdir = (root / dotgit.read_text().split(":", 1)[1].strip()).resolve()
        elif dotgit.is_dir():
            gitdir = dotgit
        else:
            return None
        head = (gitdir / "HEAD").read_text().strip()
        common = gitdir / (gitdir / "commondir").read_text().strip() if (gitdir / "commondir").is_file() else gitdir
        if not head.startswith("ref:"):
            return head if _is_sha(head) else None
        ref = head[4:].strip()
        for base in (gitdir, common):
            if (base / ref).is_file():
                sha = (base / ref).read_text().strip()
                return sha if _is_sha(sha) else None
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1] == ref and _is_sha(parts[0]):
                    return parts[0]
    except (OSError, IndexError):
        return None
    return None


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)
