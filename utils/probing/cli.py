"""Argument parsing and the one entry point behind each `code/RQ*/prob_by_*.py` script.

The scripts stay thin: they call `api_main()` or `local_main()` with their experiment (RQ1 or
RQ2). Each turns its parsed flags into one frozen `ProbeConfig` here, at the edge (`api_config`,
`local_config`; utils/probing/config.py), and the library below takes only that. Both then use
utils/probing/study.py: build the selected conditions (every flag checked first), and either
write a dry run or, after the key or model checks, run every condition with one prober, loading
the model once.
"""
from __future__ import annotations

import argparse
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from utils.core.errors import UserError
from utils.core.flag_parser import FlagParser, choice_of
from utils.core.logs import log_to_stderr
from utils.core.paths import RESULTS_DIR
from utils.core.records import Prober
from utils.core.secrets import redact
from utils.probing.conditions import sensitivity_variants, steering_countries, steering_methods
from utils.probing.prompts import METHODS
from utils.probing.methods.sample import DEFAULT_SAMPLES, DEFAULT_TEMPERATURE
from utils.probing.config import ApiBackend, LocalBackend, ProbeConfig
from utils.probing.release.protocol import release_protocol_for
from utils.probing.study import build_conditions, check_destination, dry_run, run_conditions

OneLineParser = FlagParser  # both spellings of every flag, one-line errors (utils/core/flag_parser.py)


