"""`ProbeConfig`: what one probing run is asked to do, as one frozen, typed record the library takes.

Each flag is a field that says everything about it once (default, help, parsing, which scripts have
it); the scripts' parsers and a study file's keys are both read through the fields, so a study and a
hand-typed command cannot drift apart:

    >>> c = ProbeConfig.from_mapping({"model_name_or_path": "gpt-4o", "limit": 3}, "RQ1", "api")
    >>> c.method, c.limit, c.samples, c.backend.kind, c.backend.max_retries
    ('verbalized', 3, 40, 'api', 6)
    >>> ProbeConfig.from_mapping({"limt": 3}, "RQ1", "local")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    utils.core.errors.UserError: unknown setting 'limt' (did you mean limit?) for code/RQ1/prob_by_llm.py; ...

The experiment's selection flags are None where the script lacks them; backend flags are a nested
`ApiOptions` or `LocalOptions`, so a local-only setting cannot be read off an API run.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from utils.core.errors import UserError
from utils.core.flag_parser import choice_of, suggest
from utils.core.paths import RESULTS_DIR
from utils.core.results.spec import Shard
from utils.probing.base_url import check_base_url
from utils.probing.conditions import sensitivity_variants, steering_countries, steering_methods
from utils.probing.methods.sample import DEFAULT_SAMPLES, DEFAULT_TEMPERATURE
from utils.probing.prompts import METHODS

PROTOCOLS = ("ours", "release")
DTYPES = ("auto", "float32", "bfloat16", "float16")
# what `--protocol release` takes from the release instead: how to ask (verbalized) and decode
RELEASE_FIXED = ("method", "temperature", "retry_temperature", "max_new_tokens", "samples", "sample_temperature")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise ValueError(f"must be at least 1, not {value}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not value >= 0:  # also refuses nan
        raise ValueError(f"must be 0 or more, not {text}")
    return value


def flag(help: str, default: Any = None, *, spelling: str | None = None, only: str | None = None,
         names: Callable[[], Any] | None = None, pick: str = "", **parse: Any) -> Any:
    """`default` may differ by backend (`{"api": ..., "local": ...}`); `spelling`: the flag as declared
    (default: the name with hyphens); `only`: the one script (RQ1/RQ2) that has it; `names`: what
    `{names}` in the help lists, with `pick` the values it takes; `parse`: `type`, `action`, `metavar`..."""
    return dataclasses.field(metadata={"help": help, "default": default, "spelling": spelling, "only": only,
                                       "names": names, "pick": pick, "parse": parse})


@dataclass(frozen=True)
class ApiOptions:
    """Flags of `prob_by_api.py` only: where the OpenAI-compatible server is and how to ask it."""

    base_url: tuple[str, ...] | None = flag(
        "OpenAI-compatible endpoint with http:// or https://, e.g. http://127.0.0.1:8000/v1 for vLLM or llama.cpp "
        "(default: OpenAI; DeepSeek for deepseek-*); repeat it for several servers of one model (replicas): requests "
        "are spread over those that answer", spelling="--base_url", type=check_base_url, action="append",
        metavar="URL")
    api_key_env: str | None = flag("environment variable holding the key (default OPENAI_API_KEY, DEEPSEEK_API_KEY "
                                   "for deepseek-*)")  # the variable's name; the key is read when the client is made
    max_retries: int = flag("retries of 429/5xx/timeouts per request (default {default})", 6, type=int)
    timeout: float = flag("seconds per request (default {default:g})", 120.0, type=float)
    batch: bool = flag("send the requests as provider batch jobs (files and batches endpoints, half the price, done "
                       "within 24 h) instead of one by one; the job is recorded under <results-root>/batches/, so a "
                       "rerun polls the same job (docs/probing.md)", False, action="store_true")
    batch_poll: float = flag("--batch: seconds before the first status check, doubling up to 30 times that "
                             "(default {default:g})", 10.0, type=non_negative_float)
    kind: Literal["api"] = dataclasses.field(default="api", init=False, repr=False)


@dataclass(frozen=True)
class LocalOptions:
    """Flags of `prob_by_llm.py` only: how to load the Hugging Face model and batch its work."""

    gguf_file: str | None = flag("GGUF file name inside --model_name_or_path, if the model is a GGUF")
    device: str = flag("torch device: cpu, cuda (or gpu), cuda:1, mps (default {default})", "cpu")
    dtype: str = flag("weights dtype (default {default})", "auto", names=lambda: DTYPES, pick="dtype")
    no_model_cache: bool = flag("convert the bundled GGUF at every start instead of keeping the converted weights in "
                                "~/.cache/llm-global-opinion (also: LLM_GLOBAL_OPINION_NO_CACHE=1)", False,
                                action="store_true")
    device_map: str | None = flag("'auto' spreads a model too large for one GPU over all GPUs (accelerate); "
                                  "overrides --device")
    no_prefix_cache: bool = flag("recompute the shared prompt prefix for every item", False, action="store_true")
    batch_size: int = flag("items per forward pass (logprob) or per generate call (verbalized; batched off the CPU) "
                           "(default {default}; raise it on a large GPU)", 8, type=positive_int)
    kind: Literal["local"] = dataclasses.field(default="local", init=False, repr=False)


Options = ApiOptions | LocalOptions
OPTIONS: dict[str, type[ApiOptions] | type[LocalOptions]] = {"api": ApiOptions, "local": LocalOptions}
SCRIPTS = {"api": "prob_by_api.py", "local": "prob_by_llm.py"}


@dataclass(frozen=True)
class ProbeConfig:
    script: str  # which probing script's flags: "RQ1" (code/RQ1: RQ1 and the sensitivity variants) or "RQ2"
    backend: Options
    country: str | None = flag("steering target(s), comma-separated, in any case: {names}; or all (default all)",
                               "all", only="RQ2",
                               names=steering_countries)
    steering_method: str | None = flag("comma-separated, in any case: {names}; or all: the paper's five (default all)",
                                       "all", only="RQ2",
                                       spelling="--steering_method", names=steering_methods)
    group: tuple[str, ...] | None = flag(
        "steer toward a respondent group inside the country, e.g. age=18-29 (groups in inputs/groups/groups.json); "
        "repeat for several, each its own condition and folder; persona and few-shot methods and their language "
        "forms only", only="RQ2", action="append", metavar="VAR=LABEL")
    human: Path | None = flag("with --group: long table from dataset/prepare_wvs.py --groups whose group shares "
                              "replace the country's in the few-shot examples (default: the country's own shares)",
                              only="RQ2", type=Path)
    variant: str | None = flag("sensitivity run instead of RQ1: number (3 format examples), prob (other made-up "
                               "numbers), order (shuffled options); results under Discussion/sensitivity/<variant>",
                               only="RQ1", names=sensitivity_variants, pick="variant")
    perturb: tuple[str, ...] | None = flag(
        "also ask under prompt perturbations, each member its own condition and folder ({where}): order:K (K random "
        "option orders), order:reversed, examples:K (other made-up examples), template:K (other instruction wordings), "
        "labels (lettered options); @SEED picks another seed (order:5@1); repeat the flag for several "
        "(docs/robustness.md)", action="append", metavar="SPEC")
    method: str = flag("verbalized: the model writes the distribution (the paper's method); logprob: option "
                       "probabilities from the model's next-token log-probs; sample: the shares of --samples answers, "
                       "each one respondent's pick (default: {default})", {"api": "verbalized", "local": "logprob"},
                       names=lambda: METHODS, pick="method")
    samples: int = flag("--method sample: answers per item (default {default})", DEFAULT_SAMPLES, type=positive_int)
    sample_temperature: float = flag("--method sample: sampling temperature (default {default:g}: the model's own "
                                     "distribution; 0 gives N copies of the greedy answer)", DEFAULT_TEMPERATURE,
                                     type=non_negative_float)
    questions_dir: Path | None = flag("folder holding WV7_<Language>.jsonl (default: dataset/questions)", type=Path)
    survey: Path | None = flag("ask an imported survey instead of the WVS: its <name>.questions.jsonl from "
                               "dataset/import_survey.py; results under Surveys/<name>/ (docs/surveys.md)",
                               type=Path, metavar="FILE")
    results_root: Path = flag("where results go (default: results/)", RESULTS_DIR, type=Path)
    run_name: str | None = flag("give this run its own folder, <results-root>/runs/NAME (in the paper's layout "
                                "inside), e.g. to keep a run with other settings apart from the default one",
                                metavar="NAME")
    limit: int | None = flag("ask only the first N items (a quick look)", type=int)
    ids: str | None = flag("comma-separated item ids to ask, in any case, e.g. Q1,Q2")
    dry_run: Path | None = flag("write the rendered prompts to FILE as JSONL and exit; loads and calls no model",
                                type=Path, metavar="FILE")
    max_attempts: int = flag("asks per item when the answer cannot be parsed (re-asks sample; default {default})", 3,
                             type=positive_int)
    concurrency: int = flag("items in flight at once (default {default})", 1, type=positive_int)
    temperature: float = flag("sampling temperature of the first ask (default {default:g})", 0.0, type=float)
    retry_temperature: float = flag("temperature of re-asks after an unparseable answer (default {default:g})", 0.7,
                                    type=float)
    max_new_tokens: int = flag("bound on generated tokens per answer (default {default}; reasoning models need more)",
                               {"api": 512, "local": 256}, type=int)
    protocol: str = flag("ours: this project's prompts and reading (default); release: the paper's release's own "
                         "prompts, questionnaire files, system message, decoding, re-asking and acceptance rule, read "
                         "from --release-dir, so results can be put next to the paper's tables", "ours",
                         names=lambda: PROTOCOLS, pick="protocol")
    release_dir: Path | None = flag("--protocol release: a checkout of the paper's release "
                                    "(https://github.com/nlply/global-opinion-alignment)", type=Path, metavar="PATH")
    shard: Shard | None = flag("ask only shard I of N: a fixed contiguous slice of every condition's items, written "
                               "to its own file (<condition>/shard-I-of-N/results.csv); run all N (on other "
                               "machines, at the same time) and the analyses read them as one", type=Shard.parse,
                               metavar="I/N")
    repeats: int = flag("ask every item R times for independent answers, each repeat its own condition with its seed "
                        "(Repeats/<condition>/repeat-<r>); verbalized at --temperature above 0, or sample (default "
                        "{default}; docs/robustness.md)", 1, type=positive_int)
    quiet: bool = flag("no progress bar", False, action="store_true")
    log_level: str = flag("logging level (default {default})", "WARNING")
    model_name_or_path: str | None = flag(
        "local model folder or hub id (cached; set HF_HUB_OFFLINE=1 offline); default: the bundled "
        "SmolLM2-135M-Instruct", spelling="--model_name_or_path")  # None: the bundled model (local scripts only)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], script: str, backend: str) -> ProbeConfig:
        """From a script's given flags or a study file's keys, each read as its flag's text would be
        (`"LogProb"` -> "logprob", `"12"` -> 12); an unknown key, a bad value and a flag `--protocol
        release` fixes are one-line UserErrors."""
        if script not in ("RQ1", "RQ2"):
            raise ValueError(f"script must be RQ1 or RQ2, not {script!r}")
        known = {f.name: f for f in flag_fields(script, backend)}
        unknown = [k for k in values if k not in known]
        if unknown:
            raise UserError(f"unknown setting {unknown[0]!r}{suggest(unknown[0], known)} for "
                            f"code/{script}/{SCRIPTS[backend]}; see its --help")
        settings = {name: _read(f, values[name]) if name in values else default_of(f, backend)
                    for name, f in known.items()}
        if backend == "api" and settings["model_name_or_path"] is None:
            raise UserError(f"code/{script}/{SCRIPTS[backend]} needs --model_name_or_path, the model's name "
                            "as the server knows it (e.g. gpt-4o)")
        settings = _with_protocol(settings, set(values))
        inner = {f.name: settings.pop(f.name) for f in fields(OPTIONS[backend]) if f.init}
        other = {f.name: None for f in fields(cls) if f.metadata and f.name not in settings}  # the other script's
        return cls(script=script, backend=OPTIONS[backend](**inner), **settings, **other)

    def replace_backend(self, **changes: Any) -> ProbeConfig:
        return dataclasses.replace(self, backend=dataclasses.replace(self.backend, **changes))

    def arguments(self) -> dict[str, Any]:
        """The flags as `run_meta.json` records them: one flat dict of the script's own flags, paths as text."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.metadata and f.metadata["only"] in
               (None, self.script)}
        out |= {f.name: getattr(self.backend, f.name) for f in fields(self.backend) if f.init}
        return {k: str(v) if isinstance(v, (Path, Shard)) else v for k, v in out.items()}


