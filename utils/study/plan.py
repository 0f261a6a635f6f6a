"""From a study to the probing scripts' own arguments: one `Job` per model, probe method and
experiment condition set, each with a `ProbeConfig` made through the scripts' own parser.

Why through the parser: `parse_args(["--method", "logprob", "--limit", "12", ...])` gives exactly
the defaults and checks `prob_by_llm.py` / `prob_by_api.py` apply, and `ProbeConfig.from_mapping`
turns them into the same record the scripts make, so a study and a hand-typed command cannot
drift apart. A model's results go under `<results_root>/<method>/` in the paper's
layout, so two probe methods never share a results file.

    >>> [j.label for j in model_jobs(study, study.models[0])]     # doctest: +SKIP
    ['logprob RQ1', 'logprob RQ2 persona/Japan', 'logprob sensitivity number']
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from utils.core.errors import UserError
from utils.probing.conditions import Condition, steering_methods
from utils.probing.probe_config import ProbeConfig
from utils.probing.grid import Plan, plan_for
from utils.probing.perturb import applicable_specs
from utils.probing.prompts import prompt_text
from utils.study.argv import flag_argv, parse
from utils.study.config import ModelSpec, Study

CHARS_PER_TOKEN = 4  # the rough rule the scripts' --dry-run uses too


@dataclass(frozen=True)
class Job:
    model: ModelSpec
    method: str
    kind: str  # the script's experiment: "RQ1" (also sensitivity variants) or "RQ2"
    label: str  # e.g. "logprob RQ2 persona/Japan"
    config: ProbeConfig
    plan: Plan

    @property
    def conditions(self) -> list[Condition]:
        return self.plan.conditions

    @property
    def experiment(self) -> str:
        return str(self.conditions[0].spec.experiment) if self.conditions else self.kind


def method_root(study: Study, method: str) -> Path:
    return study.results_root / method


def parser_for(model: ModelSpec, kind: str) -> argparse.ArgumentParser:
    from utils.probing.cli import api_parser, local_parser

    return (api_parser if model.backend == "api" else local_parser)(kind)


def model_jobs(study: Study, model: ModelSpec) -> list[Job]:
    """Every job of one model, in the order they run: per method RQ1, RQ2 cells, variants."""
    ex = study.experiments
    jobs = []
    probe = {k: v for k, v in study.probe.items() if k not in model.flags}  # a model's own key wins
    for method in study.model_methods(model):
        where = f"{study.path}: model {model.name!r}"
        head = ["--method", method, "--results-root", str(method_root(study, method))]
        if model.model_name_or_path:
            head += ["--model_name_or_path", model.model_name_or_path]
        specs: list[tuple[str, str, list[str]]] = []
        if ex.rq1:
            specs.append(("RQ1", "RQ1", [a for spec in ex.perturb for a in ("--perturb", spec)]))
        for steering in ex.rq2_methods:
            # a few-shot cell's examples are the steering itself: no `examples` member (perturb.applicable_specs)
            members = [a for spec in applicable_specs(ex.rq2_perturb, steering_methods()[steering]["examples"] ==
                                                      "country") for a in ("--perturb", spec)]
            for country in ex.rq2_countries:
                cell = ["--country", country, "--steering_method", steering]
                specs.append(("RQ2", f"RQ2 {steering}/{country}", cell + members))
                if steering_methods()[steering].get("names"):  # only a method naming the people names a group
                    specs += [("RQ2", f"RQ2 {steering}/{country}/{group}", cell + ["--group", group] + members)
                              for group in ex.rq2_groups]
        for variant in ex.variants:
            specs.append(("RQ1", f"sensitivity {variant}", ["--variant", variant]))
        for kind, label, extra in specs:
            parser = parser_for(model, kind)
            script = f"code/{kind}/prob_by_{'api' if model.backend == 'api' else 'llm'}.py"
            argv = (head + extra + flag_argv(parser, probe, f"{study.path}: [probe] (model {model.name!r})", script)
                    + flag_argv(parser, model.flags, where, script))
            config = ProbeConfig.from_mapping(parse(parser, argv, f"{where}, {label}"), kind, model.backend)
            jobs.append(Job(model, method, kind, f"{method} {label}", config, _plan(config)))
    return jobs


_CACHE: dict[tuple, Plan] = {}
_PROMPT_ARGS = ("method", "country", "steering_method", "variant", "limit", "ids", "questions_dir", "samples",
                "protocol", "release_dir", "group", "human", "perturb", "temperature", "retry_temperature",
                "max_new_tokens", "sample_temperature", "repeats")


def _plan(config: ProbeConfig) -> Plan:
    """`plan_for`, shared by models whose prompts are the same (they do not depend on the
    model), so a seven-model dry run renders each prompt once."""
    key = (config.experiment, config.backend.kind, *(str(getattr(config, k)) for k in _PROMPT_ARGS))
    if key not in _CACHE:
        _CACHE[key] = plan_for(config)
    return _CACHE[key]


def study_jobs(study: Study, only: list[str] | None = None) -> dict[str, list[Job]]:
    """model name -> its jobs; `only` keeps the named models (a one-line error for unknown ones)."""
    names = [m.name for m in study.models]
    if only:
        unknown = [n for n in only if n not in names]
        if unknown:
            raise UserError(f"--models: unknown {', '.join(unknown)}; the study has {', '.join(names)}")
    return {m.name: model_jobs(study, m) for m in study.models if not only or m.name in only}


@dataclass
class Estimate:
    prompts: int
    prompt_tokens: int
    max_output_tokens: int


def estimate(job: Job) -> Estimate:
    """Prompts of a job and their rough token count (characters / 4), and the output bound."""
    requests = [r for c in job.conditions for r in c.requests]
    chars = sum(len(prompt_text(r)) for r in requests)
    return Estimate(len(requests), chars // CHARS_PER_TOKEN, len(requests) * int(job.config.max_new_tokens))
