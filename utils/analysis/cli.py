"""The command-line edge of every analysis: `show_results/<name>.py` is `main(name, argv)`, one flag
per field of `SharedOptions` and the analysis' options. A problem the user can fix is one line on
stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from utils.analysis.config import AnalysisConfig, SharedOptions
from utils.analysis.coverage import Said
from utils.analysis.options import field_types, paper_problem
from utils.analysis.registry import ANALYSES
from utils.analysis.tables import SYNTHETIC_NOTE
from utils.core.errors import UserError
from utils.core.flag_parser import FlagParser
from utils.core.logs import log_to_stderr
from utils.core.paths import HUMAN_DIR, RESULTS_DIR, not_found, output_folder, repo_hint, shown
from utils.core.results.tree import NAMED_RUNS, named_run


def build_parser(name: str, doc: str) -> argparse.ArgumentParser:
    """The parser of `show_results/<name>.py`; `doc` is the script's docstring (its first line describes it)."""
    entry = ANALYSES[name]
    ap = FlagParser(description=doc.splitlines()[0])
    if entry.waves == (7,):
        ap.add_argument("--human", type=Path, default=HUMAN_DIR / "WV7.csv", help="long table of human answers from "
                        "dataset/prepare_wvs.py (default dataset/human/WV7.csv)")
    elif entry.waves:
        ap.add_argument("--human", type=Path, nargs="+", default=[HUMAN_DIR / f"WV{w}.csv" for w in entry.waves],
                        help="prepared tables of the waves (default dataset/human/WV5.csv WV6.csv WV7.csv); "
                             "the wave is read from each table's wave column")
    ap.add_argument("--results-root", type=Path, default=RESULTS_DIR,
                    help="results in the paper's layout, ours or the paper's released folder (default results/); "
                         "the named runs in its runs/ folder are left out")
    add_run_name(ap)
    if entry.shared:
        add_options(ap, SharedOptions, skip=entry.unshared + (() if entry.paper else ("paper_compat",)))
    add_options(ap, entry.options)
    return ap


def add_options(ap: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    """One flag per field of an options dataclass: `n_boot` -> `--n-boot`, its type, default and help."""
    kinds = field_types(cls)
    for f in (f for f in fields(cls) if f.name not in skip):
        kind, many = kinds[f.name]
        meta = {k: v for k, v in f.metadata.items() if k != "ours_only"}
        flag = "--" + f.name.replace("_", "-")
        if kind is bool:
            ap.add_argument(flag, action="store_true", **meta)
        else:
            ap.add_argument(flag, type=kind, default=f.default, **({"nargs": "+"} if many else {}), **meta)


def from_flags(cls, flags: dict):
    """The record from parsed flags (argparse's lists become tuples); a flag not offered keeps its default."""
    return cls(**{f.name: tuple(v) if isinstance(v := flags[f.name], list) else v
                  for f in fields(cls) if f.name in flags})


def add_run_name(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--run-name", default=None, metavar="NAME",
                    help=f"read <results-root>/{NAMED_RUNS}/NAME, the run a probing script wrote with --run-name "
                         "NAME, instead of the results root itself")


def results_root_of(root: Path, run_name: str | None) -> Path:
    """`--results-root`, or the named run in it; a missing one is a UserError with the full path."""
    root = Path(root)
    if not run_name:
        if not root.exists() and repo_hint(root):
            raise UserError(not_found(root, "--results-root"))
        return root
    path = named_run(root, run_name)
    if not path.is_dir():
        runs = sorted(p.name for p in (root / NAMED_RUNS).iterdir() if p.is_dir()) \
            if (root / NAMED_RUNS).is_dir() else []
        there = f"the runs there: {', '.join(runs)}" if runs else \
            f"a probing script writes it with --run-name {run_name}"
        raise UserError(f"no run named {run_name!r}: {shown(path)} does not exist; {there}")
    return path


def parse(name: str, argv: list[str] | None, doc: str) -> tuple[AnalysisConfig, object]:
    """The script's flags as (AnalysisConfig, its options); argparse stays here."""
    entry, ap = ANALYSES[name], build_parser(name, doc)
    flags = vars(ap.parse_args(argv))
    root = results_root_of(flags["results_root"], flags["run_name"])
    options = from_flags(entry.options, flags)
    if not entry.shared:
        return AnalysisConfig(results_root=root), options
    shared = from_flags(SharedOptions, flags)
    output_folder(shared.out)
    if shared.paper_compat and (problem := paper_problem(shared) or paper_problem(options)):
        ap.error(problem)
    try:
        return AnalysisConfig.of(shared, root, flags.get("human")), options
    except UserError as exc:  # a bad --formats, said as argparse says a bad flag
        ap.error(str(exc))


def script(name: str, doc: str):
    """`build_parser, main` of `show_results/<name>.py` (`doc`: its docstring)."""
    return (lambda: build_parser(name, doc)), (lambda argv=None: main(name, argv, doc))


def main(name: str, argv: list[str] | None, doc: str) -> int:
    """Run `show_results/<name>.py` with `argv`: 0 when it wrote its files, 2 on a problem the user can fix."""
    log_to_stderr()
    said = Said()
    try:
        config, options = parse(name, argv, doc)
        if config.output.synthetic:  # the first line a reader sees, as on every table and figure
            print(f"{SYNTHETIC_NOTE} ({', '.join(map(str, config.human_paths()))})")
        written = ANALYSES[name].run(config, options, said)
    except UserError as exc:
        print("\n".join(said.shown()), end="\n" if said.entries else "")  # what it read before it stopped
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(said.report(written)))
    return 0

