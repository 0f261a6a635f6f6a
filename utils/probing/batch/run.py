"""A plan asked in rounds of batches (`--batch`), into the same results files as the synchronous
run, through the same method, reader, acceptance and re-asking rules.

    round 1: every item of every selected condition without an ok row, at attempt 1
             -> one batch; its answers read by the method; ok rows (and errors) written
    round 2: the unreadable ones at attempt 2 (the retry temperature), with the lines that failed
             on the way (429, 5xx, no line, expired) at their own attempt -> a follow-up batch
    ...      at most --max-attempts asks per item, and --max-attempts + 2 rounds in all

Every round is in the job record before its batch is waited on, so a rerun (or a second command)
polls the recorded batch. A failed or cancelled batch stops the run with one line (its answers are
kept); an expired one keeps what it answered and sends the rest in the next round. A study sends all
of a model's jobs as parts of one run, so each round is one batch: a batch per job would put their
day-long windows end to end.
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace

from utils.core.atomic import write_json
from utils.core.errors import UserError
from utils.probing.backends import Failure
from utils.probing.backends.api import wire
from utils.probing.batch.client import Batches, wait
from utils.probing.batch.lines import Key, input_line, outcome, parse_custom_id, read_jsonl
from utils.probing.batch.record import JobRecord
from utils.probing.batch.replies import Replies
from utils.probing.grid import Plan
from utils.probing.loop import (Planned, RunSummary, check_identity, check_stored_rows, condition_meta,
                                plan_conditions, results_root, store_result)
from utils.probing.probe_config import ProbeConfig
from utils.probing.results_store import ResultStore

EXTRA_ROUNDS = 2  # rounds beyond --max-attempts for lines that failed on the way


class BatchRun:
    def __init__(self, parts: Sequence[tuple[ProbeConfig, Plan]], model_name: str, batches: Batches,
                 say: Callable[[str], None]):
        self.config = parts[0][0]  # what the parts share (a study's jobs of one method): the results root, the polling
        self.model, self.batches, self.say = model_name, batches, say
        self.planned: dict[str, Planned] = {}
        self.part: dict[str, tuple[ProbeConfig, Plan]] = {}  # condition folder -> its own config and plan
        for config, plan in parts:
            for p in plan_conditions(config, plan, model_name):
                folder = str(p.spec.folder())
                if folder in self.planned:
                    raise UserError(f"{folder} is asked by two parts of one batch run; give each condition once")
                self.planned[folder], self.part[folder] = p, (config, plan)
        self.requests = {(f, r.item.id): r for f, p in self.planned.items() for r in p.cond.requests}
        self.record = JobRecord(results_root(self.config), model_name, self.key())
        self.summaries = {f: RunSummary(len(p.cond.requests), len(p.cond.requests) - p.pending)
                          for f, p in self.planned.items()}
        self.max_rounds = max(c.max_attempts for c, _ in parts) + EXTRA_ROUNDS

    def how(self, folder: str, attempt: int):
        return self.part[folder][1].method.how(attempt)

    def key(self) -> str:
        """SHA-256 of everything the run may send: the same command finds its record again."""
        digest = hashlib.sha256()
        for (folder, item_id), r in sorted(self.requests.items()):
            bodies = [wire.payload(r, self.model, self.how(folder, a)) for a in (1, 2)]
            digest.update(json.dumps([folder, item_id, bodies], sort_keys=True).encode("utf-8"))
        return digest.hexdigest()

    def run(self) -> int:
        started = False
        while True:
            rounds = self.record.load()["rounds"]
            last = rounds[-1] if rounds else None
            if last and last["state"] != "applied":
                started = True
                if not self.finish(last):
                    return 1
                continue
            if last and last["again"]:
                keys, pass_no, round_no = [parse_custom_id(c) for c in last["again"]], last["pass"], last["round"] + 1
            elif not started:
                keys, pass_no, round_no = self.pending(), (last["pass"] + 1) if last else 1, 1
                if not keys:
                    self.say(f"nothing left to do: every item has an ok row under {results_root(self.config)}")
                    return 0
            else:
                break
            started = True
            self.submit(keys, pass_no, round_no, len(rounds))
        bad = 0
        for folder, s in self.summaries.items():
            bad += s.errors + s.unparsed
            self.say(f"{'/'.join(self.planned[folder].cond.spec.condition_folder())}: {s.line()}; "
                     f"results in {self.planned[folder].out_dir / 'results.csv'}")
        return 0 if bad == 0 else 1

    def pending(self) -> list[Key]:
        return [Key(folder, r.item.id, 1) for folder, p in self.planned.items() for r in p.cond.requests
                if r.item.id not in p.done]

    def submit(self, keys: list[Key], pass_no: int, round_no: int, seen: int) -> None:
        """Upload the round and make its batch, each step recorded first; under the record's
        lock, and only if no other command has added a round meanwhile."""
        lines = [input_line(k, wire.payload(self.requests[k.folder, k.item_id], self.model,
                                            self.how(k.folder, k.attempt))) for k in keys]
        data = "".join(line + "\n" for line in lines).encode("utf-8")
        name = f"{self.record.key[:16]}.pass{pass_no}.round{round_no}.jsonl"
        with self.record.locked():
            if len(self.record.load()["rounds"]) != seen:
                return  # another command sent it: the loop polls that one
            self.record.write_input(name, data)
            rnd = {"pass": pass_no, "round": round_no, "input": name, "input_sha256": hashlib.sha256(data).hexdigest(),
                   "lines": len(lines), "state": "uploading", "again": []}
            self.record.update_round(rnd)
            self.send(rnd, data)

    def send(self, rnd: dict, data: bytes) -> None:
        if rnd["state"] == "uploading":
            rnd.update(input_file_id=self.batches.upload(rnd["input"], data), state="uploaded")
            self.record.update_round(rnd)
        batch_id = self.batches.find(rnd["input_file_id"])  # made before a kill, but not recorded
        if batch_id is None:
            batch_id = self.batches.create(rnd["input_file_id"], {"run": self.record.key[:16],
                                                                  "round": f"{rnd['pass']}.{rnd['round']}"})
        rnd.update(batch_id=batch_id, state="submitted")
        self.record.update_round(rnd)
        self.say(f"batch {batch_id}: {rnd['lines']} requests sent (round {rnd['round']}); recorded in "
                 f"{self.record.path}")

    def finish(self, rnd: dict) -> bool:
        """Wait for the round's batch and write its answers; False when the run stops here."""
        if rnd["state"] != "submitted":
            with self.record.locked():
                data = self.record.input_path(rnd).read_bytes()
                if hashlib.sha256(data).hexdigest() != rnd["input_sha256"]:
                    raise RuntimeError(f"{self.record.input_path(rnd)} changed since it was recorded")
                self.send(rnd, data)
        self.say(f"batch {rnd['batch_id']}: waiting (round {rnd['round']}, {rnd['lines']} requests)")
        batch = wait(self.batches, rnd["batch_id"], self.say, self.config.backend.batch_poll)
        sent = [parse_custom_id(o.get("custom_id", "")) for o in read_jsonl(self.record.input_path(rnd).read_text(
            encoding="utf-8"))[0]]
        got = self.lines(batch, {k.custom_id() for k in sent})
        stop = batch.status in ("failed", "cancelled")
        if batch.status != "completed" or not batch.output_file_id:
            self.say(ending(batch, len(got), len(sent)))
        by_folder: dict[str, list[Key]] = defaultdict(list)
        for k in sent:
            by_folder[k.folder].append(k)
        again: list[str] = []
        for folder, keys in by_folder.items():
            again += self.apply(self.planned[folder], keys, got, rnd["round"], stop)
        rnd.update(state="applied", status=batch.status, again=again)
        self.record.update_round(rnd)
        return not stop

    def lines(self, batch, sent: set[str]) -> dict[str, dict]:
        got: dict[str, dict] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            objs, bad = read_jsonl(self.batches.content(file_id))
            if bad:
                self.say(f"batch {batch.id}: {bad} line(s) of file {file_id} are not JSON objects; left out")
            for o in objs:
                cid = o.get("custom_id")
                if cid not in sent:
                    self.say(f"batch {batch.id}: a line for unknown custom_id {cid!r}; left out")
                else:
                    got.setdefault(cid, o)
        return got

    def apply(self, p: Planned, keys: list[Key], got: dict[str, dict], round_no: int, stop: bool) -> list[str]:
        """Write the round's final answers of one condition; the custom_ids of the next round."""
        config, plan = self.part[str(p.spec.folder())]
        method, again = plan.method, []
        can_again = not stop and round_no < self.max_rounds
        by_attempt: dict[int, list] = defaultdict(list)
        meta = condition_meta(config, plan, p)
        with ResultStore(p.out_dir / "results.csv") as store:
            check_identity(store, p.spec, p.cond)
            check_stored_rows(p.cond.requests, store, p.cond.shown)
            done = store.finished_ids()
            for k in keys:
                line = got.get(k.custom_id())
                if k.item_id in done or (line is None and stop):
                    continue
                reply, retry = outcome(line) if line else (Failure("no line for it in the batch's output"), True)
                if retry and can_again:
                    again.append(k.custom_id())
                else:
                    by_attempt[k.attempt].append((self.requests[k.folder, k.item_id], reply))
            summary = self.summaries[str(p.spec.folder())]
            for attempt, pairs in sorted(by_attempt.items()):
                reqs = [r for r, _ in pairs]
                for i, result in method.ask(Replies([a for _, a in pairs]), reqs, attempt):
                    if (result.status == "unparsed" and not result.final and attempt < config.max_attempts
                            and can_again):
                        again.append(Key(str(p.spec.folder()), reqs[i].item.id, attempt + 1).custom_id())
                        continue
                    store_result(store, reqs[i], replace(result, attempts=attempt), p.spec.columns(), p.cond.shown)
                    summary.count(result.status)
            store.compact([r.item.id for r in p.cond.requests])
            if store.rows:
                write_json(p.out_dir / "run_meta.json", {**meta, "summary": summary.__dict__, "batch": True})
        return again


def ending(batch, answered: int, sent: int) -> str:
    """The one line for a batch that ended otherwise than completed with an output file."""
    if batch.status == "failed":
        errors = getattr(getattr(batch, "errors", None), "data", None) or []
        why = "; ".join(f"{e.code}: {e.message}" for e in errors[:3]) or "no reason given"
        return f"batch {batch.id} failed ({why}); nothing in it was answered: fix that, then rerun to send a new one"
    if batch.status == "cancelled":
        return (f"batch {batch.id} was cancelled with {answered} of {sent} lines back; those are written, "
                "rerun to ask the rest")
    if batch.status == "expired":
        return (f"batch {batch.id} expired with {answered} of {sent} lines back; those are written, "
                "the rest go into a follow-up batch")
    return f"batch {batch.id} completed without an output file; its requests go into a follow-up batch"


def run_batched(parts: Sequence[tuple[ProbeConfig, Plan]], model_name: str, batches: Batches,
                say: Callable[[str], None] = print) -> int:
    """Every part's plan in the same rounds of batches (the script gives one (config, plan), a study
    all of a model's jobs of one probe method); returns the exit code."""
    return BatchRun(parts, model_name, batches, say).run()
