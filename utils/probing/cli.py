"""Argument parsing and the one entry point behind each `code/RQ*/prob_by_*.py` script.

The scripts stay thin: they call `api_main()` or `local_main()` with their experiment (RQ1 or
RQ2). Both share `run_study`, which builds the selected conditions (see `utils/conditions.py`)
and either writes a dry run or runs every condition with one prober, loading the model once.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

from utils.core.errors import UserError
from utils.core.paths import RESULTS_DIR, model_folder, results_dir
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.records import Prober
from utils.core.secrets import RedactSecrets, redact
from utils.probing.conditions import (
    Condition,
    choose,
    rq1_condition,
    rq2_condition,
    sensitivity_condition,
    sensitivity_variants,
    steering_countries,
    steering_methods,
)
from utils.probing.meta import run_meta
from utils.probing.prompts import METHODS, load_prompt_set, prompt_text, write_dry_run
from utils.probing.results_store import ResultStore, write_run_meta
from utils.probing.runner import run_requests


class OneLineParser(argparse.ArgumentParser):
    """A mistyped flag is one line saying what is wrong (exit 2), not the whole usage text.

    Abbreviations are off: `--api-key sk-...` would otherwise be taken as `--api-key-env` and
    the key written into run_meta.json as a variable name."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message: str):
        self.exit(2, redact(f"error: {message} (see --help)\n"))


