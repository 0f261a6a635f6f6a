"""Running a plan: every condition's requests through one backend into its results file.

`run_conditions` is the one run loop of both scripts and the study runner; the backend is made only
when some item is left to ask. Each batch is asked until its answers parse, at most `--max-attempts`
times (an answer the reader marks `final` is not asked again):

    batch [Q1..Q8], attempt 1 -> Q3, Q5 unparsed;  [Q3, Q5], attempt 2 -> Q5 unparsed;
    [Q5], attempt 3 -> recorded as it is;           batch [Q9..Q16], attempt 1 ...

Each row is appended as soon as it is final (a killed run keeps every finished row) and the file is
compacted into questionnaire order at the end; a rerun asks exactly the items without an `ok` row.
No item stops a run: what a backend raises for an item or batch (other than a `UserError`) becomes an
`error` row. A `UserError`, Ctrl-C or SIGTERM calls `backend.stop()` and nothing more is asked.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm import tqdm

from utils.core.atomic import write_json
from utils.core.errors import Stopped, UserError
from utils.core.paths import results_dir
from utils.core.records import ProbeRequest, ProbeResult
from utils.core.results.spec import RunSpec
from utils.core.results.table import ok_ids, shard_paths, status_of
from utils.core.results.tree import named_run
from utils.probing.backends import Backend, unexpected
from utils.probing.conditions import Condition
from utils.probing.probe_config import ProbeConfig
from utils.probing.grid import Plan
from utils.probing.identity import identity_conflict, model_identity, prompt_sha256
from utils.probing.meta import input_hashes, run_meta
from utils.probing.methods import Method, failed
from utils.probing.perturb import restore
from utils.probing.ranks import ALONE, Ranks
from utils.probing.results_store import ResultStore, result_row

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    total: int
    skipped: int
    ok: int = 0
    unparsed: int = 0
    errors: int = 0

    def count(self, status: str) -> None:
        name = status if status in ("ok", "unparsed") else "errors"
        setattr(self, name, getattr(self, name) + 1)

    def line(self) -> str:
        return (f"{self.total} items: {self.skipped} already done, {self.ok} ok, "
                f"{self.unparsed} unparsed, {self.errors} errors")


def ask(backend: Backend, method: Method, requests: list[ProbeRequest], max_attempts: int = 1,
        seed: int | None = None) -> Iterator[tuple[ProbeRequest, ProbeResult]]:
    """Each request's final result (`attempts` filled in), as results arrive. With `seed`, each ask
    of a batch draws from `batch_seed`, so its draws do not depend on which batches, or rank, came first."""
    for idx in backend.batches(requests, method.how(1)):
        todo, attempt = [requests[i] for i in idx], 1
        while todo:
            if seed is not None:
                backend.seed(batch_seed(seed, todo[0].item.id, attempt))
            again = []
            for i, result in _answers(backend, method, todo, attempt):
                if result.status == "unparsed" and not result.final and attempt < max_attempts:
                    again.append(i)
                else:
                    yield todo[i], replace(result, attempts=attempt)
            todo, attempt = [todo[i] for i in sorted(again)], attempt + 1


def batch_seed(seed: int, first_id: str, attempt: int) -> int:
    """The seed of one ask of a batch: the condition's seed, the batch's first item, the attempt.

    >>> batch_seed(0, "Q1", 1) == batch_seed(0, "Q1", 1) != batch_seed(0, "Q1", 2)
    True
    """
    digest = hashlib.sha256(f"{seed}|{first_id}|{attempt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # below 2**63: torch.Generator.manual_seed takes it


def asked_by_ranks(backend: Backend, method: Method, pending: list[ProbeRequest], max_attempts: int,
                   seed: int | None, ranks: Ranks) -> Iterator[tuple[ProbeRequest, ProbeResult]]:
    """`ask`, batches split over the ranks; rank 0 gets every result a round at a time, the others none."""
    if ranks.world == 1:
        yield from ask(backend, method, pending, max_attempts, seed)
        return
    batches = list(backend.batches(pending, method.how(1)))
    mine = ranks.part(batches)
    by_id = {r.item.id: r for r in pending}
    answered: set[str] = set()
    for step in range(ranks.steps(len(batches))):
        got = []
        if step < len(mine):
            got = [(r.item.id, res) for r, res in
                   ask(backend, method, [pending[i] for i in mine[step]], max_attempts, seed)]
        for item_id, result in merged(ranks.gather(got), by_id, answered):
            yield by_id[item_id], result


def merged(gathered: list[list[tuple[str, ProbeResult]]], pending: dict, answered: set[str]):
    """The ranks' results of one round in rank order; an item answered twice or not pending is refused."""
    out = [pair for part in gathered for pair in part]
    for item_id, _ in out:
        if item_id not in pending or item_id in answered:
            raise RuntimeError(f"{item_id} was answered by two ranks or was not pending; nothing of this "
                               "round was written")
        answered.add(item_id)
    return out


