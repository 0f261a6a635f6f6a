"""What a run's rows are asked under (its `RunSpec`), and the check that a rerun asks under the same.

Resuming into a file asked under another `--method`, prompt or temperature would mix two conditions
in one `results.csv`, so every row carries its spec's columns and `identity_conflict` stops a run
before a model is loaded or a request is sent:

    >>> from utils.core.results.spec import Experiment
    >>> spec = RunSpec(Experiment.RQ1, model="org/model", method="logprob", language="English")
    >>> rows = {"Q1": {**spec.columns(), "prompt_sha256": "ab"}}
    >>> identity_conflict(rows, spec.replace(method="verbalized"), {})
    'method: logprob in the file, verbalized now'

`prompt_sha256` is per item, so an edited prompt file, wording or option order is caught item by item.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from utils.core.records import Message
from utils.core.results.spec import RunSpec


def prompt_sha256(messages: tuple[Message, ...] | list[Message]) -> str:
    """SHA-256 of the messages as canonical JSON (sorted keys, no spaces, UTF-8).

    >>> prompt_sha256([Message("user", "Hi")])[:12]
    '557f6d9586f5'
    """
    canon = json.dumps([{"role": m.role, "content": m.content} for m in messages],
                       ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def number_text(value) -> str:
    """One spelling per number, so `0`, `0.0` and `0.00` are the same temperature.

    >>> number_text(0.0), number_text(0.70), number_text(None)
    ('0', '0.7', '')
    """
    if value is None or value == "":
        return ""
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


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


def identity_conflict(rows: dict[str, dict[str, str]], spec: RunSpec, prompts: dict[str, str]) -> str:
    """The first difference between stored `rows` and this run, as `field: X in the file, Y now`, or "";
    `prompts` (item id -> `prompt_sha256`) compares only the items this run asks."""
    wanted = spec.columns()
    protocol_first = {f: wanted[f] for f in ("protocol", "release_commit")} | wanted  # it explains the rest
    for field, now in protocol_first.items():
        stored = sorted({r.get(field, "") for r in rows.values()})
        other = [v for v in stored if v != now]
        if other:
            return f"{field}: {other[0] or '(empty)'} in the file, {now or '(empty)'} now"
    for item_id, sha in prompts.items():
        row = rows.get(item_id)
        if row is not None and row.get("prompt_sha256", "") != sha:
            return (f"prompt_sha256 of {item_id}: {row.get('prompt_sha256', '')[:12] or '(none)'} in the file, "
                    f"{sha[:12]} now (the prompt, questionnaire or option order changed)")
    return ""
