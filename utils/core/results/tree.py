"""Finding the results files under a results root, each with what it was asked under.

    RQ1/<model>/results.csv                                 our runs and the release's
    RQ2/<method>/<country>/[<var>=<group>/]<model>/results.csv
    Discussion/sensitivity/<variant>/<model>/results.csv
    Robustness/<any of the above>/<member>/<model>/...      `--perturb`
    Repeats/<any of the above>/repeat-<r>/<model>/...       `--repeats`
    Surveys/<survey>/[wave-<w>/]<any of the above>          an imported survey (`--survey`)
    runs/<NAME>/...                                         a named run (`--run-name`): left out
    <any of the above>/shard-<i>-of-<n>/results.csv         one shard (`--shard I/N`) of the condition

`<model>` may span folders (`Qwen/Qwen2.5-72B-Instruct`). A file of ours says what it is in its
first row, the release's by their folders. A named run is a results root of its own, never walked
into from the root above, where it would be a second file for the same model and condition.
A sharded condition is found once, as its folder's `results.csv` (read from the shards).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from utils.core.errors import UserError
from utils.core.results.spec import WVS, RunSpec
from utils.core.results.table import ResultsTable, first_row, read_complete, spec_of

NAMED_RUNS = "runs"  # `<results-root>/runs/<NAME>`: a run given its own folder with --run-name


@dataclass(frozen=True)
class ResultsFile:
    path: Path
    spec: RunSpec
    root: Path

    def read(self) -> ResultsTable:
        return read_complete(self.path, self.root)


def named_run(root: Path, name: str | None) -> Path:
    """`root`, or `<root>/runs/<name>` for `--run-name NAME`."""
    root = Path(root)
    if not name:
        return root
    if name in (".", "..") or "/" in name or "\\" in name or not name.strip():
        raise UserError(f"--run-name {name!r} must be one folder name, e.g. verbalized-t07")
    return root / NAMED_RUNS / name


def describe(path: Path, root: Path) -> ResultsFile | None:
    spec = spec_of(first_row(path), PurePosixPath(path.relative_to(root)).parts[:-1])
    return None if spec is None else ResultsFile(path, spec, root)


def result_paths(root: Path, name: str = "results.csv") -> list[Path]:
    """Every `name` under `root` ([] if not a folder), named runs left out."""
    root = Path(root)
    if not root.is_dir():
        return []
    return [p for p in sorted(root.rglob(name)) if p.relative_to(root).parts[0] != NAMED_RUNS]


def find_results(root: Path, survey: str | None = WVS) -> list[ResultsFile]:
    """Every results file under `root` that asked `survey` (None: any), shards as one, named runs left out."""
    found = (describe(p, Path(root)) for p in result_paths(root))
    return whole([f for f in found if f is not None and (survey is None or f.spec.survey == survey)])


def whole(files: list[ResultsFile]) -> list[ResultsFile]:
    """Each condition's shards as one file, its spec without the shard. A condition with both its own
    file and shards is a `UserError`: the same items would be counted twice."""
    out: list[ResultsFile] = []
    seen: dict[Path, ResultsFile] = {}
    for f in files:
        if f.spec.shard is None:
            out.append(f)
            continue
        one = ResultsFile(f.path.parent.parent / f.path.name, f.spec.replace(shard=None), f.root)
        if one.path not in seen:
            seen[one.path] = one
            out.append(one)
    for f in out:
        if f.path in seen and f is not seen[f.path]:
            raise UserError(f"{f.path} and shard files beside it ({f.path.parent}/shard-*) hold the same "
                            "condition; keep the whole file or the shards, and move the other away")
    return out


def one_per_condition(files: list[ResultsFile], probe_method: str | None = None) -> list[ResultsFile]:
    """Keep `probe_method`'s files (None: all); two files with one `RunSpec.key` are a `UserError`,
    as they would be scored as one model twice."""
    if probe_method:
        found = sorted({f.spec.method for f in files})
        files = [f for f in files if f.spec.method == probe_method]
        if found and not files:
            raise UserError(f"no results by probe method {probe_method} (found {', '.join(found)}); "
                            "choose one of those with --probe-method")
    seen: dict[tuple, ResultsFile] = {}
    for f in files:
        other = seen.setdefault(f.spec.key(), f)
        if other is f:
            continue
        if other.spec.method != f.spec.method:
            raise UserError(f"{f.spec.model} has {f.spec.experiment} results by more than one probe method "
                            f"({other.spec.method}: {other.path}; {f.spec.method}: {f.path}); "
                            "choose one with --probe-method")
        raise UserError(f"two results files for {f.spec.model} in the same condition: {other.path} and {f.path}; "
                        "move one out of the results root")
    return files
