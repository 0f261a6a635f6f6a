"""`ProbeConfig`: the probing scripts' flags as one frozen, typed record, which the library takes.

Why: the parser's untyped namespace used to travel from the scripts into `study.py`,
`identity.py`, `meta.py` and the study runner, so every module read flags by name (`getattr(args,
"variant", None)`) and nothing said which flags exist. Now the edge (`utils/probing/cli.py`, and
the study runner through the same parsers) turns the parsed flags into a `ProbeConfig` once, and
below it every field has a type. Defaults stay in one place, the parsers (`cli.api_parser`,
`cli.local_parser`): this module has none, so a config can only come from parsed flags.

    >>> from utils.probing.cli import api_config
    >>> c = api_config(["--model_name_or_path", "gpt-4o", "--limit", "3"], "RQ1")
    >>> c.method, c.limit, c.backend.kind, c.backend.api_key_env
    ('verbalized', 3, 'api', None)

Layout: the flags every script has are fields of `ProbeConfig`; the experiment's own selection
flags (`variant` for RQ1, `country` and `steering_method` for RQ2) are fields that are None where
the script does not have them; the backend's flags are one nested record, `ApiBackend` or
`LocalBackend` (`backend.kind` says which), so a local-only setting cannot be read off an API run.
A new flag (the coming protocol, release folder, group and perturbation flags) is one added field
here, in the record of the scripts that take it, plus its `add_argument` in cli.py; `from_flags`
picks it up, and refuses a parsed flag that has no field.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

EXPERIMENT_FLAGS = {"RQ1": ("variant", "perturb"), "RQ2": ("country", "steering_method", "group", "human", "perturb")}


@dataclass(frozen=True)
class ApiBackend:
    """Flags of `prob_by_api.py` only: where the OpenAI-compatible server is and how to ask it."""

    base_url: str | None
    api_key_env: str | None  # the variable's name; the key itself is read only when the client is made
    max_retries: int
    timeout: float
    kind: Literal["api"] = dataclasses.field(default="api", init=False, repr=False)


@dataclass(frozen=True)
class LocalBackend:
    """Flags of `prob_by_llm.py` only: how to load the Hugging Face model and batch its work."""

    gguf_file: str | None
    device: str
    dtype: str
    no_model_cache: bool
    device_map: str | None
    no_prefix_cache: bool
    batch_size: int
    kind: Literal["local"] = dataclasses.field(default="local", init=False, repr=False)


Backend = ApiBackend | LocalBackend
BACKENDS: dict[str, type[ApiBackend] | type[LocalBackend]] = {"api": ApiBackend, "local": LocalBackend}


@dataclass(frozen=True)
class ProbeConfig:
    """Everything one probing script run was asked to do (see the module docstring)."""

    experiment: str  # the script's experiment, "RQ1" (sensitivity variants too) or "RQ2"
    model_name_or_path: str | None  # None: the bundled model (local scripts only)
    method: str
    samples: int
    sample_temperature: float
    questions_dir: Path | None
    results_root: Path
    run_name: str | None
    limit: int | None
    ids: str | None
    dry_run: Path | None
    max_attempts: int
    concurrency: int
    temperature: float
    retry_temperature: float
    max_new_tokens: int
    quiet: bool
    log_level: str
    backend: Backend
    variant: str | None = None  # RQ1 scripts only
    perturb: tuple[str, ...] | None = None  # `--perturb order:5 ...` (RQ1 and RQ2), each member its own condition
    repeats: int = 1  # `--repeats R`: R independent answers per item (utils/probing/repeats.py)
    country: str | None = None  # RQ2 scripts only
    steering_method: str | None = None  # RQ2 scripts only
    group: tuple[str, ...] | None = None  # RQ2 only: `--group age=18-29`, each its own condition; None: whole country
    human: Path | None = None  # RQ2 only: long table whose group shares feed the few-shot examples of --group
    protocol: str = "ours"  # "release": ask as the paper's release does (utils.probing.release.protocol.py)
    release_dir: Path | None = None  # the release checkout `--protocol release` reads its prompts from

    def __post_init__(self) -> None:
        if self.experiment not in EXPERIMENT_FLAGS:
            raise ValueError(f"experiment must be RQ1 or RQ2, not {self.experiment!r}")
        for name in ("group", "perturb"):  # argparse's append gives a list; the record keeps a tuple
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))

    @classmethod
    def from_flags(cls, flags: Mapping[str, Any], experiment: str, backend: str) -> ProbeConfig:
        """From the parsed flags (`vars()` of what `api_parser` / `local_parser` return).

        Every flag the parser has must land in a field: a flag added to the parser but not here
        is a TypeError at once, not a setting silently dropped."""
        flags = dict(flags)
        backend_cls = BACKENDS[backend]
        inner = {f.name: flags.pop(f.name) for f in fields(backend_cls) if f.init}
        own = {f.name for f in fields(cls)}
        unknown = sorted(set(flags) - own)
        if unknown:
            raise TypeError(f"flag(s) {', '.join(unknown)} have no ProbeConfig field; add them to utils/probing/config.py")
        return cls(experiment=experiment, backend=backend_cls(**inner), **flags)

    def replace_backend(self, **changes: Any) -> ProbeConfig:
        """A copy with backend settings changed, e.g. the device after `resolve_device`."""
        return dataclasses.replace(self, backend=dataclasses.replace(self.backend, **changes))

    def arguments(self) -> dict[str, Any]:
        """The flags as `run_meta.json` records them: one flat dict with the script's own flag
        names (the experiment's selection flags only where the script has them), paths as text."""
        other = {k for e, names in EXPERIMENT_FLAGS.items() if e != self.experiment for k in names} \
            - set(EXPERIMENT_FLAGS[self.experiment])  # a flag both scripts have (`perturb`) is this one's too
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if f.name not in ("experiment", "backend") and f.name not in other}
        out |= {f.name: getattr(self.backend, f.name) for f in fields(self.backend) if f.init}
        return {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}
