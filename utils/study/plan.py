"""From a study to the probing scripts' own arguments: one `Job` per model, probe method and
experiment condition set, each an `argparse.Namespace` made by the scripts' parser.

Why through the parser: `parse_args(["--method", "logprob", "--limit", "12", ...])` gives exactly
the defaults and checks `prob_by_llm.py` / `prob_by_api.py` apply, so a study and a hand-typed
command cannot drift apart. A model's results go under `<results_root>/<method>/` in the paper's
layout, so two probe methods never share a results file.

    >>> [j.label for j in model_jobs(study, study.models[0])]     # doctest: +SKIP
    ['logprob RQ1', 'logprob RQ2 persona/Japan', 'logprob sensitivity number']
"""
from __future__ import annotations

import argparse
import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utils.core.errors import UserError
from utils.probing.conditions import Condition
from utils.probing.prompts import prompt_text
from utils.probing.study import build_conditions
from utils.study.config import ModelSpec, Study

CHARS_PER_TOKEN = 4  # the rough rule the scripts' --dry-run uses too
# set by the study itself ([output], [probe] methods, [[models]] model_name_or_path), never as a flag
RESERVED = ("results_root", "method", "dry_run", "help", "run_name", "model_name_or_path")


@dataclass
class Job:
    model: ModelSpec
    method: str
    kind: str  # the script's experiment: "RQ1" (also sensitivity variants) or "RQ2"
    label: str  # e.g. "logprob RQ2 persona/Japan"
    args: argparse.Namespace
    conditions: list[Condition]

    @property
    def experiment(self) -> str:
        return self.conditions[0].experiment if self.conditions else self.kind


def method_root(study: Study, method: str) -> Path:
    return study.results_root / method


def parser_for(model: ModelSpec, kind: str) -> argparse.ArgumentParser:
    from utils.probing.cli import api_parser, local_parser

    return (api_parser if model.backend == "api" else local_parser)(kind)


def flag_argv(parser: argparse.ArgumentParser, flags: dict[str, Any], where: str, script: str = "") -> list[str]:
    """`{"max_new_tokens": 64, "quiet": True, "ids": ["Q1", "Q2"]}` -> the parser's own spelling:
    `["--max-new-tokens", "64", "--quiet", "--ids", "Q1,Q2"]`. False leaves a switch off."""
    known = parser._option_string_actions  # noqa: SLF001 - the parser's own table of flag spellings
    argv: list[str] = []
    for key, value in flags.items():
        opt = next((o for o in (f"--{key.replace('_', '-')}", f"--{key}", f"--{key.replace('-', '_')}") if o in known),
                   None)
        if opt is None or known[opt].dest in RESERVED:
            script = script or "code/RQ1/prob_by_api.py"
            raise UserError(f"{where}: {key!r} is not a flag of {script} that a study may set (see python {script} --help)")
        if isinstance(value, bool):
            argv += [opt] if value else []
        elif isinstance(value, list):
            argv += [opt, ",".join(map(str, value))]
        else:
            argv += [opt, str(value)]
    return argv


def parse(parser: argparse.ArgumentParser, argv: list[str], where: str) -> argparse.Namespace:
    """`parser.parse_args(argv)`, its one-line complaint turned into a `UserError` naming `where`."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return parser.parse_args(argv)
    except SystemExit:
        msg = err.getvalue().strip().splitlines()
        raise UserError(f"{where}: {msg[-1] if msg else 'bad flags'}") from None


def model_jobs(study: Study, model: ModelSpec) -> list[Job]:
    """Every job of one model, in the order they run: per method RQ1, RQ2 cells, variants."""
    ex = study.experiments
    jobs = []
    for method in study.model_methods(model):
        where = f"model {model.name!r}"
        base = {**study.probe, **model.flags}
        head = ["--method", method, "--results-root", str(method_root(study, method))]
        if model.model_name_or_path:
            head += ["--model_name_or_path", model.model_name_or_path]
        specs: list[tuple[str, str, list[str]]] = []
        if ex.rq1:
            specs.append(("RQ1", "RQ1", []))
        for steering in ex.rq2_methods:
            for country in ex.rq2_countries:
                specs.append(("RQ2", f"RQ2 {steering}/{country}", ["--country", country, "--steering_method", steering]))
        for variant in ex.variants:
            specs.append(("RQ1", f"sensitivity {variant}", ["--variant", variant]))
        for kind, label, extra in specs:
            parser = parser_for(model, kind)
            script = f"code/{kind}/prob_by_{'api' if model.backend == 'api' else 'llm'}.py"
            args = parse(parser, head + extra + flag_argv(parser, base, where, script), f"{where}, {label}")
            jobs.append(Job(model, method, kind, f"{method} {label}", args, _conditions(args, kind)))
    return jobs


_CACHE: dict[tuple, list[Condition]] = {}
_PROMPT_ARGS = ("method", "country", "steering_method", "variant", "limit", "ids", "questions_dir", "samples")


def _conditions(args: argparse.Namespace, kind: str) -> list[Condition]:
    """`build_conditions`, shared by models whose prompts are the same (they do not depend on the
    model), so a seven-model dry run renders each prompt once."""
    key = (kind, *(str(getattr(args, k, None)) for k in _PROMPT_ARGS))
    if key not in _CACHE:
        _CACHE[key] = build_conditions(args, kind)
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
    return Estimate(len(requests), chars // CHARS_PER_TOKEN, len(requests) * int(job.args.max_new_tokens))
