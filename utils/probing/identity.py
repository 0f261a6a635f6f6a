"""What a results row was asked under, and the check that a rerun asks under the same.

A row's identity used to live only in its folder path, so a rerun with another `--method`,
prompt or temperature quietly resumed into the same `results.csv` and mixed two conditions.
Now every row carries its identity in columns (`IDENTITY_COLUMNS`, after the store's own), and
`identity_conflict` compares the rows already in a file with what a run is about to ask, so the
run can stop before a model is loaded or a request sent.

    >>> ident = RunIdentity("RQ1", "org/model", "logprob", language="English")
    >>> rows = {"Q1": {**ident.columns(), "prompt_sha256": "ab"}}
    >>> identity_conflict(rows, RunIdentity("RQ1", "org/model", "verbalized", language="English"), {})
    'method: logprob in the file, verbalized now'

`prompt_sha256` is per item: the SHA-256 of the exact messages sent, as canonical JSON
(`prompt_sha256`), so an edited prompt file, questionnaire wording or option order is caught
item by item. Decoding settings are recorded where they change answers: `temperature` and
`max_new_tokens` for methods that generate text (`verbalized`, `sample`), `samples` for
`sample`; they are empty for `logprob`, which reads one forward pass.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from utils.core.records import Message
from utils.probing.config import LocalBackend, ProbeConfig

# after the store's own columns (which already hold `method`); helper columns come after these
IDENTITY_COLUMNS = ["experiment", "model", "steering_method", "country", "language", "variant",
                    "temperature", "max_new_tokens", "samples", "prompt_sha256"]
# The respondent group an RQ2 condition steers toward (`--group age=18-29`), empty for the whole
# country; last in the file, so files written before them read as whole-country rows.
GROUP_COLUMNS = ["group_var", "group"]
# How the rows were asked: "ours" or "release" (the paper's release's own prompts, decoding and rule,
# `--protocol release`) and that release's commit; after the group columns, so files written before
# them read as ours (`LEGACY_DEFAULTS`).
PROTOCOL_COLUMNS = ["protocol", "release_commit"]
LEGACY_DEFAULTS = {"protocol": "ours"}
# The prompt perturbation a row was asked under (`--perturb`, utils/probing/perturb.py), empty for the
# prompt as it is; last, so files written before them read as unperturbed.
PERTURB_COLUMNS = ["perturb_family", "perturb_index", "perturb_seed", "repeat", "seed"]  # and --repeats
GENERATING_METHODS = ("verbalized", "sample")


def prompt_sha256(messages: tuple[Message, ...] | list[Message]) -> str:
    """SHA-256 of the messages as canonical JSON (sorted keys, no spaces, UTF-8).

    >>> prompt_sha256([Message("user", "Hi")])[:12]
    '557f6d9586f5'
    """
    canon = json.dumps([{"role": m.role, "content": m.content} for m in messages],
                       ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def _number(value) -> str:
    """One spelling per number, so `0`, `0.0` and `0.00` are the same temperature."""
    if value is None or value == "":
        return ""
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


@dataclass(frozen=True)
class RunIdentity:
    """Everything a run's rows share (the per-item `prompt_sha256` aside), as CSV strings."""

    experiment: str
    model: str
    method: str
    steering_method: str = "none"
    country: str = ""
    language: str = ""
    variant: str = "default"
    temperature: str = ""
    max_new_tokens: str = ""
    samples: str = ""
    group_var: str = ""
    group: str = ""
    protocol: str = "ours"
    release_commit: str = ""  # `--protocol release`: the release's git commit, or `sha256:` of its files
    perturb_family: str = ""  # `--perturb`: order, reversed, examples, template or labels; "" the prompt as is
    perturb_index: str = ""
    perturb_seed: str = ""
    repeat: str = ""  # `--repeats`: 2..R for the repeats after the first; "" the run as it is
    seed: str = ""  # the repeat's sampling seed (a local model's; empty for an API server, which is sent none)

    def columns(self) -> dict[str, str]:
        return asdict(self)


def model_identity(model_name: str, gguf_file: str | None = None) -> str:
    """The model as the rows record it: a hub id or API name as given; an existing local folder as
    its absolute path (two folders both called `llama3` are different models), plus the GGUF file.

    >>> model_identity("org/model")
    'org/model'
    """
    name = model_name.strip()
    local = Path(name).expanduser()
    if local.exists():
        name = str(local.resolve())
    return f"{name}/{gguf_file}" if gguf_file else name


def model_id_for(config: ProbeConfig, model_name: str) -> str:
    """`model_identity` of a run's model; the GGUF file counts where a model path was given
    (the bundled model is recorded by its name, wherever it is installed)."""
    local = isinstance(config.backend, LocalBackend) and config.model_name_or_path
    return model_identity(model_name, config.backend.gguf_file if local else None)


def identity_for(config: ProbeConfig, model: str, experiment: str, labels: dict[str, str]) -> RunIdentity:
    """The identity of one condition of a run: `labels` are the condition's (country, language...)."""
    method = config.method
    generates = method in GENERATING_METHODS
    temperature = config.sample_temperature if method == "sample" else config.temperature
    if config.protocol == "release":  # the release's decoding and commit
        from utils.probing.release_protocol import release_protocol_for

        release = release_protocol_for(config)
        decoding = release.decoding(experiment)
        return RunIdentity(
            experiment=experiment, model=model, method=method,
            steering_method=labels.get("steering_method") or "none", country=labels.get("country", ""),
            language=labels.get("language", ""), variant=labels.get("variant") or "default",
            temperature="0" if decoding.greedy else _number(decoding.temperature),
            max_new_tokens=_number(decoding.max_tokens), protocol="release", release_commit=release.commit)
    return RunIdentity(
        experiment=experiment, model=model, method=method,
        steering_method=labels.get("steering_method") or "none", country=labels.get("country", ""),
        language=labels.get("language", ""), variant=labels.get("variant") or "default",
        temperature=_number(temperature) if generates else "",
        max_new_tokens=_number(config.max_new_tokens) if generates else "",
        samples=_number(config.samples) if method == "sample" else "",
        group_var=labels.get("group_var", ""), group=labels.get("group", ""),
        **{c: labels.get(c, "") for c in PERTURB_COLUMNS},
    )


def identity_conflict(rows: dict[str, dict[str, str]], identity: RunIdentity, prompts: dict[str, str]) -> str:
    """The first difference between stored `rows` and this run, as `field: X in the file, Y now`;
    "" when they agree. `prompts` maps item id -> this run's `prompt_sha256`; only items this run
    asks are compared on it."""
    wanted = identity.columns()
    protocol_first = {f: wanted[f] for f in PROTOCOL_COLUMNS} | wanted  # it explains every other difference
    for field, now in protocol_first.items():
        stored = sorted({r.get(field, "") for r in rows.values()})
        other = [v for v in stored if v != now]
        if other:
            return f"{field}: {_show(other[0])} in the file, {_show(now)} now"
    for item_id, sha in prompts.items():
        row = rows.get(item_id)
        if row is not None and row.get("prompt_sha256", "") != sha:
            return (f"prompt_sha256 of {item_id}: {row.get('prompt_sha256', '')[:12] or '(none)'} in the file, "
                    f"{sha[:12]} now (the prompt, questionnaire or option order changed)")
    return ""


def _show(value: str) -> str:
    return value if value != "" else "(empty)"
