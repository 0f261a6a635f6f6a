"""Every analysis whose inputs exist, called as a function with the study's options.

Each analysis needs some experiments' results and some human data (`registry.Analysis`); one
whose inputs are missing is skipped with the reason, one that fails is recorded with its last
line and the others still run. What an analysis says (coverage lines, notes, its summary) and the
library's warnings go to `<figures>/logs/<name>.log`, so the study's console shows one line per
analysis:

    rq1_country_level: ok                  (the log: figures/logprob/logs/rq1_country_level.log)
    rq3_temporal: skipped (needs human data of wave(s) 5, 6)

`[analysis]` keys are the shared options (`AnalysisConfig`); `[analysis.scripts.<name>]` keys are
that analysis' own options (its dataclass in `registry.ANALYSES`), or shared ones for it alone.
Both are checked when the study is read (`check_shared`, `check_script_flags`), with "did you
mean", so a misspelt key fails before the probing.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import traceback
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from utils.analysis.config import AnalysisConfig
from utils.analysis.coverage import Said
from utils.analysis.options import coerce, for_paper, options_from
from utils.analysis.registry import ANALYSES, Analysis
from utils.core.errors import UserError
from utils.core.flag_parser import suggest
from utils.core.paths import REPO_ROOT
from utils.core.results.tree import find_results, result_paths

# the shared options a study may set, and their types (the study sets results_root, out and human)
SHARED = {"weights": str, "drop_nonsubstantive": bool, "models": str, "questions_dir": Path, "seed": int,
          "min_coverage": float, "probe_method": str, "metric": str, "formats": str, "paper_compat": bool}
OURS_ONLY = ("metric", "weights", "drop_nonsubstantive")  # the paper's rules refuse them: its pass leaves them out


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


def shared(values: dict, where: str = "[analysis]") -> dict:
    """The shared options among `values`, checked and typed: `min_coverage = 0` -> 0.0, a list of
    models or formats joined with commas; an unknown key is a UserError with the nearest one."""
    out = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in SHARED:
            raise UserError(f"{where}: {key!r} is not an analysis option a study may set{suggest(name, SHARED)}; "
                            f"they are {', '.join(SHARED)}")
        kind = SHARED[name]
        try:
            out[name] = ",".join(map(str, value)) if isinstance(value, list) and kind is str else coerce(kind, value)
        except (TypeError, ValueError):
            raise UserError(f"{where}: {key} takes {kind.__name__}, not {value!r}") from None
    return out


def check_shared(values: dict, where: str = "[analysis]") -> None:
    AnalysisConfig.from_values(shared(values, where))


def check_script_flags(script: str, flags: dict) -> None:
    """`[analysis.scripts.<script>]` checked against the analysis' options (and the shared ones)."""
    where, entry = f"[analysis.scripts.{script}]", ANALYSES[script]
    own = {k: v for k, v in flags.items() if k.replace("-", "_") not in SHARED}
    check_shared({k: v for k, v in flags.items() if k not in own}, where)
    options_from(entry.options, {k.replace("-", "_"): v for k, v in own.items()}, where, f"show_results/{script}.py")


def configure(entry: Analysis, root: Path, figures: Path, human: dict[int, Path], flags: dict, own: dict,
              paper: bool, by: str | None) -> tuple[AnalysisConfig, object]:
    """The study's options for one analysis (its paper pass: `paper`)."""
    where = f"[analysis.scripts.{entry.name}]"
    values = shared(flags) | shared({k: v for k, v in own.items() if k.replace("-", "_") in SHARED}, where)
    options = options_from(entry.options, {k.replace("-", "_"): v for k, v in own.items()
                                           if k.replace("-", "_") not in SHARED}, where, f"show_results/{entry.name}.py")
    if entry.name == "parse_report":
        return AnalysisConfig(results_root=root), replace(options, out=figures / "parse_report.csv")
    values |= {"results_root": root, "out": figures,
               "human": human[7] if entry.waves == (7,) else [human[w] for w in entry.waves]}
    if paper:
        values = {k: v for k, v in values.items() if k not in OURS_ONLY} | {"paper_compat": True}
        options = for_paper(options)
    else:
        values["paper_compat"] = False
        options = replace(options, by=by) if by else options
    return AnalysisConfig.from_values(values), options


STAMP = ".analysis_inputs.json"


