"""The options every analysis shares: one frozen, typed record (`AnalysisConfig`).

An analysis takes it and a frozen record of its own options (`utils/analysis/registry.py`); the
`show_results/` scripts build both from their flags (`cli.py`), the study runner from a study
file's keys. `from_values` is the one way from plain values (a flag or a TOML key each) to the
record, with the checks both need:

    >>> cfg = AnalysisConfig.from_values({"out": "figs", "formats": "png", "metric": "jsd"})
    >>> cfg.output
    Output(dir=PosixPath('figs'), formats=('png',), metric='jsd', synthetic=False, suffix='')
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from utils.analysis.coverage import DEFAULT_MIN as DEFAULT_MIN_COVERAGE
from utils.analysis.human.microdata import synthetic_table
from utils.analysis.paper.rules import PAPER
from utils.analysis.rules import OURS, Rules
from utils.analysis.tables import Output
from utils.core.errors import UserError
from utils.core.paths import FIGURES_DIR, RESULTS_DIR

FORMATS = ("png", "pdf", "svg")
METRICS = ("w1", "jsd", "tvd")
WEIGHTS = ("none", "survey")  # none: count respondents (the paper's); survey: the WVS weights


@dataclass(frozen=True)
class AnalysisConfig:
    """What every analysis shares. `human` is one prepared table, or several (RQ3's waves);
    `output` says where files go (folder, formats, metric and rules in the names); `rules` is the
    arithmetic (ours, or the paper's under `--paper-compat`)."""

    human: Path | tuple[Path, ...] | None = None
    results_root: Path = RESULTS_DIR
    output: Output = field(default_factory=lambda: Output(FIGURES_DIR))
    weights: str = "none"
    drop_nonsubstantive: bool = False
    models: str | None = None  # comma-separated model names, all, or None: every model found
    questions_dir: Path | None = None
    seed: int = 0
    min_coverage: float = DEFAULT_MIN_COVERAGE
    probe_method: str | None = None
    rules: Rules = OURS

    @property
    def metric(self) -> str:
        return self.output.metric

    def human_paths(self) -> list[Path]:
        """`human` as a list (one table or several)."""
        if self.human is None:
            return []
        return [self.human] if isinstance(self.human, Path) else list(self.human)

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> AnalysisConfig:
        """From plain values keyed by field name (`out`, `formats` and `metric` make the `output`,
        `paper_compat` the rules); a bad one is a UserError naming the flag. The output is marked
        synthetic when any human table's `.meta.json` says so."""
        values = dict(values)
        if problem := flag_problem(values):
            raise UserError(problem)
        human = values.pop("human", None)
        human = tuple(Path(p) for p in human) if isinstance(human, (list, tuple)) else \
            Path(human) if human is not None else None
        paths = [human] if isinstance(human, Path) else list(human or ())
        rules = PAPER if values.pop("paper_compat", False) else OURS
        output = Output(Path(values.pop("out", FIGURES_DIR)), formats(values.pop("formats", "png,pdf")),
                        values.pop("metric", "w1"), any(synthetic_table(p) for p in paths), rules.suffix)
        questions_dir = values.pop("questions_dir", None)
        unknown = sorted(set(values) - {f for f in cls.__dataclass_fields__})
        if unknown:
            raise UserError(f"not an analysis option: {', '.join(unknown)}")
        return cls(human=human, output=output, rules=rules, questions_dir=None if questions_dir is None else
                   Path(questions_dir), **{k: Path(v) if k == "results_root" else v for k, v in values.items()})


def formats(value) -> tuple[str, ...]:
    """'PNG, pdf' or ['png', 'pdf'] -> ('png', 'pdf')."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(f.strip().lower() for f in items if str(f).strip())


def flag_problem(values: Mapping[str, Any]) -> str:
    """What is wrong with the shared options' values, in one line ("" when nothing is)."""
    chosen = formats(values.get("formats", "png,pdf"))
    if not chosen or any(f not in FORMATS for f in chosen):
        return f"--formats takes png, pdf and/or svg, not {values.get('formats')!r}"
    for flag, value, allowed in (("--metric", values.get("metric", "w1"), METRICS),
                                 ("--weights", values.get("weights", "none"), WEIGHTS)):
        if value not in allowed:
            return f"{flag} takes {', '.join(allowed)}, not {value!r}"
    if values.get("paper_compat"):
        moved = [flag for flag, on in (("--metric", values.get("metric", "w1") != "w1"),
                                       ("--weights", values.get("weights", "none") != "none"),
                                       ("--drop-nonsubstantive", values.get("drop_nonsubstantive", False))) if on]
        if moved:
            return f"--paper-compat reproduces the paper's arithmetic and cannot be combined with {', '.join(moved)}"
    return ""
