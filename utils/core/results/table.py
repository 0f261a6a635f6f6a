"""The one reader of `results.csv` files, ours and the release's (docs/results-format.md).

    table = read_table(path)
    table.latest["Q1"]        the newest row of Q1 (a rerun appends; the newest row of an id wins)
    table.spec                what the file was asked under (`RunSpec`), from its rows or its folders

A condition asked in shards has no `results.csv`: `read_complete` reads its `shard-I-of-N/` files
in order as that one file, `shard` emptied, and names missing shards in `missing`.

A killed writer leaves at most a torn last record (no newline, short of fields, an unclosed quote):
`read_table` leaves it out and reports `torn_line`; the analysis refuses the file until it is resumed.
"""
from __future__ import annotations

import ast
import contextlib
import csv
import io
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath

from utils.core.errors import UserError
from utils.core.parsing import parse_distribution
from utils.core.results.schema import NEEDED_COLUMNS, STORE_COLUMNS, header_problem, migrate, row_problem, version_of
from utils.core.results.spec import IDENTITY_COLUMNS, RunSpec, Shard

_FIELD_LIMIT = 1 << 30
SHARD_FOLDER = re.compile(r"shard-(\d+)-of-(\d+)")
_HOW = "rerun the probe for it (it resumes) or move it out of the results root"


@contextlib.contextmanager
def long_fields():
    """Raise csv's field limit (hand-edited files may hold long fields) for one read only: the limit
    is process-wide."""
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, _FIELD_LIMIT))
    try:
        yield
    finally:
        csv.field_size_limit(limit)


@dataclass(frozen=True, eq=False)
class ResultsTable:
    """A results file as read; rows in file order, ours migrated to the current columns."""

    path: Path
    header: tuple[str, ...]
    rows: tuple[dict[str, str], ...]
    version: int | None  # our column generation (1: before identity columns); None for the release's files
    torn_line: int | None = None  # the line a torn last record started on (left out of `rows`)
    lines: tuple[int, ...] = ()  # the line each row starts on, for messages
    folders: tuple[str, ...] = field(default=(), compare=False)  # the file's folders under its results root
    missing: tuple[Path, ...] = ()  # a sharded condition read as one: the files of the shards not there

    @cached_property
    def latest(self) -> dict[str, dict[str, str]]:
        """id -> its newest row (a rerun appends)."""
        return {row["id"]: row for row in self.rows if row.get("id")}

    @cached_property
    def spec(self) -> RunSpec | None:
        return spec_of(self.rows[0] if self.rows else {}, self.folders)

    def problems(self) -> list[str]:
        """`line N (Q1) is 'ok' but ...` for every row of ours that cannot be trusted."""
        if self.version is None:  # the release's files: no rules to check
            return []
        out = []
        for line, row in zip(self.lines, self.rows):
            problem = row_problem(row)
            if problem:
                out.append(f"line {line} ({(row.get('id') or '').strip() or 'no id'}) {problem}")
        return out


def status_of(row: dict[str, str]) -> str:
    """ok, unparsed or error: the one rule. A release row (no `status`) is ok when its answer parses."""
    if "status" in row:
        return row["status"] or "error"
    keys = option_keys(row)
    return "ok" if keys and parse_distribution(row.get("response") or "", keys).ok else "unparsed"


def option_keys(row: dict[str, str]) -> list[str]:
    """"['1', '2']" -> ["1", "2"]: a row's own options, read as a literal, never run; [] if unreadable."""
    try:
        keys = ast.literal_eval(row.get("choice_keys") or "[]")
    except (ValueError, SyntaxError):
        return []
    return [str(k) for k in keys] if isinstance(keys, (list, tuple)) else []


def parse_records(text: str, newline_ends: bool = True) -> tuple[list[list[str]], list[int], int | None]:
    """(records, the line each starts on (a text field may span lines), the line a torn last record
    starts on or None). With `newline_ends` (our files) a last record without a newline was cut.
    Damage before the end is a `csv.Error` ("line N: why"), not a torn tail."""
    records: list[list[str]] = []
    starts: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    end = 0  # the line the last record read ends on
    try:
        with long_fields():
            for rec in reader:
                records.append(rec)
                starts.append(end + 1)
                end = reader.line_num
    except csv.Error as exc:
        if "unexpected end of data" not in str(exc):
            raise csv.Error(f"line {reader.line_num}: {exc}") from None
        return records, starts, end + 1  # an unclosed quote at the end: the cut record was never yielded
    if records and ((newline_ends and not text.endswith("\n"))
                    or (len(records) > 1 and len(records[-1]) != len(records[0]))):
        records.pop()
        return records, starts, starts.pop()
    return records, starts, None


def decode(path: Path, data: bytes) -> str:
    """UTF-8 text of a results file; a multi-byte character cut at the very end is a torn tail."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(data) - 4:
            raise UserError(f"{path} is not a results file (not UTF-8 text, byte {exc.start}); restore it or "
                            "move it away") from None
        return data[: exc.start].decode("utf-8")


def spec_of(first: dict[str, str], folders: tuple[str, ...]) -> RunSpec | None:
    """A file's spec from its first row's identity columns, else (the release's files) from its folders."""
    if first.get("experiment") and first.get("model"):
        return RunSpec.from_row(first)
    found = RunSpec.from_path(folders)
    if found is not None and first.get("method"):  # ours, from before the identity columns
        found = found.replace(method=first["method"])
    return found


def first_row(path: Path) -> dict[str, str]:
    """The first row alone (finding files reads no more); {} for an unreadable file, which reading it describes."""
    try:
        with open(path, newline="", encoding="utf-8") as fh, long_fields():
            return next(csv.DictReader(fh), None) or {}
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}


