"""Every analysis whose inputs exist, called as a function with the study's options.

One whose inputs are missing is skipped with the reason; one that fails is recorded and the others
still run. What an analysis says, warnings included, goes to `<figures>/logs/<name>.log`, so the
console shows one line per analysis:

    rq1_country_level: ok                  (the log: figures/logprob/logs/rq1_country_level.log)
    rq3_temporal: skipped (needs human data of wave(s) 5, 6)

`[analysis]` keys are the shared options (`SharedOptions`); `[analysis.scripts.<name>]` keys are that
analysis' own options, or shared ones for it alone. Both are checked when the study is read, so a
misspelt key fails before the probing.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import traceback
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from utils.analysis.config import AnalysisConfig, SharedOptions
from utils.analysis.coverage import Said
from utils.analysis.options import for_paper, options_from
from utils.analysis.registry import ANALYSES, Analysis
from utils.core.atomic import write_json
from utils.core.errors import UserError
from utils.core.paths import REPO_ROOT
from utils.core.results.spec import WVS
from utils.core.results.tree import find_results, result_paths
from utils.core.survey.files import read_questionnaire, survey_paths

if TYPE_CHECKING:
    from utils.study.study_file import SurveySpec

@dataclass
class Outcome:
    script: str
    status: str  # ok, skipped, failed
    note: str = ""
    log: Path | None = None
    paper_compat: bool = False

    def line(self) -> str:
        return f"{self.script}{' --paper-compat' if self.paper_compat else ''}: {self.status}" + (
            f" ({self.note})" if self.note else "") + (f" -> {self.log}" if self.log and self.status != "ok" else "")


def shared_options(values: dict, where: str = "[analysis]") -> SharedOptions:
    """An unknown key is a UserError naming the nearest one; `out` is the study's ([output] figures);
    `by` is the study's too, passed to the analyses that take it."""
    values = {k.replace("-", "_"): v for k, v in values.items() if k != "by"}
    if "out" in values:
        raise UserError(f"{where}: out is set by the study ([output] figures), not per analysis")
    return options_from(SharedOptions, values, where, "the analyses")


def check_shared(values: dict) -> None:
    AnalysisConfig.of(shared_options(values))


def check_script_flags(script: str, flags: dict) -> None:
    configure(ANALYSES[script], Path("results"), Path("figures"), {}, {}, flags, False, None)


def configure(entry: Analysis, root: Path, figures: Path, human: dict[int, Path], flags: dict, own: dict,
              paper: bool, by: str | None, survey: SurveySpec | None = None) -> tuple[AnalysisConfig, object]:
    """`flags` (`[analysis]`) overridden by the analysis' own table `own`; `paper`: its paper-compat pass."""
    where, own = f"[analysis.scripts.{entry.name}]", {k.replace("-", "_"): v for k, v in own.items()}
    names = {f.name for f in fields(SharedOptions)} - {"out"}
    mine = {k: v for k, v in own.items() if k in names}
    shared = replace(shared_options(flags | mine, where), out=figures)
    options = options_from(entry.options, {k: v for k, v in own.items() if k not in names}, where,
                           f"show_results/{entry.name}.py")
    if entry.survey and survey is not None:
        options = replace(options, survey=survey.questions, survey_metric=options.survey_metric or survey.metric)
    if entry.name == "parse_report":
        return AnalysisConfig(results_root=root), replace(options, out=figures / "parse_report.csv")
    if paper:
        shared, options = replace(for_paper(shared), paper_compat=True), for_paper(options)
    else:
        shared, options = replace(shared, paper_compat=False), replace(options, by=by) if by else options
    tables = tuple(human[w] for w in entry.waves if w in human)
    return AnalysisConfig.of(shared, root, human.get(7) if entry.waves == (7,) else tables or None), options


STAMP = ".analysis_inputs.json"


