"""The job record beside the results: which batches a run has sent, so none is sent twice.

`<results-root>/batches/<model>/<key>.json`, where `key` is the SHA-256 of every body the run
would send (model, messages, decoding), so the same command finds its own record again:

    {"key": "3f9c...", "rounds": [
      {"round": 1, "input": "3f9c....round1.jsonl", "input_sha256": "ab12...", "lines": 145,
       "input_file_id": "file-1", "batch_id": "batch_1", "state": "submitted", "again": []}]}

A round is `uploaded` (no batch yet), `submitted` (poll it) or `applied` (its answers are rows; `again`
names what the next round asks). Each state is written (fsynced, renamed into place) before the next
step, under a lock, so a restart or a second command resumes the recorded batch.
"""
from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from utils.core.atomic import write_json
from utils.core.paths import model_folder


class JobRecord:
    def __init__(self, root: Path, model_name: str, key: str):
        self.folder = Path(root) / "batches" / model_folder(model_name)
        self.key = key
        self.path = self.folder / f"{key[:16]}.json"

    def load(self) -> dict:
        if not self.path.is_file():
            return {"key": self.key, "rounds": []}
        return json.loads(self.path.read_text(encoding="utf-8"))

    def update_round(self, rnd: dict) -> dict:
        """Write `rnd` over the round of its number (or append it); returns the record."""
        record = self.load()
        rounds = [r for r in record["rounds"] if r["round"] != rnd["round"] or r.get("pass") != rnd.get("pass")]
        record["rounds"] = sorted(rounds + [rnd], key=lambda r: (r.get("pass", 1), r["round"]))
        write_json(self.path, record)
        return record

    def input_path(self, rnd: dict) -> Path:
        return self.folder / rnd["input"]

    def write_input(self, name: str, data: bytes) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / name
        with open(path, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return path

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Held while a round is uploaded and its batch made: a second command waits, then finds it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / f"{self.key[:16]}.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file closes, however the block ends
            yield
