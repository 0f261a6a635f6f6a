"""The study loop behind every probing script: which conditions a run covers, a dry run of
their prompts, and running them all with one prober (the model loaded once).

`build_conditions(config)` and `run_conditions(config, model_name, make_prober, conditions)` are
the two entry points; `utils/probing/cli.py` (the scripts' flags) and the study runner
(`code/run_study.py`) both call them with a `ProbeConfig` (utils/probing/config.py), so the
identity and resume checks inside `run_conditions` hold for every way a study is run.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from utils.core.errors import UserError
from utils.core.groups import load_group_vars, parse_group
from utils.core.paths import model_folder, results_dir
from utils.core.records import Prober
from utils.probing.config import ProbeConfig
from utils.probing.conditions import (
    Condition,
    Rq2Cell,
    choose,
    paper_steering_methods,
    rq1_condition,
    rq1_items,
    rq2_cell,
    sensitivity_condition,
    steering_countries,
    steering_methods,
)
from utils.core.results.spec import RunSpec
from utils.core.results.tree import named_run
from utils.probing.identity import identity_conflict, prompt_sha256, run_spec
from utils.probing.meta import input_hashes, run_meta, write_run_meta
from utils.probing.perturb import applicable_specs, member_condition, parse_specs, perturbed_conditions
from utils.probing.repeats import repeated
from utils.probing.prompts import load_prompt_set, prompt_text, write_dry_run
from utils.probing.release.protocol import release_protocol_for
from utils.probing.results_store import ResultStore
from utils.probing.runner import run_requests


def select_items(items, limit: int | None, ids: str | None):
    if ids:
        wanted = [i.strip() for i in ids.split(",") if i.strip()]
        known = {it.id for it in items}
        unknown = [i for i in wanted if i not in known]
        if unknown:
            raise UserError(f"unknown item id(s) {', '.join(unknown)}; ids look like Q1, Q18, Q259")
        items = [it for it in items if it.id in set(wanted)]
    if limit is not None:
        if limit < 1:
            raise UserError("--limit must be at least 1")
        items = items[:limit]
    return items


def build_conditions(config: ProbeConfig) -> list[Condition]:
    """The conditions the flags select, every prompt rendered; a bad selection (country, steering
    method, item id, limit) is a one-line UserError before any model or key is touched. With
    `--repeats R` each condition is followed by its repeats (utils/probing/repeats.py)."""
    return repeated(selected_conditions(config), config)


def selected_conditions(config: ProbeConfig) -> list[Condition]:
    """The conditions of the selection flags, each asked once."""
    def select(items):
        return select_items(items, config.limit, config.ids)

    if config.protocol == "release" and config.perturb:
        raise UserError("--protocol release asks as the paper's release did, which had no perturbations; drop --perturb")
    if config.protocol == "release":  # the release's own items, prompts and messages, read from its checkout
        if config.group:
            raise UserError("--protocol release asks as the paper's release did, which had no groups; drop --group")
        release = release_protocol_for(config)
        if config.experiment == "RQ2":
            countries = choose(config.country, release.countries(), "country")
            methods = choose(config.steering_method, release.steering_methods(), "steering method")
            return [release.rq2(m, c, select) for m in methods for c in countries]
        if config.variant:
            return [release.sensitivity(config.variant, select)]
        return [release.rq1(select)]
    if config.experiment == "RQ2":
        countries = choose(config.country, list(steering_countries()), "country")
        methods = choose(config.steering_method, list(steering_methods()), "steering method",
                         paper_steering_methods())
        if not config.group:
            if config.human is not None:
                raise UserError("--human feeds the few-shot examples of --group; give --group VAR=LABEL, "
                                "or leave out --human")
            return with_members([rq2_cell(c, m, select, config.questions_dir) for m in methods for c in countries],
                                config)
        groups = parse_groups(config.group)
        if config.human is not None and not Path(config.human).is_file():
            raise UserError(f"--human {config.human} not found; prepare it with dataset/prepare_wvs.py --groups ...")
        return with_members([rq2_cell(c, m, select, config.questions_dir, group=g, human=config.human)
                             for g in groups for m in methods for c in countries], config)
    if config.variant:
        if config.perturb:
            raise UserError("--perturb varies RQ1's own prompt; run it without --variant")
        return [sensitivity_condition(config.variant, config.method, select, config.questions_dir)]
    items = select(rq1_items(config.questions_dir))  # the 144, and Q151 for RQ3
    original = rq1_condition(items, config.method, load_prompt_set("English"))
    return [original] + perturbed_conditions(items, config.method, config.perturb or ())


def with_members(cells: list[Rq2Cell], config: ProbeConfig) -> list[Condition]:
    """Each RQ2 cell, then its `--perturb` members (`Robustness/RQ2/<method>/<country>/<member>`).
    A few-shot cell's examples are real shares, the steering itself, so it gets no `examples`
    member; one printed line says which cells were left without."""
    specs = config.perturb or ()
    parse_specs(specs)  # a bad spec is one line even where every cell would skip it
    out, skipped = [], []
    for cell in cells:
        kept = applicable_specs(specs, cell.real_examples)
        if kept != tuple(specs):
            skipped.append("/".join(cell.spec.condition_folder()[1:]))
        out.append(cell.condition(config.method))
        out += [member_condition(p, cell.items, config.method, cell.spec, steer=cell.steer) for p in parse_specs(kept)]
    if skipped:
        print(f"--perturb examples: left out for {len(skipped)} few-shot cell(s) ({', '.join(skipped[:4])}"
              f"{', ...' if len(skipped) > 4 else ''}): their examples are the country's real shares, the steering "
              "itself (docs/robustness.md)")
    return out


def parse_groups(texts: tuple[str, ...]) -> list[tuple[str, str]]:
    """`--group age=18-29 --group sex=female` -> [("age", "18-29"), ("sex", "female")], each
    checked against inputs/groups/groups.json (an unknown variable or label names what exists)."""
    known = load_group_vars()
    return list(dict.fromkeys(parse_group(t, known) for t in texts))


def dry_run(conditions: list[Condition], path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("", encoding="utf-8")
    n = chars = 0
    for c in conditions:
        n += write_dry_run(c.requests, path, c.spec.dry_run_fields(), append=True)
        chars += sum(len(prompt_text(r)) for r in c.requests)
    print(f"wrote {n} prompts for {len(conditions)} condition(s) to {path.resolve()} ({chars} characters, "
          f"about {chars // 4} prompt tokens at ~4 characters a token); no model was called")
    return 0


@dataclass
class Planned:
    """One condition ready to run: where its rows go, what they are asked under, what is left."""

    cond: Condition
    out_dir: Path
    spec: RunSpec
    pending: int


def results_root(config: ProbeConfig) -> Path:
    """`--results-root`, or `<root>/runs/<NAME>` with `--run-name NAME` (a run's own folder,
    in the paper's layout inside; the analyses read it with the same --run-name)."""
    return named_run(config.results_root, config.run_name)


def check_destination(config: ProbeConfig, model_name: str) -> Path:
    """The run's results root, checked with the model's folder inside it: a model name that would
    climb out of it, or a bad `--run-name`, is a UserError here, before a key or a model is read."""
    model_folder(model_name)
    return results_root(config)


def plan_conditions(config: ProbeConfig, model_name: str, conditions: list[Condition], *,
                    model_id: str | None = None) -> list[Planned]:
    """Check every condition's stored rows against this run before anything is loaded or sent:
    a file asked under another identity is a one-line UserError, and the file is not touched."""
    root = results_root(config)
    plans = []
    for cond in conditions:
        spec = run_spec(config, cond.spec, model_name, model_id)
        out_dir = results_dir(root, spec.folder())
        pending = len(cond.requests)
        if (out_dir / "results.csv").is_file():
            with ResultStore(out_dir / "results.csv") as store:
                check_identity(store, spec, cond)
                done = store.finished_ids()
                pending = sum(r.item.id not in done for r in cond.requests)
        plans.append(Planned(cond, out_dir, spec, pending))
    return plans


def check_identity(store: ResultStore, spec: RunSpec, cond: Condition) -> None:
    prompts = {r.item.id: prompt_sha256(r.messages) for r in cond.requests}
    conflict = identity_conflict(store.rows, spec, prompts)
    if conflict:
        raise UserError(f"{store.path} holds rows asked otherwise ({conflict}); nothing was changed. "
                        "Give this run its own folder with --run-name NAME, or another --results-root")


def run_conditions(config: ProbeConfig, model_name: str, make_prober: Callable[[], Prober],
                   conditions: list[Condition], *, model_id: str | None = None) -> int:
    """Run every condition with one prober; returns the exit code.

    Every condition's stored rows are checked against this run first (`plan_conditions`), and the
    model is made (`make_prober`, called at most once) only when some item is left to ask.
    `model_id` is the model as rows record it (default: `identity.model_id_for(config, model_name)`)."""
    plans = plan_conditions(config, model_name, conditions, model_id=model_id)
    if not any(p.pending for p in plans):
        n = sum(len(p.cond.requests) for p in plans)
        print(f"nothing left to do: all {n} items of {len(plans)} condition(s) already have ok rows "
              f"under {results_root(config)}; no model was loaded")
        return 0
    prober: Prober | None = None
    bad = 0
    for plan in plans:
        cond, out_dir = plan.cond, plan.out_dir
        where = "/".join(cond.spec.condition_folder())
        if not plan.pending:
            print(f"{where}: nothing left to do ({len(cond.requests)} items already ok)")
            continue
        started = time.monotonic()
        with ResultStore(out_dir / "results.csv") as store:
            check_identity(store, plan.spec, cond)  # again under the lock: another run may have written
            meta = run_meta(config.arguments(), **plan.spec.columns(), n_items=len(cond.requests),
                            inputs=input_hashes(plan.spec, config.questions_dir) if config.protocol == "ours"
                            else {str(config.release_dir): plan.spec.release_commit})  # the release read
            if prober is None:
                prober = make_prober()
            if hasattr(prober, "reseed"):  # --repeats: each repeat draws from its own seed
                prober.reseed(plan.spec.seed or 0)
            summary = run_requests(prober, cond.requests, store, concurrency=config.concurrency,
                                   max_attempts=config.max_attempts, progress=not config.quiet,
                                   identity=plan.spec.columns(), shown=cond.shown)
            elapsed = time.monotonic() - started
            if store.rows:
                write_run_meta(out_dir / "run_meta.json",
                               {**meta, "summary": summary.__dict__, "elapsed_s": round(elapsed, 1)})
        bad += summary.errors + summary.unparsed
        print(f"{where}: {summary.line()}; {elapsed:.1f}s; results in {out_dir / 'results.csv'}")
    return 0 if bad == 0 else 1

