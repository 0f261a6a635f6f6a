"""Append-only, crash-safe storage of probe results in `results.csv` (`run_meta.json` is `meta.py`'s).

A study run takes hours, so each finished item is one complete CSV record, written with a single
`os.write` on an `O_APPEND` descriptor and fsynced: a process killed at any moment leaves every
reported row and at most a torn tail, which the next open cuts off. The newest row of an id wins; the
end of a run rewrites the file atomically, one row per id in questionnaire order. A lock file stops
two runs writing one file. Columns: `utils/core/results/schema.py` (a file of an older generation is
rewritten in the current one; a row that cannot be trusted is refused on opening, with its number).

Text columns are capped at `MAX_TEXT_CHARS` (a runaway answer of megabytes would slow every later
read; answers are parsed before, on the full text), and every secret the run knows is `[redacted]`,
in case a server echoes the key back.
"""
from __future__ import annotations

import csv
import fcntl
import io
import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path

from utils.core.errors import UserError
from utils.core.records import ProbeResult, SurveyItem
from utils.core.results.schema import COLUMNS, header_problem, row_problem
from utils.core.results.table import read_table, status_of
from utils.core.secrets import redact

log = logging.getLogger(__name__)
MAX_TEXT_CHARS = 100_000  # per text column; below the csv module's default field limit (131,072)


def result_row(item: SurveyItem, result: ProbeResult, method: str,
               identity: dict[str, str] | None = None) -> dict[str, str]:
    """List columns in Python list syntax, as the paper's files; identity columns empty without `identity`."""
    return {**(identity or {}),
        "id": item.id, "question": item.question, "choices": repr(list(item.choices)),
        "choice_keys": repr(list(item.choice_keys)), "answer": item.answer, "type": item.type,
        "response": _clean(result.response),
        "distribution": json.dumps(result.distribution) if result.distribution is not None else "",
        "method": method, "status": result.status, "attempts": str(result.attempts),
        "raw_text": _clean(result.raw_text), "error": _clean(result.error), "latency_s": f"{result.latency_s:.3f}",
        "prompt_tokens": str(result.prompt_tokens), "completion_tokens": str(result.completion_tokens),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **_sample_columns(result),
    }


def _sample_columns(result: ProbeResult) -> dict[str, str]:
    """`sample_counts` as JSON `{"1": 12, "2": 7, ...}` and `n_unreadable`, for `sample` rows."""
    if "sample_counts" not in result.extra:
        return {}
    return {"sample_counts": json.dumps(result.extra["sample_counts"]),
            "n_unreadable": str(result.extra.get("n_unreadable", 0))}


def _clean(text: str) -> str:
    """Secrets redacted; a text past `MAX_TEXT_CHARS` as its first and last halves around a marker."""
    text = redact(text or "")
    if len(text) <= MAX_TEXT_CHARS:
        return text
    half = MAX_TEXT_CHARS // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} of {len(text)} characters cut ...]\n{text[-half:]}"


def _encode(row: dict[str, str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([row.get(c, "") for c in COLUMNS])
    return buf.getvalue().encode("utf-8")


class ResultStore:
    """`with ResultStore(path) as store:` holds the lock; `store.rows` maps id -> newest row.
    The file is created with the first row, so a run that fails to start leaves no header-only file
    (one found on opening is removed), nor the folders and lock file it made."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.rows: dict[str, dict[str, str]] = {}
        self._fd: int | None = None
        self._lock_fh = None
        self._made_dirs: list[Path] = []

    @property
    def lock_path(self) -> Path:
        return self.path.parent / (self.path.name + ".lock")

    # -- life cycle ---------------------------------------------------------------------
    def __enter__(self) -> "ResultStore":
        self._made_dirs = [d for d in [self.path.parent, *self.path.parent.parents] if not d.exists()]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock()
            self.rows = self._load()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _lock(self) -> None:
        """Lock `<file>.lock`; it is unlinked on exit, so after locking check that the path still
        names the file we locked (another run may have unlinked it meanwhile) and retry if not."""
        while True:
            fh = open(self.lock_path, "a")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                raise UserError(f"another run is writing {self.path}; wait for it to finish "
                                "or give this run another --results-root") from None
            try:
                same = os.stat(self.lock_path).st_ino == os.fstat(fh.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._lock_fh = fh
                return
            fh.close()

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if not self.rows and self.path.exists() and self.path.read_bytes().count(b"\n") <= 1:
            self.path.unlink()
        if self._lock_fh is not None:
            self.lock_path.unlink(missing_ok=True)  # while still holding it: see `_lock`
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None
        if not self.path.exists():
            for d in self._made_dirs:  # deepest first; stops at the first folder something else uses
                try:
                    d.rmdir()
                except OSError:
                    break
        self._made_dirs = []

    # -- reading ------------------------------------------------------------------------
    def _load(self) -> dict[str, dict[str, str]]:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return {}
        with open(self.path, "rb") as fh:
            header_written = fh.readline().endswith(b"\n")  # the first line alone: the reader reads the rest
        if not header_written:  # killed while writing the header: nothing to resume
            self.path.unlink()
            return {}
        table = read_table(self.path)
        if not table.rows and table.version:  # header only (a failed start), or with a torn first row
            self.path.unlink()
            return {}
        if table.version in (None, 1):  # not ours, or too old to say what its rows were asked under
            raise UserError(header_problem(self.path, list(table.header)))
        rows: dict[str, dict[str, str]] = {}
        for n, row in enumerate(table.rows, start=2):
            problem = row_problem(row)
            if problem:
                raise UserError(f"{self.path}: record {n} ({row['id'] or 'no id'}) {problem}; fix it, "
                                "or delete the row to have its item asked again")
            rows[row["id"]] = row  # the newest row of an id wins
        if table.torn_line is not None or table.header != COLUMNS:
            self._rewrite(list(rows.values()))
        if table.torn_line is not None:
            log.warning("%s: the last row (line %d) was incomplete, cut off mid-row (a full disk or an interrupted "
                        "copy); removed it, and its item is asked again", self.path, table.torn_line)
        return rows

    def finished_ids(self) -> set[str]:
        return {i for i, r in self.rows.items() if status_of(r) == "ok"}

    # -- writing ------------------------------------------------------------------------
    def append(self, row: dict[str, str]) -> None:
        """One whole record, durable before returning (the first creates the file with its header)."""
        assert self._lock_fh is not None, "use ResultStore as a context manager"
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            if os.fstat(self._fd).st_size == 0:
                os.write(self._fd, _encode(dict(zip(COLUMNS, COLUMNS))))
        os.write(self._fd, _encode(row))
        os.fsync(self._fd)
        self.rows[row["id"]] = row

    def compact(self, order: list[str]) -> None:
        """Rewrite with one row per id, ids in `order` first, others after in file order."""
        rank = {i: n for n, i in enumerate(order)}
        rows = sorted(self.rows.values(), key=lambda r: rank.get(r["id"], len(rank)))
        self.rows = {r["id"]: r for r in rows}
        if not rows:
            return  # nothing to write: no file (a header-only one is removed on exit)
        self._rewrite(rows)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def _rewrite(self, rows: list[dict[str, str]]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(_encode(dict(zip(COLUMNS, COLUMNS))))
            for r in rows:
                fh.write(_encode(r))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