def _answers(backend: Backend, method: Method, todo: list[ProbeRequest], attempt: int):
    """`method.ask`, with whatever a batch raises recorded for each of its items not answered yet."""
    answered = set()
    try:
        for i, result in method.ask(backend, todo, attempt):
            answered.add(i)
            yield i, result
    except (UserError, Stopped):
        raise
    except Exception as exc:  # noqa: BLE001 - recorded with its type, never retried or hidden
        log.error("a batch from %s: %s", todo[0].item.id, exc, exc_info=log.isEnabledFor(logging.DEBUG))
        for i, r in enumerate(todo):
            if i not in answered:
                yield i, failed(r.item, unexpected(exc))


def check_stored_rows(requests: list[ProbeRequest], store: ResultStore, shown: dict | None = None) -> None:
    """Refuse to resume into a file whose ok rows were asked over other option codes (`shown`: `--perturb`'s)."""
    for r in requests:
        row = store.rows.get(r.item.id)
        keys = shown[r.item.id].stored().choice_keys if shown and r.item.id in shown else r.item.choice_keys
        if row and status_of(row) == "ok" and row["choice_keys"] != repr(list(keys)):
            raise UserError(f"{store.path}: {r.item.id} was answered over options {row['choice_keys']}, "
                            f"but the questionnaire now has {list(r.item.choice_keys)}; use another "
                            "--results-root for the changed questionnaire, or delete that row")


def progress_bar(total: int, desc: str, enabled: bool = True) -> tqdm:
    """In a log file (stderr not a terminal) one line a minute at most, not a redraw per item all day."""
    on_terminal = sys.stderr.isatty()
    return tqdm(total=total, disable=not enabled, desc=desc, unit="item",
                mininterval=0.1 if on_terminal else 60.0, maxinterval=10.0 if on_terminal else 600.0)


def store_result(store: ResultStore, request: ProbeRequest, result: ProbeResult,
                 identity: dict[str, str] | None = None, shown: dict | None = None) -> None:
    """Append one final result as its row (an answer over perturbed labels mapped back first)."""
    item, view = request.item, (shown or {}).get(request.item.id)
    if view is not None:
        item, result = view.stored(), restore(result, view)
    store.append(result_row(item, result, request.method,
                            {**(identity or {}), "prompt_sha256": prompt_sha256(request.messages)}))


def run_condition(backend: Backend, method: Method, requests: list[ProbeRequest], store: ResultStore | None, *,
                  max_attempts: int = 3, progress: bool = True, identity: dict[str, str] | None = None,
                  shown: dict | None = None, seed: int | None = None, ranks: Ranks = ALONE) -> RunSummary:
    """Ask every request without an `ok` row in `store` (None on ranks but 0), writing `identity` on each
    row; `shown` (item id -> `perturb.Shown`) maps answers back to the item's codes."""
    def left() -> set[str]:
        check_stored_rows(requests, store, shown)
        return store.finished_ids()

    done = ranks.share(left)
    pending = [r for r in requests if r.item.id not in done]
    summary = RunSummary(total=len(requests), skipped=len(requests) - len(pending))
    bar = progress_bar(len(pending), f"probing ({method.name})", progress and ranks.first)
    try:
        if pending:
            backend.prepare(pending)  # all of them on every rank: the same prefix cache, so the same numbers
        for request, result in asked_by_ranks(backend, method, pending, max_attempts, seed, ranks):
            store_result(store, request, result, identity, shown)
            summary.count(result.status)
            bar.update(1)
    except BaseException:  # a UserError, Ctrl-C, SIGTERM: ask nothing more (requests cost money)
        backend.stop()
        raise
    finally:
        bar.close()
    if store is not None:
        store.compact([r.item.id for r in requests])
    return summary


@dataclass
class Planned:
    """One condition ready to run: where its rows go, what they are asked under, what is left."""

    cond: Condition
    out_dir: Path
    spec: RunSpec
    done: frozenset[str]  # items with a finished row

    @property
    def pending(self) -> int:
        return sum(r.item.id not in self.done for r in self.cond.requests)


def results_root(config: ProbeConfig) -> Path:
    """`--results-root`, or its `runs/<NAME>` with `--run-name NAME` (the paper's layout inside)."""
    return named_run(config.results_root, config.run_name)


