"""How much of the questionnaire a results file lets us score, and refusing files below a floor.

A run cut short (89 of 144 items) would otherwise be scored as if complete, on other items than
the rest. Every file read for analysis is tallied over the items the analysis asked for:

    scored     the model's answer is read and the human data has the item
    not asked  no country in the human data answered the item (nothing to compare with)
    unparsed   the row's answer could not be read (or its status says so)
    error      the row records a failed request
    absent     no row for the item (the run did not get there)
    not in the release's translation
               no row, asked under `--protocol release` in a language whose translation in the
               paper's release lacks the item (Chinese Q83-Q90, ...): never asked, so not held
               against the file

and one line is logged per file (shown on stdout by `flags.run`), e.g.

    results/RQ1/m/results.csv [logprob]: 140/144 items scored (97.2%); left out: 2 unparsed (Q12, Q40),
    2 absent (Q143, Q144)

Coverage is scored / (items - not asked). Below `--min-coverage` (default 0.9) the file is
refused with one line, unless asked for (`--min-coverage 0`).

What a run shows (`show_reports`): the first lines of files with every item scored
(`SHOW_COMPLETE`) and of files with items left out or options mapped by position
(`SHOW_PROBLEMS`); past those, files are counted, and one closing line (`summary`) says how many
were not shown. A run of a few files shows every line, as before; the paper's release (351 RQ2
files) shows twenty lines and the count instead of four hundred. The same handler shows the
analysis' notes (`NOTES`: a model left out, a table of another wave) once each, as `note: ...`.
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from utils.core.errors import UserError
from utils.core.logs import CurrentStreamHandler

if TYPE_CHECKING:
    from utils.analysis.config import AnalysisConfig

log = logging.getLogger(__name__)
NOTES = logging.getLogger("utils.analysis.notes")  # one-line notes of the analysis, shown once each
SHOW_COMPLETE, SHOW_PROBLEMS = 8, 12  # coverage lines shown before the rest are only counted
UNTRANSLATED = "not in the release's translation"
REASONS = ("not asked", UNTRANSLATED, "unparsed", "error", "absent")
UNWANTED = ("not asked", UNTRANSLATED)  # items a file is not expected to have
DEFAULT_MIN = 0.9


@dataclass
class AnswerPolicy:
    """What the analysis accepts: coverage floor, probe method, the items the human data has
    (None: all count), and the questionnaire folder for renumbered options."""

    min_coverage: float = DEFAULT_MIN
    probe_method: str | None = None
    asked: frozenset[str] | None = None
    questions_dir: Path | None = None
    reported: set[Path] = field(default_factory=set)  # files already reported in this run


@dataclass
class Coverage:
    """The tally of one file over the analysis' items."""

    label: str
    n_items: int
    scored: list[str] = field(default_factory=list)
    left_out: dict[str, list[str]] = field(default_factory=lambda: {r: [] for r in REASONS})
    remapped: list[str] = field(default_factory=list)

    def add(self, item_id: str, reason: str) -> None:
        (self.scored if reason == "scored" else self.left_out[reason]).append(item_id)

    @property
    def wanted(self) -> int:
        return self.n_items - sum(len(self.left_out[r]) for r in UNWANTED)

    @property
    def ratio(self) -> float:
        return len(self.scored) / self.wanted if self.wanted else 0.0

    @property
    def left_out_wanted(self) -> int:
        """Items it was expected to have and did not score (unparsed, error, absent)."""
        return sum(len(self.left_out[r]) for r in REASONS if r not in UNWANTED)

    @property
    def complete(self) -> bool:
        """Every item it was expected to have is scored, and none was renumbered."""
        return not self.remapped and not self.left_out_wanted

    def line(self) -> str:
        """'<label>: 140/144 items scored (97.2%); left out: 2 unparsed (Q12, Q40)'"""
        parts = [f"{len(ids)} {r} ({_ids(ids)})" for r, ids in self.left_out.items() if ids]
        wanted = self.n_items - len(self.left_out["not asked"])
        of = f" of the {wanted} the human data asked" if wanted < self.n_items else ""
        if self.wanted < wanted:
            of += f"{' and' if of else ' of the'} {self.wanted} the release's translation has"
        text = f"{self.label}: {len(self.scored)}/{self.n_items} items scored ({self.ratio:.1%}{of})"
        return text + (f"; left out: {', '.join(parts)}" if parts else "")

    def remap_line(self) -> str:
        return (f"{self.label}: options of {len(self.remapped)} item(s) numbered 1..N, not by WVS code, "
                f"mapped by position to the questionnaire's codes ({_ids(self.remapped)})")


