"""The options every analysis shares: as given (`SharedOptions`, for flags and study keys alike) and
as an analysis takes them (`AnalysisConfig`: the output named and marked, the rules chosen).

    >>> AnalysisConfig.of(SharedOptions(out=Path("figs"), formats="png", metric="jsd")).output
    Output(dir=PosixPath('figs'), formats=('png',), metric='jsd', synthetic=False, suffix='')
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from utils.analysis.coverage import DEFAULT_MIN
from utils.core.human.microdata import synthetic_table
from utils.analysis.options import option
from utils.analysis.paper.rules import PAPER
from utils.analysis.rules import OURS, Rules
from utils.analysis.tables import Output
from utils.core.errors import UserError
from utils.core.paths import FIGURES_DIR, RESULTS_DIR

FORMATS = ("png", "pdf", "svg")


@dataclass(frozen=True)
class SharedOptions:
    """The flags every analysis script has (`paper_compat` only where the analysis takes the paper's rules)."""

    out: Path = option(FIGURES_DIR, "the FOLDER this script writes its PNG, PDF and CSV files into (default figures/)")
    weights: str = option("none", "none: count respondents, as the paper does (default); survey: use the WVS "
                          "weights", choices=("none", "survey"), ours_only=True)
    drop_nonsubstantive: bool = option(False, "leave out options that state no opinion (Q119's 0, Q122-Q129's 1) on "
                                       "both sides", ours_only=True)
    models: str | None = option(None, "comma-separated model names to include, or all (default: all found; under "
                                "--paper-compat the paper's seven, utils/analysis/paper/models.py)")
    questions_dir: Path | None = option(None, "folder of WV7_English.jsonl (default dataset/questions)")
    seed: int = option(0, "seed of the bootstrap and the split halves (default 0)")
    formats: str = option("png,pdf", "figure files to write, comma-separated (default png,pdf)")
    min_coverage: float = option(DEFAULT_MIN, "refuse a results file whose share of the items scored is below "
                                 f"this (default {DEFAULT_MIN}; 0 scores any file)", metavar="FRACTION")
    probe_method: str | None = option(None, "use the results of this probe method (verbalized, logprob, ...) where a "
                                      "model has several (default: whatever is there; an error if a model has more "
                                      "than one)")
    metric: str = option("w1", "w1: 1 - W1/(N-1) over the options' order (the paper's, default); jsd: 1 - "
                         "Jensen-Shannon distance, base 2 (GlobalOpinionQA); tvd: 1 - total variation distance. "
                         "Non-default metrics add _jsd/_tvd to file names and say so in titles",
                         choices=("w1", "jsd", "tvd"), ours_only=True)
    paper_compat: bool = option(False, "reproduce the original release's arithmetic exactly, slips included (README: "
                                "'--paper-compat'); writes *_paper_compat.csv, ignores --weights, "
                                "--drop-nonsubstantive, --metric")


@dataclass(frozen=True)
class AnalysisConfig:
    """What every analysis takes; `human` is one prepared table, or several (RQ3's waves)."""

    human: Path | tuple[Path, ...] | None = None
    results_root: Path = RESULTS_DIR
    output: Output = field(default_factory=lambda: Output(FIGURES_DIR))
    weights: str = "none"
    drop_nonsubstantive: bool = False
    models: str | None = None  # comma-separated model names, all, or None: every model found
    questions_dir: Path | None = None
    seed: int = 0
    min_coverage: float = DEFAULT_MIN
    probe_method: str | None = None
    rules: Rules = OURS

    @property
    def metric(self) -> str:
        return self.output.metric

    def human_paths(self) -> list[Path]:
        return [self.human] if isinstance(self.human, Path) else list(self.human or ())

    @classmethod
    def of(cls, shared: SharedOptions, results_root: Path = RESULTS_DIR,
           human: Path | tuple[Path, ...] | None = None) -> AnalysisConfig:
        """The config of `shared`, marked synthetic when any human table's `.meta.json` says so."""
        chosen = tuple(f.strip().lower() for f in shared.formats.split(",") if f.strip())
        if not chosen or any(f not in FORMATS for f in chosen):
            raise UserError(f"--formats takes png, pdf and/or svg, not {shared.formats!r}")
        rules = PAPER if shared.paper_compat else OURS
        human = tuple(map(Path, human)) if isinstance(human, (list, tuple)) else None if human is None else Path(human)
        paths = [human] if isinstance(human, Path) else list(human or ())
        output = Output(Path(shared.out), chosen, shared.metric, any(synthetic_table(p) for p in paths), rules.suffix)
        return cls(human, Path(results_root), output, shared.weights, shared.drop_nonsubstantive, shared.models,
                   shared.questions_dir, shared.seed, shared.min_coverage, shared.probe_method, rules)