def positive_int(text: str) -> int:
    """argparse type for counts (`--concurrency`, `--batch-size`, `--max-attempts`): 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type for `--sample-temperature`: 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def common_parser(description: str, default_method: str, experiment: str = "RQ1") -> argparse.ArgumentParser:
    p = OneLineParser(description=description)
    if experiment == "RQ2":
        p.add_argument("--country", default="all",
                       help=f"steering target: {', '.join(steering_countries())} or all (default all)")
        p.add_argument("--steering_method", default="all",
                       help=f"{', '.join(steering_methods())}, or all: the paper's five (default all)")
        p.add_argument("--group", action="append", default=None, metavar="VAR=LABEL",
                       help="steer toward a respondent group inside the country, e.g. age=18-29 (groups in "
                            "inputs/groups/groups.json); repeat for several, each its own condition and folder; "
                            "persona and few-shot methods and their language forms only")
        p.add_argument("--human", type=Path, default=None,
                       help="with --group: long table from dataset/prepare_wvs.py --groups whose group shares "
                            "replace the country's in the few-shot examples (default: the country's own shares)")
    else:
        p.add_argument("--variant", default=None, choices=list(sensitivity_variants()),
                       type=choice_of(sensitivity_variants(), "variant"),
                       help="sensitivity run instead of RQ1: number (3 format examples), prob (other made-up "
                            "numbers), order (shuffled options); results under Discussion/sensitivity/<variant>")
    where = "Robustness/RQ1/<member>" if experiment == "RQ1" else \
        "Robustness/RQ2/<method>/<country>/<member>, for every cell selected; few-shot cells get no examples member"
    p.add_argument("--perturb", action="append", default=None, metavar="SPEC",
                   help=f"also ask under prompt perturbations, each member its own condition and folder ({where}): "
                        "order:K (K random option orders), order:reversed, examples:K (other made-up examples), "
                        "template:K (other instruction wordings), labels (lettered options); @SEED picks another "
                        "seed (order:5@1); repeat the flag for several (docs/robustness.md)")
    p.add_argument("--method", choices=METHODS, type=choice_of(METHODS, "method"), default=default_method,
                   help="verbalized: the model writes the distribution (the paper's method); "
                        "logprob: option probabilities from the model's next-token log-probs; "
                        "sample: the shares of --samples answers, each one respondent's pick "
                        f"(default: {default_method})")
    p.add_argument("--samples", type=positive_int, default=DEFAULT_SAMPLES,
                   help=f"--method sample: answers per item (default {DEFAULT_SAMPLES})")
    p.add_argument("--sample-temperature", type=non_negative_float, default=DEFAULT_TEMPERATURE,
                   help=f"--method sample: sampling temperature (default {DEFAULT_TEMPERATURE:g}: the model's own "
                        "distribution; 0 gives N copies of the greedy answer)")
    p.add_argument("--questions-dir", type=Path, default=None,
                   help="folder holding WV7_<Language>.jsonl (default: dataset/questions)")
    p.add_argument("--results-root", type=Path, default=RESULTS_DIR, help="where results go (default: results/)")
    p.add_argument("--run-name", default=None, metavar="NAME",
                   help="give this run its own folder, <results-root>/runs/NAME (in the paper's layout inside), "
                        "e.g. to keep a run with other settings apart from the default one")
    p.add_argument("--limit", type=int, default=None, help="ask only the first N items (a quick look)")
    p.add_argument("--ids", default=None, help="comma-separated item ids to ask, e.g. Q1,Q2")
    p.add_argument("--dry-run", type=Path, default=None, metavar="FILE",
                   help="write the rendered prompts to FILE as JSONL and exit; loads and calls no model")
    p.add_argument("--max-attempts", type=positive_int, default=3,
                   help="asks per item when the answer cannot be parsed (re-asks sample; default 3)")
    p.add_argument("--concurrency", type=positive_int, default=1, help="items in flight at once (default 1)")
    p.add_argument("--temperature", type=float, default=0.0, help="sampling temperature of the first ask (default 0)")
    p.add_argument("--retry-temperature", type=float, default=0.7,
                   help="temperature of re-asks after an unparseable answer (default 0.7)")
    p.add_argument("--max-new-tokens", type=int, default=512,
                   help="bound on generated tokens per answer (default 512; reasoning models need more)")
    p.add_argument("--protocol", default="ours", choices=PROTOCOLS, type=choice_of(PROTOCOLS, "protocol"),
                   help="ours: this project's prompts and reading (default); release: the paper's release's own "
                        "prompts, questionnaire files, system message, decoding, re-asking and acceptance rule, "
                        "read from --release-dir, so results can be put next to the paper's tables")
    p.add_argument("--release-dir", type=Path, default=None, metavar="PATH",
                   help="--protocol release: a checkout of the paper's release "
                        "(https://github.com/nlply/global-opinion-alignment)")
    p.add_argument("--repeats", type=positive_int, default=1,
                   help="ask every item R times for independent answers, each repeat its own condition with its "
                        "seed (Repeats/<condition>/repeat-<r>); verbalized at --temperature above 0, or sample "
                        "(default 1; docs/robustness.md)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    return p


PROTOCOLS = ("ours", "release")
# what `--protocol release` takes from the release instead: how to ask (verbalized) and decode
RELEASE_FIXED = ("--method", "--temperature", "--retry-temperature", "--max-new-tokens", "--samples",
                 "--sample-temperature")


def with_protocol(flags: dict, argv: list[str] | None) -> dict:
    """The parsed flags, checked for `--protocol`: `--release-dir` goes with `--protocol release`
    (and back), which asks for written distributions as the release does, so a flag it fixes
    (RELEASE_FIXED), given by hand, is a one-line error rather than a setting silently ignored."""
    if flags["protocol"] != "release":
        if flags["release_dir"] is not None:
            raise UserError("--release-dir is read only with --protocol release; add --protocol release, "
                            "or leave --release-dir out")
        return flags
    if flags["release_dir"] is None:
        raise UserError("--protocol release needs --release-dir PATH, a checkout of the paper's release "
                        "(https://github.com/nlply/global-opinion-alignment)")
    given = {a.split("=", 1)[0].replace("_", "-") for a in (sys.argv[1:] if argv is None else argv)
             if a.startswith("--")}
    fixed = [f for f in RELEASE_FIXED if f in given and not (f == "--method" and flags["method"] == "verbalized")]
    if fixed:
        raise UserError(f"--protocol release asks and decodes as the release does; leave out {', '.join(fixed)}")
    return {**flags, "method": "verbalized"}


def main_guard(fn: Callable[..., int]) -> Callable[..., int]:
    """Print a UserError as one line (exit 2) instead of a traceback; any other exception as
    its traceback with secrets redacted (exit 1)."""
    def wrapped(argv: list[str] | None = None, **kwargs) -> int:
        previous = _stop_on_sigterm()
        try:
            return fn(argv, **kwargs)
        except UserError as exc:
            print(redact(f"error: {exc}"), file=sys.stderr)
            return 2
        except KeyboardInterrupt as exc:
            by = exc.args[0] if exc.args and isinstance(exc.args[0], Terminated) else None
            print(f"{'stopped by SIGTERM' if by else 'interrupted'}: finished rows are saved; "
                  "rerun the same command to resume", file=sys.stderr)
            return 128 + signal.SIGTERM if by else 130
        except Exception:  # noqa: BLE001 - shown in full, only with the key taken out
            print(redact(traceback.format_exc()), end="", file=sys.stderr)
            print("finished rows are saved; rerun the same command to resume", file=sys.stderr)
            return 1
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    return wrapped


class Terminated:
    """Marks a KeyboardInterrupt raised for SIGTERM (a scheduler's stop, `kill`, `timeout`)."""


def _stop_on_sigterm():
    """Make SIGTERM stop a run the way Ctrl-C does (finished rows kept, one line on resuming);
    returns the previous handler, or None where signals cannot be set (not the main thread)."""
    def handler(signum, frame):
        raise KeyboardInterrupt(Terminated())
    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:
        return None


def _setup_logging(level: str) -> None:
    log_to_stderr(level, "%(levelname)s %(name)s: %(message)s")


def api_parser(experiment: str = "RQ1") -> argparse.ArgumentParser:
    """The flags of `code/RQ*/prob_by_api.py` (also what the study runner parses a model into)."""
    p = common_parser("Ask a model behind an OpenAI-compatible API for WVS answer distributions.", "verbalized",
                      experiment)
    p.add_argument("--model_name_or_path", required=True, help="model name as the server knows it, e.g. gpt-4o, deepseek-chat")
    p.add_argument("--base_url", default=None,
                   help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 for vLLM or llama.cpp (default: OpenAI; DeepSeek for deepseek-*)")
    p.add_argument("--api-key-env", default=None,
                   help="environment variable holding the key (default OPENAI_API_KEY, DEEPSEEK_API_KEY for deepseek-*)")
    p.add_argument("--max-retries", type=int, default=6, help="retries of 429/5xx/timeouts per request (default 6)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default 120)")
    return p


def api_config(argv: list[str] | None, experiment: str = "RQ1") -> ProbeConfig:
    """`prob_by_api.py`'s flags as a `ProbeConfig`: the one place its parsed flags are read."""
    return ProbeConfig.from_flags(with_protocol(vars(api_parser(experiment).parse_args(argv)), argv), experiment, "api")


def api_prober_factory(config: ProbeConfig) -> tuple[str, Callable[[], Prober]]:
    """(model name for the results folder, a function that makes the prober); nothing is sent."""
    from utils.probing.backends.api.prober import APIProber, make_client, resolve_endpoint

    api = config.backend
    if not isinstance(api, ApiBackend):
        raise TypeError("api_prober_factory needs a config made by api_config")
    model = config.model_name_or_path

    def make() -> Prober:
        client = make_client(resolve_endpoint(model, api.base_url, api.api_key_env), api.timeout)
        if config.protocol == "release":  # its messages as they are, its decoding, its re-asking and rule
            protocol = release_protocol_for(config)
            decoding = protocol.decoding(config.experiment)
            temperature = decoding.temperature or 0.0
            return APIProber(client, model, "verbalized", temperature=temperature, retry_temperature=temperature,
                             max_tokens=decoding.max_tokens, max_retries=api.max_retries,
                             concurrency=config.concurrency, reader=protocol.result)
        return APIProber(client, model, config.method, temperature=config.temperature,
                         retry_temperature=config.retry_temperature, max_tokens=config.max_new_tokens,
                         max_retries=api.max_retries, samples=config.samples,
                         sample_temperature=config.sample_temperature, concurrency=config.concurrency)

    return model, make


@main_guard
def api_main(argv: list[str] | None = None, experiment: str = "RQ1") -> int:
    from utils.probing.backends.api.prober import make_client, resolve_endpoint

    config = api_config(argv, experiment)
    _setup_logging(config.log_level)
    name, make = api_prober_factory(config)
    conditions = build_conditions(config)  # the flags first: an unknown --country is named before a missing key
    if config.dry_run:
        return dry_run(conditions, config.dry_run)
    check_destination(config, name)  # a model name that cannot be a results folder, a bad --run-name
    make_client(resolve_endpoint(name, config.backend.base_url, config.backend.api_key_env))  # then the key
    return run_conditions(config, name, make, conditions)


def local_parser(experiment: str = "RQ1") -> argparse.ArgumentParser:
    """The flags of `code/RQ*/prob_by_llm.py` (also what the study runner parses a model into)."""
    p = common_parser("Ask a local Hugging Face model for WVS answer distributions.", "logprob", experiment)
    p.add_argument("--model_name_or_path", default=None,
                   help="local model folder or hub id (cached; set HF_HUB_OFFLINE=1 offline); default: the bundled SmolLM2-135M-Instruct")
    p.add_argument("--gguf-file", default=None, help="GGUF file name inside --model_name_or_path, if the model is a GGUF")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda (or gpu), cuda:1, mps (default cpu)")
    dtypes = ["auto", "float32", "bfloat16", "float16"]
    p.add_argument("--dtype", default="auto", choices=dtypes, type=choice_of(dtypes, "dtype"),
                   help="weights dtype (default auto)")
    p.add_argument("--no-model-cache", action="store_true",
                   help="convert the bundled GGUF at every start instead of keeping the converted weights in "
                        "~/.cache/llm-global-opinion (also: LLM_GLOBAL_OPINION_NO_CACHE=1)")
    p.add_argument("--device-map", default=None,
                   help="'auto' spreads a model too large for one GPU over all GPUs (accelerate); overrides --device")
    p.add_argument("--no-prefix-cache", action="store_true", help="recompute the shared prompt prefix for every item")
    p.add_argument("--batch-size", type=positive_int, default=8,
                   help="items per forward pass (logprob) or per generate call (verbalized; batched off the CPU) "
                        "(default 8; raise it on a large GPU)")
    p.set_defaults(max_new_tokens=256)
    return p


def local_config(argv: list[str] | None, experiment: str = "RQ1") -> ProbeConfig:
    """`prob_by_llm.py`'s flags as a `ProbeConfig`: the one place its parsed flags are read."""
    return ProbeConfig.from_flags(with_protocol(vars(local_parser(experiment).parse_args(argv)), argv), experiment,
                                  "local")


def local_prober_factory(config: ProbeConfig) -> tuple[str, Callable[[], Prober]]:
    """(model name for the results folder, a function that loads the model); nothing is loaded yet."""
    from utils.probing.backends.hf.bundled import BUNDLED_GGUF, BUNDLED_NAME

    local = config.backend
    if not isinstance(local, LocalBackend):
        raise TypeError("local_prober_factory needs a config made by local_config")
    if config.model_name_or_path is None:
        path, gguf, name = None, BUNDLED_GGUF, BUNDLED_NAME
    else:
        path, gguf, name = config.model_name_or_path, local.gguf_file, config.model_name_or_path

    def make() -> Prober:
        from utils.probing.backends.hf.bundled import load_bundled_model
        from utils.probing.backends.hf.loading import load_model
        from utils.probing.backends.hf.prober import HFProber

        where = dict(device=local.device, dtype=local.dtype, device_map=local.device_map, quiet=config.quiet)
        if path is None:
            tokenizer, model = load_bundled_model(**where, use_cache=False if local.no_model_cache else None)
        else:
            tokenizer, model = load_model(path, gguf_file=gguf, **where)
        if config.protocol == "release":  # the model's chat template over the release's messages
            protocol = release_protocol_for(config)
            decoding = protocol.decoding(config.experiment)
            temperature = 0.0 if decoding.greedy else decoding.temperature or 1.0
            return HFProber(model, tokenizer, "verbalized", max_new_tokens=decoding.max_tokens or config.max_new_tokens,
                            retry_temperature=temperature, temperature=temperature,
                            prefix_cache=not local.no_prefix_cache, batch_size=local.batch_size,
                            reader=protocol.result)
        return HFProber(model, tokenizer, config.method, max_new_tokens=config.max_new_tokens,
                        retry_temperature=config.retry_temperature, prefix_cache=not local.no_prefix_cache,
                        batch_size=local.batch_size, samples=config.samples,
                        sample_temperature=config.sample_temperature, temperature=config.temperature)

    return name, make


def check_local_model(config: ProbeConfig) -> ProbeConfig:
    """The model is there and the device exists, before anything is loaded; returns the config
    with the device as torch names it (`gpu` -> `cuda`), which is what `run_meta.json` records."""
    from utils.probing.backends.hf.bundled import bundled_model_dir
    from utils.probing.backends.hf.loading import check_source, resolve_device

    if config.model_name_or_path is None:
        bundled_model_dir()
    else:
        check_source(config.model_name_or_path, config.backend.gguf_file)
    return config.replace_backend(device=resolve_device(config.backend.device))


@main_guard
def local_main(argv: list[str] | None = None, experiment: str = "RQ1") -> int:
    config = local_config(argv, experiment)
    _setup_logging(config.log_level)
    conditions = build_conditions(config)
    if config.dry_run:
        return dry_run(conditions, config.dry_run)
    config = check_local_model(config)  # a missing model or device: say so before anything is loaded
    name, make = local_prober_factory(config)
    return run_conditions(config, name, make, conditions)
