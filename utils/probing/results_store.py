"""Append-only, crash-safe storage of probe results in `results.csv`, plus `run_meta.json`.

Why this shape: a study run takes hours. Each finished item is written as one complete CSV
record with a single `os.write` on an `O_APPEND` descriptor and fsynced, so a process killed at
any moment leaves every reported row on disk and at most a torn tail, which the next open cuts
off. A rerun reads the file, skips items whose last row is `ok`, and asks the rest again; the
newest row for an id wins. At the end of a run the file is rewritten (atomically, via a
temporary file) with one row per id in questionnaire order. A lock file stops two runs from
writing the same results at once.

Columns: the original release's `id, question, choices, choice_keys, answer, type, response`
followed by ours (see `COLUMNS`); `distribution` is JSON `{"1": 0.25, ...}` over the item's codes.

Two guards on what is written: text columns longer than `MAX_TEXT_CHARS` keep their first and
last halves around a marker (a runaway answer of megabytes would otherwise make every later
read of the file slow or fail; the answer is parsed before it is stored, on the full text), and
every secret the run knows (`register_secret`, plus environment variables named like
`*_API_KEY`, `*_TOKEN`, `*_SECRET`, `*_PASSWORD`) is replaced by `[redacted]` (`redact`), in case
a server echoes the key back in an error message.
"""
from __future__ import annotations

import csv
import fcntl
import io
import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path

from utils.core.errors import UserError
from utils.core.records import ProbeResult, SurveyItem
from utils.core.secrets import redact

PAPER_COLUMNS = ["id", "question", "choices", "choice_keys", "answer", "type", "response"]
COLUMNS = PAPER_COLUMNS + ["distribution", "method", "status", "attempts", "raw_text", "error",
                           "latency_s", "prompt_tokens", "completion_tokens", "finished_at"]
STATUSES = ("ok", "unparsed", "error")
MAX_TEXT_CHARS = 100_000  # per text column; below the csv module's default field limit (131,072)

def cap_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """`text` if short enough, else its first and last `limit // 2` characters around a marker."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} of {len(text)} characters cut ...]\n{text[-half:]}"


def result_row(item: SurveyItem, result: ProbeResult, method: str) -> dict[str, str]:
    """One CSV row; list columns use Python list syntax as in the paper's files."""
    return {
        "id": item.id, "question": item.question, "choices": repr(list(item.choices)),
        "choice_keys": repr(list(item.choice_keys)), "answer": item.answer, "type": item.type,
        "response": _clean(result.response),
        "distribution": json.dumps(result.distribution) if result.distribution is not None else "",
        "method": method, "status": result.status, "attempts": str(result.attempts),
        "raw_text": _clean(result.raw_text), "error": _clean(result.error), "latency_s": f"{result.latency_s:.3f}",
        "prompt_tokens": str(result.prompt_tokens), "completion_tokens": str(result.completion_tokens),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _clean(text: str) -> str:
    return cap_text(redact(text or ""))


def _encode(row: dict[str, str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([row.get(c, "") for c in COLUMNS])
    return buf.getvalue().encode("utf-8")


class ResultStore:
    """`with ResultStore(path) as store:` holds the lock; `store.rows` maps id -> newest row."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.rows: dict[str, dict[str, str]] = {}
        self._fd: int | None = None
        self._lock_fh = None

    # -- life cycle ---------------------------------------------------------------------
    def __enter__(self) -> "ResultStore":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fh = open(self.path.parent / (self.path.name + ".lock"), "w")
        try:
            fcntl.flock(self._lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_fh.close()
            raise UserError(f"another run is writing {self.path}; wait for it to finish "
                            "or give this run another --results-root") from None
        self.rows = self._load()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if os.fstat(self._fd).st_size == 0:
            os.write(self._fd, _encode(dict(zip(COLUMNS, COLUMNS))))
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    # -- reading ------------------------------------------------------------------------
    def _load(self) -> dict[str, dict[str, str]]:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return {}
        data = self.path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(data) - 4:  # a cut multi-byte char at the very end is a torn tail
                raise UserError(f"{self.path} is not UTF-8 (byte {exc.start}); restore it or move it away") from None
            text = data[: exc.start].decode("utf-8")
        records: list[list[str]] = []
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        try:
            records.extend(reader)
            # a last record without its newline, or short of fields, was cut short
            torn = not text.endswith("\n") or (len(records) > 1 and len(records[-1]) != len(COLUMNS))
            if torn:
                records.pop()
        except csv.Error as exc:
            if "unexpected end of data" not in str(exc):  # damage before the end is not a torn tail
                raise UserError(f"{self.path}, line {reader.line_num}: not a valid CSV record ({exc}); "
                                "fix or delete that row (its item will be asked again)") from None
            torn = True  # an unclosed quote at the end: the cut record was never yielded
        if not records and torn:  # killed while writing the header
            self._rewrite([])
            return {}
        if not records or records[0] != COLUMNS:
            raise UserError(f"{self.path} does not have this toolkit's columns; move it away "
                            "or pass another --results-root (parse_report.py reads the paper's files)")
        body = records[1:]
        rows: dict[str, dict[str, str]] = {}
        for n, rec in enumerate(body, start=2):
            if len(rec) != len(COLUMNS):
                raise UserError(f"{self.path}: record {n} has {len(rec)} fields, expected {len(COLUMNS)}; "
                                "fix or delete that row (its item will be asked again)")
            row = dict(zip(COLUMNS, rec))
            problem = _row_problem(row)
            if problem:
                raise UserError(f"{self.path}: record {n} ({row['id'] or 'no id'}) {problem}; fix it, "
                                "or delete the row to have its item asked again")
            rows[row["id"]] = row
        if torn:
            self._rewrite(list(rows.values()))
        return rows

    def finished_ids(self) -> set[str]:
        return {i for i, r in self.rows.items() if r["status"] == "ok"}

    # -- writing ------------------------------------------------------------------------
    def append(self, row: dict[str, str]) -> None:
        """Write one whole record and make it durable before returning."""
        assert self._fd is not None, "use ResultStore as a context manager"
        os.write(self._fd, _encode(row))
        os.fsync(self._fd)
        self.rows[row["id"]] = row

    def compact(self, order: list[str]) -> None:
        """Rewrite with one row per id, ids in `order` first, others after in file order."""
        rank = {i: n for n, i in enumerate(order)}
        rows = sorted(self.rows.values(), key=lambda r: rank.get(r["id"], len(rank)))
        self.rows = {r["id"]: r for r in rows}
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


def _row_problem(row: dict[str, str]) -> str:
    """Why a stored row cannot be trusted (a hand edit gone wrong), or "" if it can."""
    if not row["id"].strip():
        return "has no id"
    if row["status"] not in STATUSES:
        return f"has status {row['status']!r}, not one of {', '.join(STATUSES)}"
    if row["status"] != "ok":
        return ""
    try:
        dist = json.loads(row["distribution"])
        values = list(dist.values()) if isinstance(dist, dict) else None
    except (ValueError, TypeError):
        values = None
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
                             for v in values):
        return "is 'ok' but its distribution is not a JSON mapping of option codes to probabilities"
    if abs(sum(values) - 1.0) > 0.01:
        return f"is 'ok' but its distribution sums to {sum(values):.4g}, not 1"
    return ""


def write_run_meta(path: Path, meta: dict) -> None:
    tmp = Path(path).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
