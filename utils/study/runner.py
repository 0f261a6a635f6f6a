"""Run a whole study: human data, every model's probes, every analysis, the report, a summary.

A model that fails (cannot load, no key, a conflicting results file) is reported and the next runs.
One backend is made per model and probe method, only when an item is left to ask, so a finished
study loads nothing.
"""
from __future__ import annotations

import functools
import os
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from utils.core.errors import UserError
from utils.core.missing_packages import missing_package
from utils.core.results.spec import Shard
from utils.core.secrets import redact
from utils.study.study_file import ModelSpec, Study
from utils.study.plan import Job


@dataclass
class ModelOutcome:
    name: str
    error: str = ""
    incomplete: list[str] = field(default_factory=list)  # job labels with items still not ok
    done: int = 0  # conditions complete


def ok_count(job: Job, cond, name: str) -> int:
    """How many of a condition's items have an ok row, its shards read as one."""
    from utils.core.paths import results_dir
    from utils.core.results.table import ok_ids
    from utils.probing.loop import results_root

    ok = ok_ids(results_dir(results_root(job.config), cond.spec.replace(name=name).folder()) / "results.csv")
    return sum(r.item.id in ok for r in cond.requests)


def run_model(model: ModelSpec, jobs: list[Job], log=print) -> ModelOutcome:
    """An API model with `batch = true` sends all of a method's jobs as one provider batch per round
    (the scripts' `--batch`); any other asks them one job after another."""
    out = ModelOutcome(model.name)
    try:
        for method in dict.fromkeys(j.method for j in jobs):
            group = [j for j in jobs if j.method == method]
            name = _ask(model, group, log)
            for job in group:
                for cond in job.conditions:
                    if ok_count(job, cond, name) >= len(cond.requests):
                        out.done += 1
                    else:
                        out.incomplete.append(f"{job.method} {'/'.join(cond.spec.condition_folder())}")
    except UserError as exc:
        out.error = redact(str(exc))
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - one model's failure must not stop the others
        out.error = missing_package(exc) or redact(f"{type(exc).__name__}: {exc}".splitlines()[0])
        if not missing_package(exc):
            log(redact(traceback.format_exc()))
    if out.error:
        log(f"[{model.name}] failed: {out.error}")
    return out


def _ask(model: ModelSpec, group: list[Job], log) -> str:
    """-> the model's results name. The backend is made as the model's script makes it, the local
    device named as torch names it (`gpu` -> `cuda`)."""
    from utils.probing.loop import run_conditions

    checked, model_id = group[0].config, None
    if model.backend == "api":
        from utils.probing.backends.api import api_backend, check_key

        check_key(checked)  # key first
        name, make = api_backend(checked)
    else:
        from utils.probing.backends.hf import check_local_model, hf_backend

        checked = check_local_model(checked)
        name, make = hf_backend(checked, group[0].plan.special_tokens)
        if checked.model_name_or_path is not None:
            from utils.probing.identity import model_identity

            model_id = model_identity(name, checked.backend.gguf_file)
    if checked.backend.kind == "api" and checked.backend.batch:
        from utils.probing.batch.client import batches_for
        from utils.probing.batch.run import run_batched

        log(f"[{model.name}] {group[0].method}: {len(group)} job(s) as one batch per round "
            f"({', '.join(j.label for j in group[:3])}{' ...' if len(group) > 3 else ''})")
        run_batched([(j.config, j.plan) for j in group], name, batches_for(checked), say=log)
        return name
    make = functools.cache(make)  # one backend for all the method's jobs
    for job in group:
        config = job.config
        if config.backend.kind == "local":  # run_meta records the device the model is on
            config = config.replace_backend(device=checked.backend.device)
        log(f"[{model.name}] {job.label}")
        run_conditions(config, job.plan, name, make, model_id=model_id)
    return name


def finish_command(study: Study, models: list[str] | None = None) -> str:
    script = os.path.relpath(Path(__file__).resolve().parents[2] / "code" / "run_study.py")
    cmd = f"python {script} --config {study.path}"
    return cmd + (f" --models {','.join(models)}" if models else "")


