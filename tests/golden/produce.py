#!/usr/bin/env python
"""The golden check: what the command-line interface writes on fixed inputs, normalized and hashed.

A refactor proves that no number moved by producing these outputs again and comparing their
sha256 with `tests/golden/manifest.json` (tests/test_golden.py). Everything is asked of the public
commands as subprocesses (`sys.executable code/RQ1/prob_by_llm.py ...`), never of `utils/`.

    python tests/golden/produce.py --out /tmp/golden                  # every group, into /tmp/golden/<group>/
    python tests/golden/produce.py --out /tmp/golden --only bundled   # one group (repeat --only for more)
    python tests/golden/produce.py --out /tmp/golden --record         # and re-record their manifest entries
    python tests/golden/produce.py --only dryrun --diff fbf3fef       # which files moved since a commit, and how

The groups are described in tests/golden/groups.py, the normalization in tests/golden/files.py.
Intended changes are listed in tests/golden/CHANGES.md.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

if not __package__:  # run as a script: make the `golden` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from golden.commands import RELEASE, Context, GoldenError, command_env  # noqa: E402
from golden.files import compare, diff_trees, hashes  # noqa: E402,F401 (compare: for tests/test_golden.py)
from golden.groups import GROUPS as GROUP_FUNCTIONS  # noqa: E402
from golden.groups import NEEDS_SHARED  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = Path(__file__).with_name("manifest.json")
GROUPS = tuple(GROUP_FUNCTIONS)


def default_shared(repo: Path = ROOT) -> Path | None:
    """The folder beside the checkout that holds the paper's release, when there is one."""
    shared = repo.parent / "shared"
    return shared if (shared / RELEASE).is_dir() else None


def produce(out_dir: Path, groups: Sequence[str], shared: Path | None = None, *, repo: Path = ROOT,
            jobs: int = 2, keep_work: bool = False, log: Callable[[str], None] | None = None,
            verbose: bool = False) -> dict[str, float]:
    """Write every golden output of `groups`, normalized, under out_dir/<group>/; return each
    group's wall time in seconds. `shared` holds reference/paper-release (needed by the
    release groups); `repo` is the checkout whose commands run (another worktree for --diff)."""
    unknown = [g for g in groups if g not in GROUP_FUNCTIONS]
    if unknown:
        raise GoldenError(f"unknown group(s) {unknown}; choose from {', '.join(GROUPS)}")
    out_dir = Path(out_dir).absolute()
    ctx = Context(repo=Path(repo).absolute(), out=out_dir, shared=Path(shared).absolute() if shared else None,
                  jobs=jobs, env=command_env(), log=log if verbose else None)
    ctx.work.mkdir(parents=True, exist_ok=True)
    times = {}
    try:
        for g in groups:
            dst = out_dir / g
            if dst.exists():
                shutil.rmtree(dst)
            dst.mkdir(parents=True)
            t0 = time.perf_counter()
            GROUP_FUNCTIONS[g](ctx, dst)
            times[g] = time.perf_counter() - t0
            if log:
                log(f"{g}: {sum(1 for p in dst.rglob('*') if p.is_file())} files in {times[g]:.1f} s")
    finally:
        if not keep_work:
            shutil.rmtree(ctx.work, ignore_errors=True)
    return times


def load_manifest(path: Path = MANIFEST) -> dict[str, str]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def in_group(key: str, group: str) -> bool:
    return key.split("/", 1)[0] == group


def record(out_dir: Path, groups: Sequence[str], path: Path = MANIFEST) -> dict[str, str]:
    """Replace the manifest entries of groups by the files produced now; other groups' stay."""
    manifest = {k: v for k, v in load_manifest(path).items() if not any(in_group(k, g) for g in groups)}
    manifest.update(hashes(out_dir, groups))
    path.write_text(json.dumps(dict(sorted(manifest.items())), indent=1) + "\n", encoding="utf-8")
    return manifest


def diff(commit: str, groups: Sequence[str], shared: Path | None, jobs: int = 2) -> int:
    """Produce groups at `commit` (a temporary git worktree, run by this file's commands) and in the
    working tree; print which files differ and how. Returns 0 when nothing differs, 1 otherwise."""
    tmp = Path(tempfile.mkdtemp(prefix="golden-diff-"))
    tree = tmp / "tree"
    added = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(tree), commit],
                           capture_output=True, text=True)
    if added.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise GoldenError(f"cannot check out {commit!r}: {added.stderr.strip()}")
    try:
        for label, repo, out in ((commit, tree, "old"), ("the working tree", ROOT, "new")):
            print(f"producing {', '.join(groups)} at {label} ...", flush=True)
            produce(tmp / out, groups, shared, repo=repo, jobs=jobs, log=lambda s: print(f"  {s}", flush=True))
        report = diff_trees(tmp / "old", tmp / "new", groups)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n".join(report) if report else f"no differences from {commit} in {', '.join(groups)}")
    return 1 if report else 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="folder to write <group>/... into (required unless --diff)")
    ap.add_argument("--only", action="append", choices=GROUPS, metavar="GROUP",
                    help=f"produce this group only; repeat for several ({', '.join(GROUPS)}; default all)")
    ap.add_argument("--record", action="store_true", help="rewrite these groups' entries of tests/golden/manifest.json")
    ap.add_argument("--diff", metavar="COMMIT", help="produce the groups at COMMIT and here, and print what differs")
    ap.add_argument("--shared", type=Path, default=default_shared(),
                    help="folder holding reference/paper-release (default ../shared when present)")
    ap.add_argument("--jobs", type=int, default=2, help="commands run at once (default 2)")
    ap.add_argument("--keep-work", action="store_true", help="keep the raw outputs under <out>/.work")
    ap.add_argument("--verbose", action="store_true", help="print every command and its wall time")
    args = ap.parse_args(argv)
    groups = args.only or [g for g in GROUPS if g not in NEEDS_SHARED or args.shared]
    if args.shared is None and not args.only:
        print(f"no clone of the paper's release found: leaving out {', '.join(NEEDS_SHARED)}", file=sys.stderr)
    try:
        if args.diff:
            return diff(args.diff, groups, args.shared, args.jobs)
        if args.out is None:
            ap.error("--out is required unless --diff")
        times = produce(args.out, groups, args.shared, jobs=args.jobs, keep_work=args.keep_work, log=print,
                        verbose=args.verbose)
        if args.record:
            n = sum(1 for k in record(args.out, groups) if any(in_group(k, g) for g in groups))
            print(f"recorded {n} files of {', '.join(groups)} in {MANIFEST.relative_to(ROOT)}")
        print(f"total {sum(times.values()):.1f} s")
    except GoldenError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