def _ids(ids: list[str], shown: int = 6) -> str:
    return ", ".join(ids[:shown]) + (f", ... {len(ids) - shown} more" if len(ids) > shown else "")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--min-coverage", type=float, default=DEFAULT_MIN, metavar="FRACTION",
                    help="refuse a results file whose share of the items scored is below this "
                         f"(default {DEFAULT_MIN}; 0 scores any file)")
    ap.add_argument("--probe-method", default=None,
                    help="use the results of this probe method (verbalized, logprob, ...) where a model has "
                         "several (default: whatever is there; an error if a model has more than one)")


def asked_items(*scorings) -> frozenset[str] | None:
    """Items that some country in the human data answered, over one or more `Scoring`s."""
    asked: set[str] = set()
    for sc in scorings:
        total = np.asarray(sc.human.counts).sum(axis=(0, 2))
        asked |= {i for i, n in zip(sc.human.item_ids, total) if n > 0}
    return frozenset(asked) if scorings else None


def answer_policy(config: AnalysisConfig, *scorings: Iterable) -> AnswerPolicy:
    """The policy a script's `AnalysisConfig` asks for; pass its `Scoring`(s) so items the human
    data never asked are not held against a file."""
    floor = config.min_coverage
    if not 0 <= floor <= 1:
        raise UserError(f"--min-coverage is a fraction between 0 and 1, not {floor:g}")
    return AnswerPolicy(floor, config.probe_method, asked_items(*scorings), config.questions_dir)


def check(cov: Coverage, policy: AnswerPolicy, path: Path) -> None:
    """Log the file's coverage once; refuse it below the floor with one line."""
    if path not in policy.reported:
        policy.reported.add(path)
        log.info("%s", cov.line(), extra={"coverage": cov})
        if cov.remapped:
            log.info("%s", cov.remap_line(), extra={"coverage": cov})
    if cov.ratio < policy.min_coverage:
        raise UserError(f"{cov.line()}: below --min-coverage {policy.min_coverage:g}; finish the run "
                        "(rerunning it resumes) or pass --min-coverage 0 to score it anyway")


def show_reports(stream: TextIO | None = None) -> None:
    """Print this module's coverage lines and the analysis' notes, plain, on `stream` or else on
    whatever stdout is current when a line comes: scripts call it at start, and several may run in
    one process (the study runner, the tests), each with its own stdout."""
    for logger, fmt, chooser in ((log, "coverage %(message)s", CoverageLines()),
                                 (NOTES, "note: %(message)s", OncePerMessage())):
        for h in list(logger.handlers):
            logger.removeHandler(h)
        handler = logging.StreamHandler(stream) if stream is not None else CurrentStreamHandler("stdout")
        handler.setFormatter(logging.Formatter(fmt))
        handler.addFilter(chooser)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def summary() -> str:
    """The closing line: how many files' coverage lines were not shown ("" when all were)."""
    found = (f for h in log.handlers for f in h.filters if isinstance(f, CoverageLines))
    return next((f.summary() for f in found), "")


class OncePerMessage(logging.Filter):
    """Each distinct message once (a note raised by every call of a helper is said once)."""

    def __init__(self):
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        new = text not in self.seen
        self.seen.add(text)
        return new


class CoverageLines(logging.Filter):
    """Lets through at most SHOW_COMPLETE coverage lines of complete files and SHOW_PROBLEMS of
    the others; files past those are counted for `summary`. Records without a Coverage pass."""

    def __init__(self):
        super().__init__()
        self.shown = {True: 0, False: 0}  # complete? -> lines shown
        self.hidden: dict[str, set[str]] = {"every item scored": set(), "items left out": set(),
                                            "options mapped by position": set()}

    def filter(self, record: logging.LogRecord) -> bool:
        cov = getattr(record, "coverage", None)
        if cov is None:
            return True
        complete = cov.complete
        if self.shown[complete] < (SHOW_COMPLETE if complete else SHOW_PROBLEMS):
            self.shown[complete] += 1
            return True
        remap = record.getMessage() == cov.remap_line() or not cov.left_out_wanted
        kind = "every item scored" if complete else "options mapped by position" if remap else "items left out"
        self.hidden[kind].add(cov.label)
        return False

    def summary(self) -> str:
        parts = [f"{len(files)} with {kind}" for kind, files in self.hidden.items() if files]
        if not parts:
            return ""
        return (f"coverage of {len(set().union(*self.hidden.values()))} more results file(s) not shown: "
                f"{', '.join(parts)} (python show_results/parse_report.py lists every row)")
