"""Golden files: normalized so that only real changes count, hashed, and compared.

Normalization: a CSV loses its wall-clock columns and writes every float to 10 significant digits
(last-bit noise from a changed summation order does not count, any real change does); every text
has its absolute paths replaced by <OUT>, <REPO> and <SHARED>; JSON (a prepared table's
.meta.json) loses its creation time.

    >>> normalize_cell("0.13289485729810480", [])
    '0.1328948573'
    >>> normalize_cell('{"1": 0.1328948572981048, "2": 0.25}', [("/tmp/x", "<OUT>")])
    '{"1": 0.1328948573, "2": 0.25}'
    >>> normalize_cell("/tmp/x/WV7.csv", [("/tmp/x", "<OUT>")]), normalize_cell("12", [])
    ('<OUT>/WV7.csv', '12')
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

Substitutions = Sequence[tuple[str, str]]  # (absolute path, stand-in), longest first

VOLATILE_COLUMNS = frozenset({"latency_s", "finished_at"})  # wall-clock, differ at every run
VOLATILE_KEYS = frozenset({"created"})  # the same in the .meta.json beside a prepared table
_INT = re.compile(r"[+-]?\d+")
_LONG_FLOAT = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?")


def replace_paths(text: str, subs: Substitutions) -> str:
    for old, new in subs:
        text = text.replace(old, new)
    return text


def _short_float(match: re.Match) -> str:
    s = match.group(0)
    digits = re.split("[eE]", s)[0].lstrip("-").replace(".", "").lstrip("0")
    return format(float(s), ".10g") if len(digits) > 10 else s


def normalize_cell(cell: str, subs: Substitutions) -> str:
    """A float to 10 significant digits, an integer as it is; in text, paths replaced and floats of
    more than 10 significant digits (a distribution written as JSON) shortened the same way."""
    if not _INT.fullmatch(cell.strip()):
        try:
            return format(float(cell), ".10g")
        except ValueError:
            pass
    return _LONG_FLOAT.sub(_short_float, replace_paths(cell, subs))


def normalize_csv(src: Path, dst: Path, subs: Substitutions) -> None:
    csv.field_size_limit(2**31 - 1)  # raw replies and parse reports hold long cells
    with open(src, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    keep = [i for i, name in enumerate(rows[0] if rows else []) if name not in VOLATILE_COLUMNS]
    with open(dst, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        for r in rows:  # a row longer or shorter than the header stays so
            w.writerow([normalize_cell(r[i], subs) for i in keep if i < len(r)]
                       + [normalize_cell(c, subs) for c in r[len(rows[0]):]])


def normalize_json(src: Path, dst: Path, subs: Substitutions) -> None:
    def clean(x):
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items() if k not in VOLATILE_KEYS}
        if isinstance(x, list):
            return [clean(v) for v in x]
        if isinstance(x, float):
            return float(format(x, ".10g"))
        return replace_paths(x, subs) if isinstance(x, str) else x

    data = clean(json.loads(src.read_text(encoding="utf-8")))
    dst.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def normalize_text(src: Path, dst: Path, subs: Substitutions) -> None:
    """Paths only; in place when src is dst (large prompt files are not copied)."""
    text = src.read_text(encoding="utf-8")
    new = replace_paths(text, subs)
    if src != dst or new != text:
        dst.write_text(new, encoding="utf-8")


def normalize(src: Path, dst: Path, subs: Substitutions) -> None:
    """One output file into the golden tree, by its kind."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    {".csv": normalize_csv, ".json": normalize_json}.get(src.suffix, normalize_text)(src, dst, subs)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def hashes(out_dir: Path, groups: Sequence[str]) -> dict[str, str]:
    """{"<group>/<relative path>": sha256} of every file produced for groups."""
    found = {}
    for g in groups:
        for p in sorted((Path(out_dir) / g).rglob("*")):
            if p.is_file():
                found[p.relative_to(out_dir).as_posix()] = sha256(p)
    return found


def compare(expected: dict[str, str], actual: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """Missing, extra and changed files (manifest keys)."""
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    changed = sorted(k for k in set(expected) & set(actual) if expected[k] != actual[k])
    return missing, extra, changed


def first_differences(old: Path, new: Path, limit: int = 3, width: int = 200) -> list[str]:
    """The first `limit` lines that differ, each cut to `width` characters around where it differs."""
    lines: list[str] = []
    with open(old, encoding="utf-8", errors="replace") as a, open(new, encoding="utf-8", errors="replace") as b:
        n = 0
        while len(lines) < 3 * limit:
            x, y = a.readline(), b.readline()
            n += 1
            if not x and not y:
                break
            if x != y:
                at = next((i for i, (c, d) in enumerate(zip(x, y)) if c != d), min(len(x), len(y)))
                start = max(0, at - width // 4)

                def cut(s: str) -> str:
                    return ("..." if start else "") + s[start:start + width].rstrip("\n") if s else "(no line)"

                lines += [f"  line {n}:", f"  - {cut(x)}", f"  + {cut(y)}"]
    return lines


def diff_trees(old_dir: Path, new_dir: Path, groups: Sequence[str]) -> list[str]:
    """A readable account of what differs between two productions (old: the commit, new: here)."""
    missing, extra, changed = compare(hashes(old_dir, groups), hashes(new_dir, groups))
    report = [f"only at the commit: {k}" for k in missing] + [f"only here: {k}" for k in extra]
    for k in changed:
        report.append(f"differs: {k}")
        report += first_differences(old_dir / k, new_dir / k)
    return report