def plan_conditions(config: ProbeConfig, plan: Plan, model_name: str, *, model_id: str | None = None) -> list[Planned]:
    """A file asked under another identity is a one-line UserError before anything loads; it is not touched."""
    root = results_root(config)
    local = config.backend.kind == "local" and config.model_name_or_path  # the bundled model: its name, wherever it is
    model = model_id or model_identity(model_name, config.backend.gguf_file if local else None)
    out = []
    for cond in plan.conditions:
        spec = cond.spec.replace(model=model, name=model_name, method=plan.method.name, decoding=plan.decoding,
                                 protocol=plan.protocol, release_commit=plan.release_commit)
        out_dir = results_dir(root, spec.folder())
        done: set[str] = set()
        shards = shard_paths(out_dir / "results.csv") if spec.shard is None else []
        if shards and not (out_dir / "results.csv").is_file():  # asked in shards: read as one, never re-asked whole
            done = ok_ids(out_dir / "results.csv")
            left = [r.item.id for r in cond.requests if r.item.id not in done]
            if left:
                raise UserError(f"{out_dir} was asked in shards ({', '.join(p.parent.name for p in shards)}) and "
                                f"{len(left)} of its items have no ok row ({', '.join(left[:3])}"
                                f"{', ...' if len(left) > 3 else ''}); finish it with --shard I/N, one run per shard")
        elif (out_dir / "results.csv").is_file():
            with ResultStore(out_dir / "results.csv") as store:
                check_identity(store, spec, cond)
                done = store.finished_ids()
        out.append(Planned(cond, out_dir, spec, frozenset(done)))
    return out


def check_identity(store: ResultStore, spec: RunSpec, cond: Condition) -> None:
    prompts = {r.item.id: prompt_sha256(r.messages) for r in cond.requests}
    conflict = identity_conflict(store.rows, spec, prompts)
    if conflict:
        raise UserError(f"{store.path} holds rows asked otherwise ({conflict}); nothing was changed. "
                        "Give this run its own folder with --run-name NAME (analyse it with show_results/*.py "
                        "--run-name NAME), or another --results-root")


def condition_meta(config: ProbeConfig, plan: Plan, p: Planned) -> dict:
    return run_meta(config.arguments(), **p.spec.columns(), n_items=len(p.cond.requests),
                    inputs=input_hashes(p.spec, config.questions_dir) if plan.protocol == "ours"
                    else {str(config.release_dir): p.spec.release_commit},  # the release read
                    **({"plan_sha256": plan.sha256} if plan.sha256 else {}))


def run_conditions(config: ProbeConfig, plan: Plan, model_name: str, make_backend: Callable[[], Backend], *,
                   model_id: str | None = None, ranks: Ranks = ALONE) -> int:
    """Returns the exit code. `make_backend` is called once at most, only when an item is left to ask;
    `model_id`: the model as rows record it. Rank 0 alone reads and writes the files and prints."""
    plans = ranks.share(lambda: plan_conditions(config, plan, model_name, model_id=model_id))
    say = print if ranks.first else (lambda *a, **k: None)
    if not any(p.pending for p in plans):
        n = sum(len(p.cond.requests) for p in plans)
        say(f"nothing left to do: all {n} items of {len(plans)} condition(s) already have ok rows "
            f"under {results_root(config)}; no model was loaded")
        return 0
    backend: Backend | None = None
    bad = asked = accepted = 0
    for p in plans:
        cond, out_dir = p.cond, p.out_dir
        where = "/".join(cond.spec.condition_folder())
        if not p.pending:
            say(f"{where}: nothing left to do ({len(cond.requests)} items already ok)")
            accepted += len(cond.requests)
            continue
        started = time.monotonic()
        with ResultStore(out_dir / "results.csv") if ranks.first else contextlib.nullcontext() as store:
            # again under the lock: another run may have written
            ranks.share(lambda: check_identity(store, p.spec, cond))
            meta = condition_meta(config, plan, p)
            if backend is None:
                backend = make_backend()
            summary = run_condition(backend, plan.method, cond.requests, store, max_attempts=config.max_attempts,
                                    progress=not config.quiet, identity=p.spec.columns(), shown=cond.shown,
                                    seed=p.spec.seed or 0, ranks=ranks)  # --repeats: each its own seed
            elapsed = time.monotonic() - started
            if store is not None and store.rows:
                write_json(out_dir / "run_meta.json",
                               {**meta, "summary": summary.__dict__, "elapsed_s": round(elapsed, 1)})
        bad += summary.errors + summary.unparsed
        asked, accepted = asked + summary.total - summary.skipped, accepted + summary.ok + summary.skipped
        say(f"{where}: {summary.line()}; {elapsed:.1f}s; results in {out_dir / 'results.csv'}")
    if plan.protocol == "release" and asked and not accepted:
        say(f"0 of {asked} answers were accepted by the release's rule: its prompts ask the model to write out a "
            "distribution (e.g. {'1': '30%', ...}), which this model did not (the bundled 135M model writes none); "
            "use a larger model, or ask our way with --protocol ours --method logprob")
    bad = ranks.share(lambda: bad)  # rank 0 counted every row: every rank exits with its code
    return 0 if bad == 0 else 1
