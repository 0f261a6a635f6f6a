"""A study -> one `Job` per model, probe method and condition set, each with the `ProbeConfig` its
script would make: study keys are the scripts' settings by name, read with the flags' own defaults
and checks, so a study and a typed command cannot drift apart. Results go under
`<results_root>/<method>/`, so two probe methods never share a file.

    >>> [j.label for j in model_jobs(study, study.models[0], {}, None)]     # doctest: +SKIP
    ['logprob RQ1', 'logprob RQ2 persona/Japan', 'logprob sensitivity number']
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from utils.core.errors import UserError
from utils.core.flag_parser import suggest
from utils.core.results.spec import Shard
from utils.probing.conditions import Condition, steering_methods
from utils.probing.grid import CHARS_PER_TOKEN, Plan, plan_for
from utils.probing.perturb import applicable_specs
from utils.probing.probe_config import SCRIPTS, ProbeConfig, flag_fields
from utils.probing.prompts import prompt_text
from utils.study.study_file import ModelSpec, Study

# set by the study itself ([output], [probe] methods, [[models]] model_name_or_path), never as a key
RESERVED = ("results_root", "method", "dry_run", "run_name", "model_name_or_path", "survey", "shard")


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


def check_keys(keys: dict[str, Any], kind: str, backend: str, where: str) -> None:
    """A key that is no setting of the script, or one the study sets itself, is a UserError."""
    known = [f.name for f in flag_fields(kind, backend) if f.name not in RESERVED]
    for key in keys:
        if key not in known:
            script = f"code/{kind}/{SCRIPTS[backend]}"
            raise UserError(f"{where}: {key!r} is not a flag of {script} that a study may set"
                            f"{suggest(key, known)}; see python {script} --help")


def model_jobs(study: Study, model: ModelSpec, plans: dict[tuple, Plan], shard: Shard | None) -> list[Job]:
    """In the order they run: per method RQ1, RQ2 cells, variants. `plans` shares rendered prompts
    between models (they do not depend on the model), so a seven-model dry run renders each once."""
    ex = study.experiments
    probe = {k: v for k, v in study.probe.items() if k not in model.flags}  # a model's own key wins
    jobs = []
    for method in study.model_methods(model):
        where = f"{study.path}: model {model.name!r}"
        head: dict[str, Any] = {"method": method, "results_root": study.results_root / method}
        if model.model_name_or_path:
            head["model_name_or_path"] = model.model_name_or_path
        if study.survey is not None:
            head["survey"] = study.survey.questions
        if shard is not None:
            head["shard"] = str(shard)
        cells: list[tuple[str, str, dict[str, Any]]] = []
        if ex.rq1:
            cells.append(("RQ1", "RQ1", {"perturb": list(ex.perturb)} if ex.perturb else {}))
        for steering in ex.rq2_methods:
            # a few-shot cell's examples are the steering itself: no `examples` member
            members = list(applicable_specs(ex.rq2_perturb, steering_methods()[steering]["examples"] == "country"))
            for country in ex.rq2_countries:
                cell = {"country": country, "steering_method": steering} | ({"perturb": members} if members else {})
                cells.append(("RQ2", f"RQ2 {steering}/{country}", cell))
                if steering_methods()[steering].get("names"):  # only a method naming the people names a group
                    cells += [("RQ2", f"RQ2 {steering}/{country}/{group}", cell | {"group": [group]})
                              for group in ex.rq2_groups]
        cells += [("RQ1", f"sensitivity {variant}", {"variant": variant}) for variant in ex.variants]
        for kind, label, cell in cells:
            check_keys(probe, kind, model.backend, f"{study.path}: [probe] (model {model.name!r})")
            check_keys(model.flags, kind, model.backend, where)
            try:
                config = ProbeConfig.from_mapping(head | probe | model.flags | cell, kind, model.backend)
            except UserError as exc:
                raise UserError(f"{where}, {label}: {exc}") from None
            key = (kind, config.backend.kind, *(str(getattr(config, k)) for k in _PROMPT_KEYS))
            if key not in plans:
                plans[key] = plan_for(config)
            jobs.append(Job(model, method, kind, f"{method} {label}", config, plans[key]))
    return jobs


# what a plan's prompts depend on (not the model): models that agree on these share one plan
_PROMPT_KEYS = ("method", "country", "steering_method", "variant", "limit", "ids", "questions_dir", "samples",
                "protocol", "release_dir", "group", "human", "perturb", "temperature", "retry_temperature",
                "max_new_tokens", "sample_temperature", "repeats", "survey", "shard")


def study_jobs(study: Study, only: list[str] | None = None, shard: Shard | None = None) -> dict[str, list[Job]]:
    """model name -> its jobs; `only` keeps the named models."""
    names = [m.name for m in study.models]
    if only:
        unknown = [n for n in only if n not in names]
        if unknown:
            raise UserError(f"--models: unknown {', '.join(unknown)}; the study has {', '.join(names)}")
    plans: dict[tuple, Plan] = {}
    return {m.name: model_jobs(study, m, plans, shard) for m in study.models if not only or m.name in only}


class Estimate(NamedTuple):
    prompts: int
    prompt_tokens: int
    max_output_tokens: int


def estimate(job: Job) -> Estimate:
    requests = [r for c in job.conditions for r in c.requests]
    chars = sum(len(prompt_text(r)) for r in requests)
    return Estimate(len(requests), chars // CHARS_PER_TOKEN, len(requests) * int(job.config.max_new_tokens))
