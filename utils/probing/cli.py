"""Argument parsing and the one entry point behind each `code/RQ*/prob_by_*.py` script.

The scripts stay thin: they call `api_main()` or `local_main()` with their experiment (RQ1 or
RQ2). Both share `run_study` (utils/probing/study.py), which builds the selected conditions
and either writes a dry run or runs every condition with one prober, loading the model once.
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
from utils.probing.sampling import DEFAULT_SAMPLES, DEFAULT_TEMPERATURE
from utils.probing.study import run_study

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
    else:
        p.add_argument("--variant", default=None, choices=list(sensitivity_variants()),
                       type=choice_of(sensitivity_variants(), "variant"),
                       help="sensitivity run instead of RQ1: number (3 format examples), prob (other made-up "
                            "numbers), order (shuffled options); results under Discussion/sensitivity/<variant>")
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
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    return p


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


def api_prober_factory(args: argparse.Namespace) -> tuple[str, Callable[[], Prober]]:
    """(model name for the results folder, a function that makes the prober); nothing is sent."""
    from utils.probing.api_prober import APIProber, make_client, resolve_endpoint

    def make() -> Prober:
        client = make_client(resolve_endpoint(args.model_name_or_path, args.base_url, args.api_key_env), args.timeout)
        return APIProber(client, args.model_name_or_path, args.method, temperature=args.temperature,
                         retry_temperature=args.retry_temperature, max_tokens=args.max_new_tokens,
                         max_retries=args.max_retries, samples=args.samples,
                         sample_temperature=args.sample_temperature, concurrency=args.concurrency)

    return args.model_name_or_path, make


@main_guard
def api_main(argv: list[str] | None = None, experiment: str = "RQ1") -> int:
    from utils.probing.api_prober import make_client, resolve_endpoint

    args = api_parser(experiment).parse_args(argv)
    _setup_logging(args.log_level)
    name, make = api_prober_factory(args)
    if not args.dry_run:  # a missing key should fail before anything else happens
        make_client(resolve_endpoint(args.model_name_or_path, args.base_url, args.api_key_env))
    return run_study(args, name, make, experiment)


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


def local_prober_factory(args: argparse.Namespace) -> tuple[str, Callable[[], Prober]]:
    """(model name for the results folder, a function that loads the model); nothing is loaded yet."""
    from utils.probing.bundled_model import BUNDLED_GGUF, BUNDLED_NAME

    if args.model_name_or_path is None:
        path, gguf, name = None, BUNDLED_GGUF, BUNDLED_NAME
    else:
        path, gguf, name = args.model_name_or_path, args.gguf_file, args.model_name_or_path

    def make() -> Prober:
        from utils.probing.bundled_model import load_bundled_model
        from utils.probing.hf_loading import load_model
        from utils.probing.hf_prober import HFProber

        where = dict(device=args.device, dtype=args.dtype, device_map=args.device_map, quiet=args.quiet)
        if path is None:
            no_cache = getattr(args, "no_model_cache", False)
            tokenizer, model = load_bundled_model(**where, use_cache=False if no_cache else None)
        else:
            tokenizer, model = load_model(path, gguf_file=gguf, **where)
        return HFProber(model, tokenizer, args.method, max_new_tokens=args.max_new_tokens,
                        retry_temperature=args.retry_temperature, prefix_cache=not args.no_prefix_cache,
                        batch_size=args.batch_size, samples=args.samples,
                        sample_temperature=args.sample_temperature, temperature=args.temperature)

    return name, make


@main_guard
def local_main(argv: list[str] | None = None, experiment: str = "RQ1") -> int:
    args = local_parser(experiment).parse_args(argv)
    _setup_logging(args.log_level)
    name, make = local_prober_factory(args)
    if not args.dry_run:  # a missing model or device: say so before anything else
        from utils.probing.bundled_model import bundled_model_dir
        from utils.probing.hf_loading import check_source, resolve_device

        if args.model_name_or_path is None:
            bundled_model_dir()
        else:
            check_source(args.model_name_or_path, args.gguf_file)
        args.device = resolve_device(args.device)
    return run_study(args, name, make, experiment)
