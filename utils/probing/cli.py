"""The command line of the probing scripts, and the one entry point behind each of them.

`code/RQ*/prob_by_*.py` call `api_main()` or `local_main()`, which make the config, then the plan
(every flag checked, every prompt rendered), then the key or model checks, then the backend, once.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Callable

from utils.core.errors import UserError
from utils.core.missing_packages import missing_package
from utils.core.paths import model_folder
from utils.core.flag_parser import FlagParser, choice_of
from utils.core.logs import log_to_stderr
from utils.core.secrets import redact
from utils.probing.backends.api import api_backend, check_key
from utils.probing.backends.hf import check_local_model, hf_backend
from utils.probing.probe_config import ProbeConfig, default_of, flag_fields, flag_name
from utils.probing.grid import dry_run, plan_for
from utils.probing.loop import results_root, run_conditions
from utils.probing.ranks import Ranks, process_group

DESCRIPTIONS = {"api": "Ask a model behind an OpenAI-compatible API for WVS answer distributions.",
                "local": "Ask a local Hugging Face model for WVS answer distributions."}
API_MODEL_HELP = "model name as the server knows it, e.g. gpt-4o, deepseek-chat"
PERTURBED = {"RQ1": "Robustness/RQ1/<member>",
             "RQ2": "Robustness/RQ2/<method>/<country>/<member>, for every cell selected; few-shot cells get no "
                    "examples member"}


def parser(script: str = "RQ1", backend: str = "local") -> argparse.ArgumentParser:
    """The flags of `code/<script>/prob_by_{api,llm}.py`, one per `ProbeConfig` field. A flag
    not given is left out of the parsed flags, so its default comes from the config alone."""
    p = FlagParser(description=DESCRIPTIONS[backend])
    for f in flag_fields(script, backend):
        meta, kwargs = f.metadata, dict(f.metadata["parse"])
        names = list(meta["names"]()) if meta["names"] else []
        if meta["pick"]:
            kwargs.update(choices=names, type=choice_of(names, meta["pick"]))
        text = meta["help"].format(default=default_of(f, backend), names=", ".join(names), where=PERTURBED[script])
        if f.name == "model_name_or_path" and backend == "api":
            kwargs["required"], text = True, API_MODEL_HELP
        p.add_argument(flag_name(f), default=argparse.SUPPRESS, help=text, **kwargs)
    return p


def config_of(argv: list[str] | None, script: str, backend: str) -> ProbeConfig:
    return ProbeConfig.from_mapping(vars(parser(script, backend).parse_args(argv)), script, backend)


def api_config(argv: list[str] | None, script: str = "RQ1") -> ProbeConfig:
    return config_of(argv, script, "api")


def local_config(argv: list[str] | None, script: str = "RQ1") -> ProbeConfig:
    return config_of(argv, script, "local")


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
            by = isinstance(exc, Terminated)
            print(f"{'stopped by SIGTERM' if by else 'interrupted'}: finished rows are saved; "
                  "rerun the same command to resume", file=sys.stderr)
            return 128 + signal.SIGTERM if by else 130
        except Exception as exc:  # noqa: BLE001 - shown in full, only with the key taken out
            missing = missing_package(exc)  # torch or openai, imported when the model is made
            if missing:
                print(f"error: {missing}", file=sys.stderr)
                return 1
            print(redact(traceback.format_exc()), end="", file=sys.stderr)
            print("finished rows are saved; rerun the same command to resume", file=sys.stderr)
            return 1
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    return wrapped


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's stop, `kill`, `timeout`), stopping a run as Ctrl-C does."""


def _stop_on_sigterm():
    """Make SIGTERM stop a run the way Ctrl-C does (finished rows kept, one line on resuming);
    returns the previous handler, or None where signals cannot be set (not the main thread)."""
    def handler(signum, frame):
        raise Terminated()
    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:
        return None


@main_guard
def api_main(argv: list[str] | None = None, script: str = "RQ1") -> int:
    config = api_config(argv, script)
    log_to_stderr(config.log_level, "%(levelname)s %(name)s: %(message)s")
    plan = plan_for(config)  # the flags first: an unknown --country is named before a missing key
    if config.dry_run:
        code = dry_run(plan.conditions, config.dry_run)
        if config.backend.batch:
            print(f"--batch: {sum(len(c.requests) for c in plan.conditions)} requests in one batch at half the list "
                  "prices; a study file's price_prompt and price_output give the cost (code/run_study.py --dry-run)")
        return code
    name, make = api_backend(config)
    model_folder(name)  # a model name that would climb out of the results root, a bad --run-name: before the key
    results_root(config)
    check_key(config)  # then the key
    if config.backend.batch:
        from utils.probing.batch.client import batches_for
        from utils.probing.batch.run import run_batched

        return run_batched([(config, plan)], name, batches_for(config))
    return run_conditions(config, plan, name, make)


@main_guard
def local_main(argv: list[str] | None = None, script: str = "RQ1") -> int:
    """One process, or one of N under `torchrun`/`accelerate launch` (`Ranks.from_environ`); rank 0 writes."""
    config = local_config(argv, script)
    log_to_stderr(config.log_level, "%(levelname)s %(name)s: %(message)s")
    plan = plan_for(config)
    ranks = Ranks.from_environ(os.environ)
    if config.dry_run:
        return dry_run(plan.conditions, config.dry_run) if ranks.first else 0
    config = check_local_model(config, ranks.local_rank if ranks.world > 1 else None)
    name, make = hf_backend(config, plan.special_tokens)
    with process_group(ranks):
        return run_conditions(config, plan, name, make, ranks=ranks)
