"""Running the project's commands for the golden check: subprocesses of `sys.executable`, two at a time.

Only the public command lines are run (code/, dataset/, show_results/), never `utils/`: the
internals are what a refactor rewrites, the commands, flags and output files stay.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from golden.files import Substitutions, replace_paths

RELEASE = Path("reference") / "paper-release"


class GoldenError(RuntimeError):
    """A command failed or an input is missing: the outputs are incomplete."""


@dataclass
class Context:
    """Where one production reads (repo, shared) and writes (out), and how it runs commands."""

    repo: Path
    out: Path
    shared: Path | None
    jobs: int = 2
    env: dict[str, str] = field(default_factory=dict)
    log: Callable[[str], None] | None = None  # told each command and its wall time

    @property
    def work(self) -> Path:
        """Raw outputs (results roots, figure folders, human tables) and every command's working
        folder, so relative paths land here; deleted at the end."""
        return self.out / ".work"

    @property
    def release(self) -> Path:
        if self.shared is None or not (self.shared / RELEASE).is_dir():
            raise GoldenError(f"this group needs a clone of the paper's release at <shared folder>/{RELEASE}")
        return self.shared / RELEASE

    def substitutions(self) -> Substitutions:
        """Absolute paths and their stand-ins, longest first, so a path inside another is replaced whole."""
        subs = {}
        for path, name in ((self.out, "<OUT>"), (self.repo, "<REPO>"), (self.shared, "<SHARED>")):
            if path is not None:
                subs[str(path)] = name
                subs[str(path.resolve())] = name
        return sorted(subs.items(), key=lambda kv: -len(kv[0]))


def command_env() -> dict[str, str]:
    """The environment of every command: no API keys (the study dry run says whether they are set),
    nothing downloaded, one thread per process (two processes run at once, and a fixed thread count
    keeps float sums in the same order on machines with different core counts)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    return env


@dataclass(frozen=True)
class Command:
    """One command line: a script of the repository and its arguments; stdout kept in `stdout` if given.
    With `refusal`, an exit code 2 (a one-line refusal of the input) is an outcome like any other: its
    line is kept in that file (a refusal added or lifted is then a change the check sees)."""

    script: str
    args: tuple[str, ...]
    stdout: Path | None = None
    refusal: Path | None = None


def run(ctx: Context, cmd: Command) -> None:
    argv = [sys.executable, str(ctx.repo / cmd.script), *cmd.args]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=ctx.work, env=ctx.env, capture_output=True, text=True)
    if ctx.log:
        ctx.log(f"  {time.perf_counter() - t0:6.1f} s  {replace_paths(' '.join(argv[1:]), ctx.substitutions())}")
    if proc.returncode == 2 and cmd.refusal is not None:
        cmd.refusal.parent.mkdir(parents=True, exist_ok=True)
        cmd.refusal.write_text(proc.stderr.strip().splitlines()[-1] + "\n", encoding="utf-8")
        return
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise GoldenError(f"exit {proc.returncode}: {' '.join(argv[1:])}\n{tail}")
    if cmd.stdout is not None:
        cmd.stdout.parent.mkdir(parents=True, exist_ok=True)
        cmd.stdout.write_text(proc.stdout, encoding="utf-8")


def run_all(ctx: Context, commands: Iterable[Command]) -> None:
    """Independent commands, `ctx.jobs` at a time."""
    run_lanes(ctx, [[c] for c in commands])


def run_lanes(ctx: Context, lanes: Sequence[Sequence[Command]]) -> None:
    """Lanes run `ctx.jobs` at a time; the commands of one lane in order (they share a folder)."""
    def lane(cmds: Sequence[Command]) -> None:
        for c in cmds:
            run(ctx, c)

    with ThreadPoolExecutor(max_workers=ctx.jobs) as pool:
        for f in [pool.submit(lane, cmds) for cmds in lanes]:
            f.result()