def run_study(study: Study, only: list[str] | None = None, log=print, *, ask_anyway: bool = False,
              shard: Shard | None = None) -> int:
    """0 when everything is complete, else 1.

    A missing input (human table, model file, API key) is a UserError naming them all before the
    first request, unless `ask_anyway`: then what can run does and the rest is reported at the end.
    `shard` asks only that shard and stops: the analyses need every shard, so they and the report
    run when the study is run again without `--shard` (which then asks nothing again)."""
    from utils.study.analyses import run_analyses, run_comparison
    from utils.study.human_tables import prepare_human
    from utils.study.inputs import refuse_missing, study_inputs
    from utils.study.plan import study_jobs

    started = time.monotonic()
    jobs = study_jobs(study, only, shard)  # every flag checked before anything runs
    inputs = study_inputs(study, jobs)
    if not ask_anyway:
        refuse_missing(inputs, study.path)
    missing = [i.short() for i in inputs if i.missing]
    for line in missing:
        log(f"missing, asking anyway: {line}")
    human = prepare_human(study.human, log)
    outcomes = [run_model(m, jobs[m.name], log) for m in study.models if m.name in jobs]
    if shard is not None:
        bad = [o.name for o in outcomes if o.error or o.incomplete]
        log(f"shard {shard}: {len(outcomes) - len(bad)} of {len(outcomes)} model(s) complete"
            f"{' (not: ' + ', '.join(bad) + ')' if bad else ''}; when every shard is done, run the study without "
            f"--shard for its analyses and report (it asks nothing again): {finish_command(study)}")
        return 1 if bad else 0
    analysis_notes = []
    if study.analysis.enabled:
        methods = list(dict.fromkeys(j.method for js in jobs.values() for j in js))
        for method in methods:
            log(f"analysis of {method} results -> {study.figures / method}")
            analysis_notes += [f"{method}: {o.line()}" for o in run_analyses(
                study.results_root / method, study.figures / method, human, study.analysis.flags,
                study.analysis.scripts, log, study.analysis.only, study.survey) if o.status == "failed"]
        if len(methods) > 1 and (not study.analysis.only or "elicitation" in study.analysis.only):
            log(f"comparison of probe methods -> {study.figures / 'comparison'}")
            analysis_notes += [o.line() for o in run_comparison(
                [study.results_root / m for m in methods], study.figures / "comparison", human,
                study.analysis.flags, study.analysis.scripts, log) if o.status == "failed"]
    report_ok = _report(study, human, log)
    return _summary(study, outcomes, analysis_notes, report_ok, time.monotonic() - started, log, missing)


def _report(study: Study, human: dict[int, Path], log) -> bool:
    from utils.report.build import write_report

    try:
        path = write_report(study.results_root, study.figures, human, study.report, title=f"Study {study.name!r}",
                            config=study.path, survey=study.survey.questions if study.survey else None)
    except UserError as exc:
        log(f"report: not written ({exc})")
        return False
    log(f"report: {path}")
    return True


def _summary(study: Study, outcomes: list[ModelOutcome], analysis_notes: list[str], report_ok: bool,
             elapsed: float, log, missing_inputs: Sequence[str] = ()) -> int:
    log(f"\nsummary of study {study.name!r} ({elapsed:.0f} s)")
    unfinished = []
    for o in outcomes:
        if o.error:
            log(f"  {o.name}: FAILED - {o.error}")
            unfinished.append(o.name)
        elif o.incomplete:
            log(f"  {o.name}: {o.done} condition(s) complete, {len(o.incomplete)} with items not ok: "
                f"{', '.join(o.incomplete[:5])}{' ...' if len(o.incomplete) > 5 else ''}")
            unfinished.append(o.name)
        else:
            log(f"  {o.name}: complete ({o.done} condition(s))")
    for note in analysis_notes:
        log(f"  analysis {note}")
    for note in missing_inputs:  # asked anyway: not complete until they are there
        log(f"  input missing: {note}")
    if not report_ok:
        log("  report: missing")
    if unfinished or analysis_notes or missing_inputs or not report_ok:
        log("to finish (it resumes; finished items are not asked again):\n  "
            + finish_command(study, unfinished or None))
        return 1
    log(f"everything complete; report: {study.report}")
    sys.stdout.flush()
    return 0