def positive_int(text: str) -> int:
    """argparse type for counts (`--concurrency`, `--batch-size`, `--max-attempts`): 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def common_parser(description: str, default_method: str, experiment: str = "RQ1") -> argparse.ArgumentParser:
    p = OneLineParser(description=description)
    if experiment == "RQ2":
        p.add_argument("--country", default="all",
                       help=f"steering target: {', '.join(steering_countries())} or all (default all)")
        p.add_argument("--steering_method", default="all",
                       help=f"{', '.join(steering_methods())} or all (default all)")
    else:
        p.add_argument("--variant", default=None, choices=list(sensitivity_variants()),
                       help="sensitivity run instead of RQ1: number (3 format examples), prob (other made-up "
                            "numbers), order (shuffled options); results under Discussion/sensitivity/<variant>")
    p.add_argument("--method", choices=METHODS, default=default_method,
                   help="verbalized: the model writes the distribution (the paper's method); "
                        f"logprob: option probabilities from the model's next-token log-probs (default: {default_method})")
    p.add_argument("--questions-dir", type=Path, default=None,
                   help="folder holding WV7_<Language>.jsonl (default: dataset/questions)")
    p.add_argument("--results-root", type=Path, default=RESULTS_DIR, help="where results go (default: results/)")
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


def select_items(items, limit: int | None, ids: str | None):
    if ids:
        wanted = [i.strip() for i in ids.split(",") if i.strip()]
        known = {it.id for it in items}
        unknown = [i for i in wanted if i not in known]
        if unknown:
            raise UserError(f"unknown item id(s) {', '.join(unknown)}; ids look like Q1, Q18, Q259")
        items = [it for it in items if it.id in set(wanted)]
    if limit is not None:
        if limit < 1:
            raise UserError("--limit must be at least 1")
        items = items[:limit]
    return items


def build_conditions(args: argparse.Namespace, experiment: str) -> list[Condition]:
    def select(items):
        return select_items(items, args.limit, args.ids)

    if experiment == "RQ2":
        countries = choose(args.country, list(steering_countries()), "country")
        methods = choose(args.steering_method, list(steering_methods()), "steering method")
        return [rq2_condition(c, m, args.method, select, args.questions_dir) for m in methods for c in countries]
    if getattr(args, "variant", None):
        return [sensitivity_condition(args.variant, args.method, select, args.questions_dir)]
    items = select(load_questionnaire(questionnaire_path("English", args.questions_dir)))
    return [rq1_condition(items, args.method, load_prompt_set("English"))]


def dry_run(conditions: list[Condition], path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("", encoding="utf-8")
    n = chars = 0
    for c in conditions:
        labels = {"experiment": c.experiment, "country": "", "steering_method": "", "variant": "", **c.labels}
        n += write_dry_run(c.requests, path, labels, append=True)
        chars += sum(len(prompt_text(r)) for r in c.requests)
    print(f"wrote {n} prompts for {len(conditions)} condition(s) to {path} ({chars} characters, "
          f"about {chars // 4} prompt tokens at ~4 characters a token); no model was called")
    return 0


def run_conditions(args: argparse.Namespace, model_name: str, make_prober: Callable[[], Prober],
                   conditions: list[Condition]) -> int:
    """Run every condition with one prober (the model is loaded once); returns the exit code."""
    folder = model_folder(model_name)
    prober: Prober | None = None
    bad = 0
    for cond in conditions:
        out_dir = results_dir(args.results_root, *cond.folder, folder)
        started = time.monotonic()
        with ResultStore(out_dir / "results.csv") as store:
            meta = run_meta(vars(args), model=model_name, experiment=cond.experiment, **cond.labels,
                            n_items=len(cond.requests))
            if prober is None:
                prober = make_prober()
            summary = run_requests(prober, cond.requests, store, concurrency=args.concurrency,
                                   max_attempts=args.max_attempts, progress=not args.quiet)
            elapsed = time.monotonic() - started
            write_run_meta(out_dir / "run_meta.json",
                           {**meta, "summary": summary.__dict__, "elapsed_s": round(elapsed, 1)})
        bad += summary.errors + summary.unparsed
        print(f"{'/'.join(cond.folder)}: {summary.line()}; {elapsed:.1f}s; results in {out_dir / 'results.csv'}")
    return 0 if bad == 0 else 1


def run_study(args: argparse.Namespace, model_name: str, make_prober: Callable[[], Prober],
              experiment: str = "RQ1") -> int:
    """Dry-run or run the conditions the arguments select for one model."""
    conditions = build_conditions(args, experiment)
    if args.dry_run:
        return dry_run(conditions, args.dry_run)
    return run_conditions(args, model_name, make_prober, conditions)


def main_guard(fn: Callable[..., int]) -> Callable[..., int]:
    """Print a UserError as one line (exit 2) instead of a traceback; any other exception as
    its traceback with secrets redacted (exit 1)."""
    def wrapped(argv: list[str] | None = None, **kwargs) -> int:
        try:
            return fn(argv, **kwargs)
        except UserError as exc:
            print(redact(f"error: {exc}"), file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted: finished rows are saved; rerun the same command to resume", file=sys.stderr)
            return 130
        except Exception:  # noqa: BLE001 - shown in full, only with the key taken out
            print(redact(traceback.format_exc()), end="", file=sys.stderr)
            print("finished rows are saved; rerun the same command to resume", file=sys.stderr)
            return 1
    return wrapped


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.WARNING),
                        format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())


@main_guard
def api_main(argv: list[str] | None = None, experiment: str = "RQ1") -> int:
    from utils.probing.api_prober import APIProber, make_client, resolve_endpoint

    p = common_parser("Ask a model behind an OpenAI-compatible API for WVS answer distributions.", "verbalized",
                      experiment)
    p.add_argument("--model_name_or_path", required=True, help="model name as the server knows it, e.g. gpt-4o, deepseek-chat")
    p.add_argument("--base_url", default=None,
                   help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 for vLLM or llama.cpp (default: OpenAI; DeepSeek for deepseek-*)")
    p.add_argument("--api-key-env", default=None,
                   help="environment variable holding the key (default OPENAI_API_KEY, DEEPSEEK_API_KEY for deepseek-*)")
    p.add_argument("--max-retries", type=int, default=6, help="retries of 429/5xx/timeouts per request (default 6)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default 120)")
    args = p.parse_args(argv)
    _setup_logging(args.log_level)

    def make() -> Prober:
        client = make_client(resolve_endpoint(args.model_name_or_path, args.base_url, args.api_key_env), args.timeout)
        return APIProber(client, args.model_name_or_path, args.method, temperature=args.temperature,
                         retry_temperature=args.retry_temperature, max_tokens=args.max_new_tokens,
                         max_retries=args.max_retries)

    if not args.dry_run:  # a missing key should fail before anything else happens
        make_client(resolve_endpoint(args.model_name_or_path, args.base_url, args.api_key_env))
    return run_study(args, args.model_name_or_path, make, experiment)


@main_guard
def local_main(argv: list[str] | None = None, experiment: str = "RQ1") -> int:
    p = common_parser("Ask a local Hugging Face model for WVS answer distributions.", "logprob", experiment)
    p.add_argument("--model_name_or_path", default=None,
                   help="local model folder or hub id (cached; set HF_HUB_OFFLINE=1 offline); default: the bundled SmolLM2-135M-Instruct")
    p.add_argument("--gguf-file", default=None, help="GGUF file name inside --model_name_or_path, if the model is a GGUF")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1, mps (default cpu)")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"], help="weights dtype (default auto)")
    p.add_argument("--device-map", default=None,
                   help="'auto' spreads a model too large for one GPU over all GPUs (accelerate); overrides --device")
    p.add_argument("--no-prefix-cache", action="store_true", help="recompute the shared prompt prefix for every item")
    p.add_argument("--batch-size", type=positive_int, default=8,
                   help="items per forward pass (logprob) or per generate call (verbalized; batched off the CPU) "
                        "(default 8; raise it on a large GPU)")
    p.set_defaults(max_new_tokens=256)
    args = p.parse_args(argv)
    _setup_logging(args.log_level)
    from utils.probing.bundled_model import BUNDLED_GGUF, BUNDLED_NAME, bundled_model_dir

    if args.model_name_or_path is None:
        path, gguf, name = bundled_model_dir() if not args.dry_run else None, BUNDLED_GGUF, BUNDLED_NAME
    else:
        path, gguf, name = args.model_name_or_path, args.gguf_file, args.model_name_or_path

    def make() -> Prober:
        from utils.probing.hf_prober import HFProber, load_model

        tokenizer, model = load_model(path, gguf_file=gguf, device=args.device, dtype=args.dtype,
                                      device_map=args.device_map)
        return HFProber(model, tokenizer, args.method, max_new_tokens=args.max_new_tokens,
                        retry_temperature=args.retry_temperature, prefix_cache=not args.no_prefix_cache,
                        batch_size=args.batch_size)

    return run_study(args, name, make, experiment)