def fingerprint(results_root: Path, human: dict[int, Path], flags: dict, script_flags: dict,
                survey: SurveySpec | None = None) -> str:
    """Of everything the analyses read, code included (sizes and mtimes), so a finished study reruns none."""
    files = result_paths(results_root)
    files += [Path(p) for p in human.values()]
    if survey is not None:
        about, questions, table = survey_paths(survey.questions)
        files += [questions, about, table]
    files += sorted((REPO_ROOT / "show_results").glob("*.py"))
    files += sorted((REPO_ROOT / "utils" / "analysis").rglob("*.py"))
    stats = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) if f.is_file() else (str(f), -1, -1) for f in files]
    blob = json.dumps({"files": stats, "flags": flags, "scripts": script_flags,
                       "metric": survey.metric if survey else None}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def run_analyses(results_root: Path, figures: Path, human: dict[int, Path], flags: dict,
                 script_flags: dict[str, dict], log=print, only: tuple[str, ...] = (),
                 survey: SurveySpec | None = None) -> list[Outcome]:
    """On one probe method's results root, unless they already ran on exactly these inputs
    (`fingerprint`). With `survey`, the survey analyses run; without, the WVS's."""
    digest = fingerprint(results_root, human, flags, {**script_flags, "only": only}, survey)
    if done := _recorded(figures, digest):
        log(f"  analyses up to date (same results, human data, flags and code as at {done[0]})")
        return done[1]
    name = read_questionnaire(survey.questions)[0].name if survey else WVS
    found = find_results(results_root, survey=name)
    present = {str(f.spec.experiment) for f in found} | ({"perturbed"} if any(f.spec.prompt for f in found) else set())
    present |= {"survey"} if survey and found else set()
    by = flags.get("by")
    steered = {f.spec.group[0] for f in found if f.spec.group}  # group variables some RQ2 run was steered toward
    outcomes = []
    for entry in ANALYSES.values():
        if (only and entry.name not in only) or entry.methods or entry.survey != (survey is not None):
            continue
        if why := _skip_reason(entry, present, human, by):
            outcomes.append(_logged(log, Outcome(entry.name, "skipped", why)))
            continue
        takes_by = by if entry.groups in ("takes", "needs") or (entry.groups == "runs" and by in steered) else None
        for paper in (False, True) if flags.get("paper_compat") and entry.paper else (False,):
            outcomes.append(_logged(log, _run_one(entry, figures, lambda e=entry, p=paper: configure(
                e, results_root, figures, human, flags, script_flags.get(e.name, {}), p, takes_by, survey), paper)))
    return _record(figures, digest, outcomes)


def _recorded(figures: Path, digest: str) -> tuple[str, list[Outcome]] | None:
    """(when, outcomes) of the run on the same inputs `digest`, recorded in `figures`."""
    try:
        old = json.loads((Path(figures) / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(old, dict) or old.get("fingerprint") != digest:
        return None
    return old.get("at", "?"), [Outcome(**o) for o in old.get("outcomes", [])]


def _record(figures: Path, digest: str, outcomes: list[Outcome]) -> list[Outcome]:
    """Unless an analysis failed: it runs again next time."""
    if not any(o.status == "failed" for o in outcomes):
        write_json(Path(figures) / STAMP, {
            "fingerprint": digest, "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "outcomes": [{"script": o.script, "status": o.status, "note": o.note, "paper_compat": o.paper_compat}
                         for o in outcomes]})
    return outcomes


def _skip_reason(entry: Analysis, present: set[str], human: dict[int, Path], by: str | None) -> str:
    missing_exp = [e for e in entry.needs if e not in present]
    missing_waves = [w for w in entry.waves if w not in human or not Path(human[w]).is_file()]
    if not present:
        return "no results yet"
    if entry.groups == "needs" and not by:
        return "needs [analysis] by = \"<group variable>\""
    why = ([f"{', '.join(missing_exp)} results"] if missing_exp else []) + (
        [f"human data of wave(s) {', '.join(map(str, missing_waves))}"] if missing_waves else [])
    return "needs " + " and ".join(why) if why else ""


def _logged(log, outcome: Outcome) -> Outcome:
    log("  " + outcome.line())
    return outcome


@contextlib.contextmanager
def _warnings_to(fh):
    logger, handler = logging.getLogger("utils.analysis"), logging.StreamHandler(fh)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _run_one(entry: Analysis, figures: Path, configured, paper: bool) -> Outcome:
    log_path = Path(figures) / "logs" / f"{entry.name}{'.paper_compat' if paper else ''}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as fh, _warnings_to(fh):
        fh.write(f"# show_results/{entry.name}.py{' --paper-compat' if paper else ''}, as the study ran it\n")
        said = Said()
        try:
            config, options = configured()
            written = entry.run(config, options, said)
        except UserError as exc:
            fh.write("".join(f"{line}\n" for line in said.shown()) + f"error: {exc}\n")
            return Outcome(entry.name, "skipped", str(exc).splitlines()[0][:300], log_path, paper)
        except Exception as exc:  # noqa: BLE001 - one analysis' bug must not stop the others
            traceback.print_exc(file=fh)
            why = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            return Outcome(entry.name, "failed", why, log_path, paper)
        fh.write("\n".join(said.report(written)) + "\n")
    return Outcome(entry.name, "ok", "", log_path, paper)


def run_comparison(roots: list[Path], figures: Path, human: dict[int, Path], flags: dict,
                   script_flags: dict[str, dict], log=print) -> list[Outcome]:
    """The elicitation analysis across the probe methods' result trees."""
    entry = ANALYSES["elicitation"]
    if 7 not in human or not Path(human[7]).is_file():
        return [Outcome(entry.name, "skipped", "wave 7 human data missing")]
    digest = fingerprint(roots[0].parent, human, flags, {**script_flags, "compare": [str(r) for r in roots]})
    if done := _recorded(figures, digest):
        log("  elicitation: up to date")
        return done[1]

    def configured():
        config, options = configure(entry, roots[0], figures, human, flags, script_flags.get(entry.name, {}),
                                    False, None)
        return config, replace(options, compare=tuple(roots))
    return _record(figures, digest, [_logged(log, _run_one(entry, figures, configured, False))])