def fingerprint(results_root: Path, human: dict[int, Path], flags: dict, script_flags: dict) -> str:
    """A hash of everything the analyses read: the results files, the human tables, the flags and
    the analysis code (sizes and modification times), so a finished study reruns none of them."""
    files = result_paths(results_root)
    files += [Path(p) for p in human.values()]
    files += sorted((REPO_ROOT / "show_results").glob("*.py")) + sorted((REPO_ROOT / "utils" / "analysis").rglob("*.py"))
    stats = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) if f.is_file() else (str(f), -1, -1) for f in files]
    blob = json.dumps({"files": stats, "flags": flags, "scripts": script_flags}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def run_analyses(results_root: Path, figures: Path, human: dict[int, Path], flags: dict,
                 script_flags: dict[str, dict], log=print, only: tuple[str, ...] = ()) -> list[Outcome]:
    """Run every analysis on one results root (one probe method) into `figures`, unless they
    already ran on exactly these inputs (`fingerprint`, kept in `<figures>/.analysis_inputs.json`)."""
    stamp, digest = Path(figures) / STAMP, fingerprint(results_root, human, flags, {**script_flags, "only": only})
    if stamp.is_file():
        try:
            old = json.loads(stamp.read_text(encoding="utf-8"))
        except ValueError:
            old = {}
        if old.get("fingerprint") == digest:
            log(f"  analyses up to date (same results, human data, flags and code as at {old.get('at', '?')})")
            return [Outcome(**o) for o in old.get("outcomes", [])]
    outcomes = _run_all(results_root, figures, human, flags, script_flags, log, only)
    if not any(o.status == "failed" for o in outcomes):
        figures.mkdir(parents=True, exist_ok=True)
        record = {"fingerprint": digest, "at": datetime.now(UTC).isoformat(timespec="seconds"),
                  "outcomes": [{"script": o.script, "status": o.status, "note": o.note,
                                "paper_compat": o.paper_compat} for o in outcomes]}
        tmp = stamp.with_name(STAMP + ".tmp")
        tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
        os.replace(tmp, stamp)
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


def _run_all(results_root: Path, figures: Path, human: dict[int, Path], flags: dict,
             script_flags: dict[str, dict], log, only: tuple[str, ...] = ()) -> list[Outcome]:
    found = find_results(results_root) if Path(results_root).is_dir() else []
    present = {str(f.spec.experiment) for f in found} | ({"perturbed"} if any(f.spec.prompt for f in found) else set())
    by = flags.get("by")
    steered = {f.spec.group[0] for f in found if f.spec.group}  # group variables some RQ2 run was steered toward
    common = {k: v for k, v in flags.items() if k != "by"}
    outcomes = []
    for entry in ANALYSES.values():
        if (only and entry.name not in only) or entry.methods:
            continue
        if why := _skip_reason(entry, present, human, by):
            outcomes.append(Outcome(entry.name, "skipped", why))
            log("  " + outcomes[-1].line())
            continue
        takes_by = by if entry.groups in ("takes", "needs") or (entry.groups == "runs" and by in steered) else None
        for paper in (False, True) if common.get("paper_compat") and entry.paper else (False,):
            outcomes.append(_run_one(entry, figures, lambda e=entry, p=paper: configure(
                e, results_root, figures, human, common, script_flags.get(e.name, {}), p, takes_by), paper))
            log("  " + outcomes[-1].line())
    return outcomes


@contextlib.contextmanager
def _warnings_to(fh):
    """The analysis library's warnings go to its log file while it runs, not to the study's console."""
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
    """Run one analysis (its options from `configured()`); its lines or its error go to its log."""
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
            return Outcome(entry.name, "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
                           log_path, paper)
        fh.write("\n".join(said.report(written)) + "\n")
    return Outcome(entry.name, "ok", "", log_path, paper)


def run_comparison(roots: list[Path], figures: Path, human: dict[int, Path], flags: dict,
                   script_flags: dict[str, dict], log=print) -> list[Outcome]:
    """The elicitation analysis over the probe methods' result trees (a study with two or more methods)."""
    entry = ANALYSES["elicitation"]
    if 7 not in human or not Path(human[7]).is_file():
        return [Outcome(entry.name, "skipped", "wave 7 human data missing")]
    stamp = Path(figures) / STAMP
    digest = fingerprint(roots[0].parent, human, flags, {**script_flags, "compare": [str(r) for r in roots]})
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8") or "{}").get("fingerprint") == digest:
        log("  elicitation: up to date")
        return []

    def configured():
        config, options = configure(entry, roots[0], figures, human, {k: v for k, v in flags.items() if k != "by"},
                                    script_flags.get(entry.name, {}), False, None)
        return config, replace(options, compare=tuple(roots))

    outcome = _run_one(entry, figures, configured, False)
    log("  " + outcome.line())
    if outcome.status != "failed":
        stamp.write_text(json.dumps({"fingerprint": digest}), encoding="utf-8")
    return [outcome]
