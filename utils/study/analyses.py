"""Every `show_results/` script whose inputs exist, run in this process through its own `main(argv)`.

Each script needs some experiments' results and some human data (`Analysis.needs`); one whose
inputs are missing is skipped with the reason, one that fails is recorded with its last line and
the others still run. A script's printed output goes to `<figures>/logs/<script>.log`, so the
study's console shows one line per script:

    rq1_country_level: ok (3 files)        -> figures/logprob/rq1_country_level.log
    rq3_temporal: skipped (needs human data of waves 5, 6 and 7)
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from utils.core.errors import UserError
from utils.core.paths import REPO_ROOT
from utils.core.results.tree import find_results, result_paths
from utils.study.argv import flag_argv, parse


@dataclass(frozen=True)
class Analysis:
    script: str
    needs: tuple[str, ...]  # experiments whose results must exist
    waves: tuple[int, ...] = (7,)  # human data (empty: none)
    shared_flags: bool = True  # takes utils/analysis/flags.py's flags (--weights, --metric, ...)
    paper_compat: bool = True  # has --paper-compat
    by: str = ""  # "takes": gets [analysis] by as --by; "needs": runs only with it; "runs": --by where group-steered
    # RQ2 runs of that variable exist (scores by respondent group, docs/groups.md)


ANALYSES = (
    Analysis("parse_report", (), (), shared_flags=False, paper_compat=False),
    Analysis("rq1_country_level", ("RQ1",), by="takes"),
    Analysis("rq1_groups", ("RQ1",), paper_compat=False, by="needs"),
    Analysis("rq1_model_level", ("RQ1",)),
    Analysis("rq1_average_human", ("RQ1",)),
    Analysis("human_alignment_matrix", ("RQ1",)),
    Analysis("rq2_steering", ("RQ1", "RQ2"), by="runs"),
    Analysis("internal_consistency", ("RQ1",)),  # RQ2's conditions too where they exist
    Analysis("sensitivity", ("RQ1", "sensitivity")),
    Analysis("rq3_temporal", ("RQ1",), (5, 6, 7)),
    Analysis("elicitation", ("RQ1",)),  # only across probe methods: `run_comparison`
    Analysis("robustness", ("RQ1", "perturbed"), paper_compat=False),  # with RQ1 or RQ2 `perturb` in the study
)


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


def _module(script: str) -> ModuleType | None:
    path = REPO_ROOT / "show_results" / f"{script}.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"show_results_{script}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# set by the study itself for every script ([output], [human]), never in [analysis.scripts.<name>]
SCRIPT_RESERVED = ("results_root", "run_name", "out", "human", "help")


def check_script_flags(script: str, flags: dict) -> None:
    """`[analysis.scripts.<script>]` checked by that script's own parser (its `build_parser()`)
    when the study is read, so a misspelt key fails before the probing, not after it, with the
    nearest flag ("did you mean n_boot?"). A script without `build_parser` checks them when it runs."""
    module = _module(script)
    build = getattr(module, "build_parser", None)
    if build is None:
        return
    ap, where = build(), f"[analysis.scripts.{script}]"
    parse(ap, flag_argv(ap, flags, where, f"show_results/{script}.py", reserved=SCRIPT_RESERVED), where)


def shared_argv(flags: dict) -> list[str]:
    """The study's [analysis] keys as the shared analysis flags, checked by that parser."""
    from utils.analysis.flags import parser

    ap = parser("study")
    argv = flag_argv(ap, {k: v for k, v in flags.items() if k != "paper_compat"}, "[analysis]",
                     "show_results/rq1_country_level.py")
    parse(ap, argv, "[analysis]")
    return argv


def paper_compat_argv(argv: list[str]) -> list[str]:
    """`argv` for the paper's arithmetic: without the corrected analysis's own choices (metric,
    weights, dropped options, `[analysis.scripts.<name>] bootstrap`), which `--paper-compat`
    refuses rather than ignores.

    >>> paper_compat_argv(["--out", "f", "--metric", "jsd", "--drop-nonsubstantive", "--bootstrap", "respondents"])
    ['--out', 'f', '--paper-compat']
    """
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in ("--metric", "--weights", "--by", "--bootstrap"):
            skip = True
        elif a.split("=")[0] not in ("--metric", "--weights", "--drop-nonsubstantive", "--by", "--bootstrap"):
            out.append(a)
    return out + ["--paper-compat"]


STAMP = ".analysis_inputs.json"


def fingerprint(results_root: Path, human: dict[int, Path], flags: dict, script_flags: dict) -> str:
    """A hash of everything the analyses read: the results files, the human tables, the flags and
    the analysis code (sizes and modification times), so a finished study reruns none of them."""
    files = result_paths(results_root)
    files += [Path(p) for p in human.values()]
    files += sorted((REPO_ROOT / "show_results").glob("*.py")) + sorted((REPO_ROOT / "utils" / "analysis").glob("*.py"))
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


