"""What a results tree holds, per results file: items planned, ok, unparsed, error, missing.

The paper's layout may sit one or more folders under the root (`logprob/RQ1/<model>/...`, a study's
tree per probe method); those folders are kept as `tree`.

    >>> [(c.tree, c.experiment, c.condition, c.ok) for c in tree_coverage(root)]   # doctest: +SKIP
    [('logprob', 'RQ1', 'RQ1', 24), ('logprob', 'RQ2', 'persona/Japan', 24)]

A sharded condition has a row per shard's file (`RQ1 [shard-1-of-2]`) and per missing shard
(`present` False, noted as the analyses note it): its items are in no file, so no count shows them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from utils.core.errors import UserError
from utils.core.results.table import missing_shards_line, read_complete, read_table, status_of
from utils.core.results.tree import ResultsFile, describe, result_paths
from utils.report.run_info import read_meta

ANCHORS = ("RQ1", "RQ2", "Discussion")


@dataclass
class FileCoverage:
    tree: str  # folders between the root and the paper's layout ("" when none)
    experiment: str
    condition: str  # "RQ1", "persona/Japan", "sensitivity number"
    model: str
    planned: int | None  # run_meta.json's n_items
    rows: int = 0
    ok: int = 0
    unparsed: int = 0
    error: int = 0
    note: str = ""
    present: bool = True  # False: a shard of a sharded condition with no file

    @property
    def missing(self) -> int:
        return max((self.planned or 0) - self.rows, 0)


def _locate(path: Path, root: Path) -> tuple[str, ResultsFile] | None:
    parts = path.relative_to(root).parts
    for i, p in enumerate(parts[:-1]):
        if p in ANCHORS:
            base = root.joinpath(*parts[:i])
            found = describe(path, base)
            if found is not None:
                return "/".join(parts[:i]), found
    return None


def read_counts(path: Path) -> tuple[dict[str, int], str]:
    """(status counts of the newest row per id, a note if unreadable)."""
    counts = {"ok": 0, "unparsed": 0, "error": 0}
    try:
        rows = read_table(path).latest
    except (OSError, UserError) as exc:
        return counts, f"unreadable: {exc}"
    for r in rows.values():
        status = status_of(r)
        counts[status if status in counts else "error"] += 1
    return counts, ""


def tree_coverage(root: Path) -> list[FileCoverage]:
    root = Path(root)
    out = []
    sharded: dict[Path, tuple] = {}  # a sharded condition's own file -> (tree, spec, condition)
    for path in result_paths(root):
        located = _locate(path, root)
        if located is None:
            continue
        tree, found = located
        spec = found.spec
        planned = (read_meta(path.parent / "run_meta.json") or {}).get("n_items")
        counts, note = read_counts(path)
        rq2 = f"{spec.steering}/{spec.country}" + (f"/{'='.join(spec.group)}" if spec.group else "")  # --group runs
        condition = {"RQ1": "RQ1", "RQ2": rq2}.get(spec.experiment, f"variant {spec.variant}")
        condition += f" [{spec.prompt}]" if spec.prompt else ""  # --perturb / --repeats: its own file
        if spec.shard is not None:
            sharded.setdefault(path.parent.parent / path.name, (tree, spec, condition))
            condition += f" [{spec.shard.folder}]"
        out.append(FileCoverage(tree, str(spec.experiment), condition, spec.model, planned, sum(counts.values()),
                                note=note, **counts))
    out += [row for whole, found in sharded.items() for row in missing_shards(whole, *found)]
    order = {"RQ1": 0, "RQ2": 1, "sensitivity": 2}
    return sorted(out, key=lambda c: (c.tree, c.model, order.get(c.experiment, 3), c.condition))


def missing_shards(whole: Path, tree: str, spec, condition: str) -> list[FileCoverage]:
    """A row per missing shard; shards that cannot be put together are one row saying why."""
    try:
        table = read_complete(whole)
    except (OSError, UserError) as exc:
        return [FileCoverage(tree, str(spec.experiment), f"{condition} [shards]", spec.model, None,
                             note=f"unreadable: {exc}", present=False)]
    line = missing_shards_line(table)
    return [FileCoverage(tree, str(spec.experiment), f"{condition} [{p.parent.name}]", spec.model, None, note=line,
                         present=False) for p in table.missing]