def flag_fields(script: str, backend: str) -> list[dataclasses.Field]:
    """The fields a script (`RQ1` or `RQ2`, API or local) has as flags, in --help order."""
    own = [f for f in fields(ProbeConfig) if f.metadata and f.metadata["only"] in (None, script)]
    return own + [f for f in fields(OPTIONS[backend]) if f.init]


def default_of(f: dataclasses.Field, backend: str) -> Any:
    default = f.metadata["default"]
    return default[backend] if isinstance(default, dict) else default


def _read(f: dataclasses.Field, value: Any) -> Any:
    """A setting as its flag's parser reads it; a tuple for a flag given several times."""
    action = f.metadata["parse"].get("action")
    if value is None or action == "store_true":
        return None if value is None else bool(value)
    if action == "append":
        return tuple(_value(f, v) for v in (value if isinstance(value, (list, tuple)) else [value]))
    if isinstance(value, (list, tuple)):  # a study file's list, as the flag takes it: ids = ["Q1", "Q2"] -> "Q1,Q2"
        value = ",".join(map(str, value))
    return _value(f, value)


def _value(f: dataclasses.Field, value: Any) -> Any:
    meta = f.metadata
    parse = choice_of(meta["names"](), meta["pick"]) if meta["pick"] else meta["parse"].get("type", str)
    try:
        return parse(value if isinstance(value, Path) else str(value))
    except ValueError as exc:
        raise UserError(f"{flag_name(f)} {value!r}: {exc}") from None


def flag_name(f: dataclasses.Field) -> str:
    return f.metadata["spelling"] or "--" + f.name.replace("_", "-")


def _with_protocol(settings: dict[str, Any], given: set[str]) -> dict[str, Any]:
    """`--release-dir` goes with `--protocol release` (and back); a flag the release fixes, given by
    hand, is a one-line error rather than a setting silently ignored."""
    if settings["protocol"] != "release":
        if settings["release_dir"] is not None:
            raise UserError("--release-dir is read only with --protocol release; add --protocol release, "
                            "or leave --release-dir out")
        return settings
    if settings.get("survey") is not None:
        raise UserError("--protocol release asks the paper's own WVS questionnaire; leave out --survey, or "
                        "ask the survey with --protocol ours")
    if settings["release_dir"] is None:
        raise UserError("--protocol release needs --release-dir PATH, a checkout of the paper's release "
                        "(https://github.com/nlply/global-opinion-alignment)")
    fixed = [f"--{k.replace('_', '-')}" for k in RELEASE_FIXED
             if k in given and not (k == "method" and settings["method"] == "verbalized")]
    if fixed:
        raise UserError(f"--protocol release asks and decodes as the release does; leave out {', '.join(fixed)}")
    return {**settings, "method": "verbalized"}
