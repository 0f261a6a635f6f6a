"""What every `show_results/` script shares at its edges: its flags, and ending with one line
(the files written, or the problem the user can fix, exit code 2) instead of a traceback."""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from utils.analysis import coverage
from utils.analysis.config import AnalysisConfig
from utils.analysis.plotting import SYNTHETIC_NOTE
from utils.core.errors import UserError
from utils.core.flag_parser import FlagParser
from utils.core.logs import log_to_stderr
from utils.core.paths import FIGURES_DIR, HUMAN_DIR, REPO_ROOT, RESULTS_DIR, not_found, output_folder, repo_hint, shown
from utils.core.results.tree import NAMED_RUNS as RUNS_FOLDER, named_run

log = logging.getLogger(__name__)


def parser(description: str, human_default: Path | None = HUMAN_DIR / "WV7.csv") -> argparse.ArgumentParser:
    ap = FlagParser(description=description)
    if human_default is not None:
        ap.add_argument("--human", type=Path, default=human_default,
                        help=f"long table of human answers from dataset/prepare_wvs.py (default {human_default.relative_to(REPO_ROOT)})")
    ap.add_argument("--results-root", type=Path, default=RESULTS_DIR,
                    help="results in the paper's layout, ours or the paper's released folder (default results/); "
                         "the named runs in its runs/ folder are left out")
    add_run_name(ap)
    ap.add_argument("--out", type=Path, default=FIGURES_DIR,
                    help="the FOLDER this script writes its PNG, PDF and CSV files into (default figures/)")
    ap.add_argument("--weights", choices=["none", "survey"], default="none",
                    help="none: count respondents, as the paper does (default); survey: use the WVS weights")
    ap.add_argument("--drop-nonsubstantive", action="store_true",
                    help="leave out options that state no opinion (Q119's 0, Q122-Q129's 1) on both sides")
    ap.add_argument("--models", default=None,
                    help="comma-separated model names to include, or all (default: all found; under "
                         "--paper-compat the paper's seven, utils/analysis/paper_models.py)")
    ap.add_argument("--questions-dir", type=Path, default=None, help="folder of WV7_English.jsonl (default dataset/questions)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and the split halves (default 0)")
    ap.add_argument("--formats", default="png,pdf", help="figure files to write, comma-separated (default png,pdf)")
    coverage.add_arguments(ap)  # --min-coverage, --probe-method
    ap.add_argument("--metric", choices=["w1", "jsd", "tvd"], default="w1",
                    help="w1: 1 - W1/(N-1) over the options' order (the paper's, default); jsd: 1 - Jensen-Shannon "
                         "distance, base 2 (GlobalOpinionQA); tvd: 1 - total variation distance. Non-default "
                         "metrics add _jsd/_tvd to file names and say so in titles")
    ap.add_argument("--paper-compat", action="store_true",
                    help="reproduce the original release's arithmetic exactly, slips included (README: "
                         "'--paper-compat'); writes *_paper_compat.csv, ignores --weights, --drop-nonsubstantive, --metric")
    return ap


def parse_args(ap: argparse.ArgumentParser, argv: list[str] | None) -> AnalysisConfig:
    """Parse and check the flags, and hand back the one frozen `AnalysisConfig` the library takes
    (argparse stays here, at the edge); the script's own flags are in its `extra`."""
    flags = vars(ap.parse_args(argv))
    flags["results_root"] = results_root_of(flags["results_root"], flags.pop("run_name", None))
    if "out" in flags:
        output_folder(flags["out"])
    formats = [f.strip().lower() for f in str(flags.get("formats", "png,pdf")).split(",") if f.strip()]
    bad = [f for f in formats if f not in ("png", "pdf", "svg")]
    if bad or not formats:
        ap.error(f"--formats takes png, pdf and/or svg, not {flags.get('formats')!r}")
    flags["formats"] = formats
    if flags.get("paper_compat"):
        moved = [flag for flag, on in (("--metric", flags.get("metric", "w1") != "w1"),
                                       ("--weights", flags.get("weights", "none") != "none"),
                                       ("--drop-nonsubstantive", flags.get("drop_nonsubstantive", False))) if on]
        if moved:
            ap.error(f"--paper-compat reproduces the paper's arithmetic and cannot be combined with {', '.join(moved)}")
        if flags.get("by"):
            ap.error("--paper-compat reproduces the paper, which had no respondent groups; drop --by")
    config = AnalysisConfig.from_flags(flags)
    if config.synthetic:  # the first line a reader sees, as on every table and figure
        print(f"{SYNTHETIC_NOTE} ({', '.join(map(str, config.human_paths()))})")
    return config


def add_run_name(ap: argparse.ArgumentParser) -> None:
    """--run-name NAME: read the run a probing script wrote with the same --run-name."""
    ap.add_argument("--run-name", default=None, metavar="NAME",
                    help=f"read <results-root>/{RUNS_FOLDER}/NAME, the run a probing script wrote with --run-name "
                         "NAME, instead of the results root itself")


def results_root_of(root: Path, run_name: str | None) -> Path:
    """`--results-root`, or the named run in it; a missing one is a UserError that shows the full
    path (and the repository's, where a relative path exists only there) or the runs there are."""
    root = Path(root)
    if not run_name:
        if not root.exists() and repo_hint(root):
            raise UserError(not_found(root, "--results-root"))
        return root
    path = named_run(root, run_name)
    if not path.is_dir():
        runs = sorted(p.name for p in (root / RUNS_FOLDER).iterdir() if p.is_dir()) if (root / RUNS_FOLDER).is_dir() else []
        there = f"the runs there: {', '.join(runs)}" if runs else f"a probing script writes it with --run-name {run_name}"
        raise UserError(f"no run named {run_name!r}: {shown(path)} does not exist; {there}")
    return path


def add_by(ap: argparse.ArgumentParser, what: str) -> None:
    """--by GROUPVAR, for the scripts that score respondent groups (docs/groups.md)."""
    ap.add_argument("--by", default=None, metavar="GROUPVAR",
                    help=f"{what}; GROUPVAR is a group variable of the --human table (sex, age, education, "
                         "settlement, income: dataset/prepare_wvs.py --groups)")


def report_written(paths: list[Path]) -> int:
    """End a script: say how many coverage lines were not shown, name the files it wrote; exit code 0."""
    if coverage.summary():
        print(coverage.summary())
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def run(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run a script's main; problems the user can fix become one line on stderr and exit code 2."""
    log_to_stderr()
    coverage.show_reports()  # one line per results file: items scored, and why not
    try:
        return main(argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


