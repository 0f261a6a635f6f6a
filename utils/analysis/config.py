"""The analysis settings a `show_results/` script hands the library: one frozen, typed record.

argparse stays at the edge (STYLE.md, point 13): `flags.parse_args` turns the parsed flags into an
`AnalysisConfig` and nothing below the scripts reads an `argparse.Namespace`. The flags every
script shares (`flags.parser`) are typed fields; a script's own flags (`--n-boot`, `--tau`,
`--countries`, ...) stay in `extra`, a read-only mapping the script itself reads and passes on
as plain arguments, so the library never depends on one script's flag names. Why a mapping and
not one dataclass per script: eight scripts would each grow a class for one to three numbers that
only their own `main` reads.

    >>> cfg = AnalysisConfig.from_flags({"out": "figs", "formats": ["png"], "n_boot": 200})
    >>> cfg.output, cfg.extra["n_boot"]
    (Output(dir=PosixPath('figs'), formats=('png',), metric='w1'), 200)
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from utils.analysis.coverage import DEFAULT_MIN as DEFAULT_MIN_COVERAGE
from utils.analysis.human.microdata import synthetic_table
from utils.analysis.plotting import Output
from utils.core.paths import RESULTS_DIR


@dataclass(frozen=True)
class AnalysisConfig:
    """What every analysis script shares. `human` is one prepared table, or several (RQ3's waves);
    `output` says where files go (folder, formats, metric in the names)."""

    human: Path | tuple[Path, ...] | None = None
    results_root: Path = RESULTS_DIR
    output: Output = field(default_factory=lambda: Output(Path("figures")))
    weights: str = "none"  # none: count respondents (the paper's); survey: the WVS weights
    drop_nonsubstantive: bool = False
    models: str | None = None  # comma-separated model names, None: all found
    questions_dir: Path | None = None
    seed: int = 0
    min_coverage: float = DEFAULT_MIN_COVERAGE
    probe_method: str | None = None
    paper_compat: bool = False
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def synthetic(self) -> bool:
        """The human data are synthetic (every table and figure says so)."""
        return self.output.synthetic

    @property
    def metric(self) -> str:
        return self.output.metric

    @property
    def out(self) -> Path:
        return Path(self.output.dir)

    @property
    def formats(self) -> tuple[str, ...]:
        return self.output.formats

    def human_paths(self) -> list[Path]:
        """`human` as a list (one table or several)."""
        if self.human is None:
            return []
        return [self.human] if isinstance(self.human, Path) else list(self.human)

    @classmethod
    def from_flags(cls, flags: Mapping[str, Any]) -> AnalysisConfig:
        """From parsed flags as a plain mapping (`vars(namespace)`): the shared flags become fields,
        the rest goes to `extra`. `formats` is a list already checked by `flags.parse_args`; the
        output is marked synthetic when any human table's `.meta.json` says so."""
        flags = dict(flags)
        human = flags.pop("human", None)
        if isinstance(human, (list, tuple)):
            human = tuple(Path(p) for p in human)
        elif human is not None:
            human = Path(human)
        paths = [human] if isinstance(human, Path) else list(human or ())
        output = Output(Path(flags.pop("out", "figures")), tuple(flags.pop("formats", ("png", "pdf"))),
                        flags.pop("metric", "w1"), any(synthetic_table(p) for p in paths))
        questions_dir = flags.pop("questions_dir", None)
        return cls(human=human, results_root=Path(flags.pop("results_root", RESULTS_DIR)), output=output,
                   weights=flags.pop("weights", "none"), drop_nonsubstantive=bool(flags.pop("drop_nonsubstantive", False)),
                   models=flags.pop("models", None),
                   questions_dir=Path(questions_dir) if questions_dir is not None else None,
                   seed=int(flags.pop("seed", 0)), min_coverage=float(flags.pop("min_coverage", DEFAULT_MIN_COVERAGE)),
                   probe_method=flags.pop("probe_method", None), paper_compat=bool(flags.pop("paper_compat", False)),
                   extra=MappingProxyType(flags))
