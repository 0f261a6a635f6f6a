"""The command-line edge of every analysis: `show_results/<name>.py` is `main(name, argv)`.

The parser is built from the registry's entry: the shared flags (`AnalysisConfig`), `--paper-compat`
where the analysis takes the paper's rules, and one flag per field of its options dataclass. The
flags become the two frozen records the analysis takes; what it returns is printed here (coverage
lines, notes, its summary, the files written). A problem the user can fix is one line on stderr
and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from utils.analysis.config import FORMATS, METRICS, WEIGHTS, AnalysisConfig, flag_problem
from utils.analysis.coverage import DEFAULT_MIN, Said
from utils.analysis.options import field_types, paper_problem
from utils.analysis.registry import ANALYSES, Analysis
from utils.analysis.tables import SYNTHETIC_NOTE
from utils.core.errors import UserError
from utils.core.flag_parser import FlagParser
from utils.core.logs import log_to_stderr
from utils.core.paths import FIGURES_DIR, HUMAN_DIR, RESULTS_DIR, not_found, output_folder, repo_hint, shown
from utils.core.results.tree import NAMED_RUNS, named_run


def build_parser(name: str, doc: str) -> argparse.ArgumentParser:
    """The parser of `show_results/<name>.py`; `doc` is the script's docstring (its first line is the description)."""
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
        _shared(ap, entry)
    add_options(ap, entry.options)
    return ap


def _shared(ap: argparse.ArgumentParser, entry: Analysis) -> None:
    ap.add_argument("--out", type=Path, default=FIGURES_DIR,
                    help="the FOLDER this script writes its PNG, PDF and CSV files into (default figures/)")
    ap.add_argument("--weights", choices=WEIGHTS, default="none",
                    help="none: count respondents, as the paper does (default); survey: use the WVS weights")
    ap.add_argument("--drop-nonsubstantive", action="store_true",
                    help="leave out options that state no opinion (Q119's 0, Q122-Q129's 1) on both sides")
    ap.add_argument("--models", default=None,
                    help="comma-separated model names to include, or all (default: all found; under "
                         "--paper-compat the paper's seven, utils/analysis/paper/models.py)")
    ap.add_argument("--questions-dir", type=Path, default=None, help="folder of WV7_English.jsonl (default dataset/questions)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and the split halves (default 0)")
    ap.add_argument("--formats", default="png,pdf", help="figure files to write, comma-separated (default png,pdf)")
    ap.add_argument("--min-coverage", type=float, default=DEFAULT_MIN, metavar="FRACTION",
                    help="refuse a results file whose share of the items scored is below this "
                         f"(default {DEFAULT_MIN}; 0 scores any file)")
    ap.add_argument("--probe-method", default=None,
                    help="use the results of this probe method (verbalized, logprob, ...) where a model has "
                         "several (default: whatever is there; an error if a model has more than one)")
    ap.add_argument("--metric", choices=METRICS, default="w1",
                    help="w1: 1 - W1/(N-1) over the options' order (the paper's, default); jsd: 1 - Jensen-Shannon "
                         "distance, base 2 (GlobalOpinionQA); tvd: 1 - total variation distance. Non-default "
                         "metrics add _jsd/_tvd to file names and say so in titles")
    if entry.paper:
        ap.add_argument("--paper-compat", action="store_true",
                        help="reproduce the original release's arithmetic exactly, slips included (README: "
                             "'--paper-compat'); writes *_paper_compat.csv, ignores --weights, --drop-nonsubstantive, "
                             "--metric")


def add_options(ap: argparse.ArgumentParser, cls) -> None:
    """One flag per field of an options dataclass: `n_boot` -> `--n-boot`, its type, default and help."""
    kinds = field_types(cls)
    for f in fields(cls):
        kind, many = kinds[f.name]
        meta = {k: v for k, v in f.metadata.items() if k != "ours_only"}
        flag = "--" + f.name.replace("_", "-")
        if kind is bool:
            ap.add_argument(flag, action="store_true", **meta)
        else:
            ap.add_argument(flag, type=kind, default=f.default, **({"nargs": "+"} if many else {}), **meta)


def from_flags(cls, flags: dict):
    """The record from parsed flags (argparse's lists become tuples)."""
    return cls(**{f.name: tuple(v) if isinstance(v := flags[f.name], list) else v for f in fields(cls)})


def add_run_name(ap: argparse.ArgumentParser) -> None:
    """--run-name NAME: read the run a probing script wrote with the same --run-name."""
    ap.add_argument("--run-name", default=None, metavar="NAME",
                    help=f"read <results-root>/{NAMED_RUNS}/NAME, the run a probing script wrote with --run-name "
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
        runs = sorted(p.name for p in (root / NAMED_RUNS).iterdir() if p.is_dir()) if (root / NAMED_RUNS).is_dir() else []
        there = f"the runs there: {', '.join(runs)}" if runs else f"a probing script writes it with --run-name {run_name}"
        raise UserError(f"no run named {run_name!r}: {shown(path)} does not exist; {there}")
    return path


def parse(name: str, argv: list[str] | None, doc: str) -> tuple[AnalysisConfig, object]:
    """The script's flags as (AnalysisConfig, its options); argparse stays here."""
    entry, ap = ANALYSES[name], build_parser(name, doc)
    flags = vars(ap.parse_args(argv))
    flags["results_root"] = results_root_of(flags["results_root"], flags.pop("run_name"))
    options = from_flags(entry.options, {f.name: flags.pop(f.name) for f in fields(entry.options)})
    if entry.shared:
        output_folder(flags["out"])
        if problem := flag_problem(flags) or (paper_problem(options) if flags.get("paper_compat") else ""):
            ap.error(problem)
    return AnalysisConfig.from_values(flags), options


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