def read_table(path: Path, root: Path | None = None) -> ResultsTable:
    """`root` (the results root) lets a file without identity columns take its spec from its folders.
    A file that is not a results file is a one-line `UserError`."""
    path = Path(path)
    text = decode(path, path.read_bytes())
    first_line = text.split("\n", 1)[0].rstrip("\r")
    ours = "status" in next(csv.reader([first_line]), [])  # our files: every record ends with a newline
    try:
        records, starts, torn = parse_records(text, newline_ends=ours)
    except csv.Error as exc:  # damage before the end is not a torn tail ("line N: why")
        line, _, why = str(exc).partition(": ")
        raise UserError(f"{path}, {line}: not a valid CSV record ({why}); fix or delete that row "
                        "(its item will be asked again)") from None
    header = tuple(records[0]) if records else ()
    version = version_of(header) or (1 if header == STORE_COLUMNS else None)
    if version is None and not set(NEEDED_COLUMNS) <= set(header) and header:
        raise UserError(header_problem(path, list(header)))
    rows = []
    for rec in records[1:]:
        if len(rec) != len(header):
            raise UserError(f"{path}: record {len(rows) + 2} has {len(rec)} fields, expected {len(header)}; "
                            "fix or delete that row (its item will be asked again)")
        row = dict(zip(header, rec))
        rows.append(migrate(row, version) if version else row)
    folders = PurePosixPath(path.relative_to(root)).parts[:-1] if root is not None else ()
    return ResultsTable(path, header, tuple(rows), version, torn, tuple(starts[1:]), folders)


def shard_paths(path: Path) -> list[Path]:
    """`<folder>/shard-I-of-N/results.csv` for the condition whose file would be `path`, in shard order."""
    folder = Path(path).parent
    if not folder.is_dir():
        return []
    return sorted((p / Path(path).name for p in folder.iterdir() if SHARD_FOLDER.fullmatch(p.name)
                   and (p / Path(path).name).is_file()), key=lambda p: tuple(map(int, SHARD_FOLDER.findall(p.parent.name)[0])))


def ok_ids(path: Path) -> set[str]:
    """The items whose newest row is ok, in `path` or, for a condition asked in shards, in any shard."""
    paths = [Path(path)] if Path(path).is_file() else shard_paths(path)
    return {i for p in paths for i, row in read_table(p).latest.items() if status_of(row) == "ok"}


def missing_shards_line(table: ResultsTable) -> str:
    """"" when no shard is missing."""
    if not table.missing:
        return ""
    names = ", ".join(p.parent.name for p in table.missing)
    return (f"{table.path.parent}: shard(s) {names} missing ({len(table.missing)} of "
            f"{SHARD_FOLDER.fullmatch(table.missing[0].parent.name)[2]}); run them with --shard I/N "
            "(their items count as absent)")


def read_shards(path: Path, shards: list[Path], root: Path | None = None) -> ResultsTable:
    """Each shard is checked as any file is; shards of different counts are a `UserError`."""
    tables = [read_complete(p, root) for p in shards]
    found = {t.path: t.spec.shard for t in tables}
    counts = sorted({s.count for s in found.values() if s is not None})
    if len(counts) != 1 or None in found.values():
        raise UserError(f"{Path(path).parent} holds shards of different counts ({', '.join(map(str, counts))}) or "
                        "files without a shard; keep one --shard I/N count per condition (move the others away)")
    have = {s.index for s in found.values()}
    missing = tuple(Path(path).parent / Shard(i, counts[0]).folder / Path(path).name
                    for i in range(1, counts[0] + 1) if i not in have)
    rows = tuple(row | {"shard": ""} for t in tables for row in t.rows)
    folders = PurePosixPath(Path(path).relative_to(root)).parts[:-1] if root is not None else ()
    table = ResultsTable(Path(path), tables[0].header, rows, tables[0].version, None,
                         tuple(line for t in tables for line in t.lines), folders, missing)
    _refuse_mixed(table)
    return table


def read_complete(path: Path, root: Path | None = None) -> ResultsTable:
    """`read_table` for analysis: an empty, header-only, torn, damaged or mixed file is a one-line
    `UserError` naming it and the row, never scored. A sharded condition reads as one file."""
    if not Path(path).exists():
        shards = shard_paths(path)
        if shards:
            return read_shards(path, shards, root)
    table = read_table(path, root)
    if not table.header:
        raise UserError(f"{path} is empty; {_HOW}")
    if not table.rows:
        raise UserError(f"{path} has a header but no rows; {_HOW}")
    if table.torn_line is not None:
        raise UserError(f"{path}: the last row (line {table.torn_line}) is incomplete, cut off mid-row (a full disk "
                        "or an interrupted copy); rerun the probing command that wrote it, which repairs the file "
                        "and asks that item again")
    problems = table.problems()
    if problems:
        more = f" ({len(problems) - 1} more rows like it)" if len(problems) > 1 else ""
        raise UserError(f"{path}, {problems[0]}: the file was edited by hand or damaged{more}; fix that row, or "
                        "delete it and rerun the probing command to ask its item again")
    _refuse_mixed(table)
    return table


def _refuse_mixed(table: ResultsTable) -> None:
    path = table.path
    mixed = {c: sorted({r.get(c) or "" for r in table.rows}) for c in IDENTITY_COLUMNS
             if c in table.header and c != "seed"}
    mixed = {c: v for c, v in mixed.items() if len(v) > 1}
    if mixed:
        what = "; ".join(f"{c}: {', '.join(x or '(empty)' for x in v)}" for c, v in mixed.items())
        raise UserError(f"{path} mixes conditions ({what}); keep one condition per file "
                        "(move the rows of the others to their own --results-root)")