def _run_all(results_root: Path, figures: Path, human: dict[int, Path], flags: dict,
             script_flags: dict[str, dict], log, only: tuple[str, ...] = ()) -> list[Outcome]:
    found = find_results(results_root) if Path(results_root).is_dir() else []
    present = {str(f.spec.experiment) for f in found} | ({"perturbed"} if any(f.spec.prompt for f in found) else set())
    by = flags.get("by")
    steered = {f.spec.group[0] for f in found if f.spec.group}  # group variables some RQ2 run was steered toward
    common = shared_argv({k: v for k, v in flags.items() if k != "by"})
    outcomes = []
    for a in ANALYSES:
        if (only and a.script not in only) or a.script == "elicitation":
            continue
        missing_exp = [e for e in a.needs if e not in present]
        missing_waves = [w for w in a.waves if w not in human or not Path(human[w]).is_file()]
        module = _module(a.script)
        if module is None:
            outcomes.append(Outcome(a.script, "skipped", "script not in show_results/"))
        elif not present:
            outcomes.append(Outcome(a.script, "skipped", "no results yet"))
        elif a.by == "needs" and not by:
            outcomes.append(Outcome(a.script, "skipped", "needs [analysis] by = \"<group variable>\""))
        elif missing_exp or missing_waves:
            why = ([f"{', '.join(missing_exp)} results"] if missing_exp else []) + (
                [f"human data of wave(s) {', '.join(map(str, missing_waves))}"] if missing_waves else [])
            outcomes.append(Outcome(a.script, "skipped", "needs " + " and ".join(why)))
        else:
            extra = flag_argv_loose(script_flags.get(a.script, {}))
            if a.script == "parse_report":
                argv = ["--results-root", str(results_root), "--out", str(figures / "parse_report.csv")] + extra
            else:
                humans = [str(human[w]) for w in a.waves]
                argv = ["--results-root", str(results_root), "--out", str(figures), "--human", *humans] + common + extra
                if by and (a.by in ("takes", "needs") or (a.by == "runs" and by in steered)):
                    argv += ["--by", by]
            variants = [(argv, figures / "logs" / f"{a.script}.log")]
            if flags.get("paper_compat") and a.paper_compat:
                variants.append((paper_compat_argv(argv), figures / "logs" / f"{a.script}.paper_compat.log"))
            for av, log_path in variants:
                outcomes.append(_run_one(module, a.script, av, log_path))
                outcomes[-1].paper_compat = "--paper-compat" in av
                log("  " + outcomes[-1].line())
            continue
        log("  " + outcomes[-1].line())
    return outcomes


def flag_argv_loose(flags: dict) -> list[str]:
    """Per-script flags, spelled with dashes (`n_boot = 200` -> `--n-boot 200`); the script checks them."""
    argv: list[str] = []
    for key, value in flags.items():
        opt = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            argv += [opt] if value else []
        else:
            argv += [opt, ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    return argv


def _run_one(module: ModuleType, script: str, argv: list[str], log_path: Path) -> Outcome:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
        print("python show_results/" + script + ".py " + " ".join(argv), flush=True)
        try:
            rc = module.main(argv)
        except UserError as exc:
            print(f"error: {exc}")
            return Outcome(script, "skipped", str(exc).splitlines()[0][:300], log_path)
        except SystemExit as exc:  # argparse: a flag the script does not take
            return Outcome(script, "failed", f"bad flags (exit {exc.code}); see the log", log_path)
        except Exception as exc:  # noqa: BLE001 - one script's bug must not stop the others
            traceback.print_exc()
            return Outcome(script, "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
                           log_path)
    return Outcome(script, "ok" if rc == 0 else "failed", "" if rc == 0 else f"exit code {rc}", log_path)


def run_comparison(roots: list[Path], figures: Path, human: dict[int, Path], flags: dict,
                   script_flags: dict[str, dict], log=print) -> list[Outcome]:
    """`elicitation.py` over the probe methods' result trees (a study with two or more methods)."""
    module = _module("elicitation")
    if module is None or 7 not in human or not Path(human[7]).is_file():
        return [Outcome("elicitation", "skipped", "script or wave 7 human data missing")]
    stamp = Path(figures) / STAMP
    digest = fingerprint(roots[0].parent, human, flags, {**script_flags, "compare": [str(r) for r in roots]})
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8") or "{}").get("fingerprint") == digest:
        log("  elicitation: up to date")
        return []
    argv = (["--human", str(human[7]), "--results-root", str(roots[0]), "--compare", *map(str, roots),
             "--out", str(figures)] + shared_argv(flags) + flag_argv_loose(script_flags.get("elicitation", {})))
    outcome = _run_one(module, "elicitation", argv, Path(figures) / "logs" / "elicitation.log")
    log("  " + outcome.line())
    if outcome.status != "failed":
        stamp.write_text(json.dumps({"fingerprint": digest}), encoding="utf-8")
    return [outcome]
