"""How much of the questionnaire a results file lets us score, and what an analysis has to say.

A run cut short would otherwise be scored as if complete, on other items than the rest. Items are
scored or `REASONS`: not asked (by the human data), untranslated (absent under `--protocol release`
where the release's translation lacks the item), unparsed, error, absent. Coverage is scored /
(items - the `UNWANTED` ones); below `--min-coverage` the file is refused. One line per file:

    results/RQ1/m/results.csv [logprob]: 140/144 items scored (97.2%); left out: 2 unparsed (Q12, Q40)

Past `SHOW_COMPLETE` complete files and `SHOW_PROBLEMS` others, files are only counted in one
closing line, so the release's 351 RQ2 files show twenty lines, not four hundred.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from utils.core.errors import UserError

SHOW_COMPLETE, SHOW_PROBLEMS = 8, 12  # coverage lines shown before the rest are only counted
UNTRANSLATED = "not in the release's translation"
REASONS = ("not asked", UNTRANSLATED, "unparsed", "error", "absent")
UNWANTED = ("not asked", UNTRANSLATED)  # items a file is not expected to have
DEFAULT_MIN = 0.9


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

    def check(self, min_coverage: float, why: str = "") -> None:
        """A file below `--min-coverage` is a one-line UserError, never scored."""
        if self.ratio < min_coverage:
            raise UserError(f"{self.line()}: below --min-coverage {min_coverage:g}{why}; finish the run "
                            "(rerunning it resumes) or pass --min-coverage 0 to score it anyway")

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


@dataclass
class Said:
    """What an analysis has to tell, in order: coverage (once per file), notes (once each), summary
    lines. The caller prints it, also after a UserError."""

    entries: list[tuple[str, Coverage | None]] = field(default_factory=list)
    files: set[str] = field(default_factory=set)

    def coverage(self, cov: Coverage) -> None:
        if cov.label not in self.files:
            self.files.add(cov.label)
            self.entries.append((f"coverage {cov.line()}", cov))
            if cov.remapped:
                self.entries.append((f"coverage {cov.remap_line()}", cov))

    def note(self, text: str) -> None:
        if (f"note: {text}", None) not in self.entries:
            self.entries.append((f"note: {text}", None))

    def line(self, text: str) -> None:
        self.entries.append((text, None))

    def shown(self) -> list[str]:
        """The lines a console shows: every note and line, and coverage lines up to the limits."""
        return self._split()[0]

    def report(self, written: list[Path]) -> list[str]:
        """Everything a console shows after a run: the lines, the summary and the files written."""
        summary = self.summary()
        return self.shown() + ([summary] if summary else []) + ["wrote " + ", ".join(map(str, written))]

    def summary(self) -> str:
        """The closing line: how many files' coverage lines were not shown ("" when all were)."""
        hidden = self._split()[1]
        parts = [f"{len(files)} with {kind}" for kind, files in hidden.items() if files]
        if not parts:
            return ""
        return (f"coverage of {len(set().union(*hidden.values()))} more results file(s) not shown: "
                f"{', '.join(parts)} (python show_results/parse_report.py lists every row)")

    def _split(self) -> tuple[list[str], dict[str, set[str]]]:
        shown, lines = {True: 0, False: 0}, []
        hidden: dict[str, set[str]] = {"every item scored": set(), "items left out": set(),
                                       "options mapped by position": set()}
        for text, cov in self.entries:
            if cov is None:
                lines.append(text)
            elif shown[cov.complete] < (SHOW_COMPLETE if cov.complete else SHOW_PROBLEMS):
                shown[cov.complete] += 1
                lines.append(text)
            else:
                remap = text == f"coverage {cov.remap_line()}" or not cov.left_out_wanted
                kind = "every item scored" if cov.complete else "options mapped by position" if remap else \
                    "items left out"
                hidden[kind].add(cov.label)
        return lines, hidden
