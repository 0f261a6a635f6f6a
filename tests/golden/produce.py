#!/usr/bin/env python
"""The golden check: what the command-line interface writes on fixed inputs, normalized and hashed.

A refactor proves that no number moved by producing these outputs again and comparing their
sha256 with `tests/golden/manifest.json` (tests/test_golden.py). Everything is asked of the public
commands as subprocesses (`sys.executable code/RQ1/prob_by_llm.py ...`), never of `utils/`: the
internals are what a refactor rewrites, the commands, flags and output files stay.

    python tests/golden/produce.py --out /tmp/golden                  # every group, into /tmp/golden/<group>/
    python tests/golden/produce.py --out /tmp/golden --only bundled   # one group (repeat --only for more)
    python tests/golden/produce.py --out /tmp/golden --record         # and re-record their manifest entries
    python tests/golden/produce.py --only dryrun --diff fbf3fef       # which files moved since a commit, and how

Groups: `human` (synthetic WVS files and the prepared tables), `dryrun` (the prompt files of every
grid), `bundled` (the bundled model's answers to 10 items and every analysis of them), `demo`
(configs/demo.toml end to end); `release_dryrun` and `release` need a clone of the paper's
release at ../shared/reference/paper-release. Normalization keeps only real changes: volatile
columns dropped, floats written to 10 significant digits, absolute paths replaced by <OUT>,
<REPO> and <SHARED>. Intended changes are listed in tests/golden/CHANGES.md.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = Path(__file__).with_name("manifest.json")
RELEASE = Path("reference") / "paper-release"
GROUPS = ("human", "dryrun", "bundled", "demo", "release_dryrun", "release")
NEEDS_SHARED = ("release_dryrun", "release")

VOLATILE_COLUMNS = frozenset({"latency_s", "finished_at"})  # wall-clock, differ at every run
VOLATILE_KEYS = frozenset({"created"})  # the same in the .meta.json beside a prepared table
TABLES = (".csv", ".md", ".tex", ".txt")  # what an analysis writes that is compared (not figures, logs)
_INT = re.compile(r"[+-]?\d+")
_LONG_FLOAT = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?")

METHODS = ("verbalized", "logprob", "sample")
VARIANTS = ("number", "prob", "order")
PERTURB = ("--perturb", "order:2", "--perturb", "order:reversed", "--perturb", "examples:2",
           "--perturb", "template:2", "--perturb", "labels")
GROUP_STEER = ("--group", "age=18-29", "--group", "sex=female")
GROUP_METHODS = ("persona", "few-shot", "language_persona", "language_few-shot")  # the ones --group allows
BACKENDS = {"api": ("--model_name_or_path", "gpt-4"), "llm": ()}
WAVES = (5, 6, 7)
SYNTHETIC = ("--respondents", "200", "--seed", "0")
MIN_GROUP_N = "50"  # 200 respondents make age groups of about 65; the default 100 would drop them all
SMALL_BOOT = ("--n-boot", "20")


class GoldenError(RuntimeError):
    """A command failed or an input is missing: the outputs are incomplete."""


@dataclass
class Context:
    """Where one production reads (repo, shared) and writes (out), and how it runs commands."""

    repo: Path
    out: Path
    shared: Path | None
    jobs: int = 2
    env: dict[str, str] = field(default_factory=dict)
    log: Callable[[str], None] | None = None  # told each command and its wall time

    @property
    def work(self) -> Path:
        """Raw outputs (results roots, figure folders, human tables); deleted at the end."""
        return self.out / ".work"

    @property
    def release(self) -> Path:
        if self.shared is None or not (self.shared / RELEASE).is_dir():
            raise GoldenError(f"this group needs a clone of the paper's release at {RELEASE} under the shared folder")
        return self.shared / RELEASE

    def substitutions(self) -> list[tuple[str, str]]:
        """Absolute paths and their stand-ins, longest first, so a path inside another is replaced whole."""
        subs = {}
        for path, name in ((self.out, "<OUT>"), (self.repo, "<REPO>"), (self.shared, "<SHARED>")):
            if path is not None:
                subs[str(path)] = name
                subs[str(path.resolve())] = name
        return sorted(subs.items(), key=lambda kv: -len(kv[0]))


# -- running commands -----------------------------------------------------------------------------

def command_env() -> dict[str, str]:
    """The environment of every command: no API keys (the study dry run says whether they are set),
    nothing downloaded, one thread per process (two processes run at once, and a fixed thread count
    keeps float sums in the same order on machines with different core counts)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    return env


@dataclass(frozen=True)
class Command:
    """One command line: a script of the repository and its arguments; stdout kept in `stdout` if given."""

    script: str
    args: tuple[str, ...]
    stdout: Path | None = None


def run(ctx: Context, cmd: Command) -> None:
    argv = [sys.executable, str(ctx.repo / cmd.script), *cmd.args]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=ctx.work, env=ctx.env, capture_output=True, text=True)
    if ctx.log:
        ctx.log(f"  {time.perf_counter() - t0:6.1f} s  {_replace(' '.join(argv[1:]), ctx.substitutions())}")
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise GoldenError(f"exit {proc.returncode}: {' '.join(argv[1:])}\n{tail}")
    if cmd.stdout is not None:
        cmd.stdout.parent.mkdir(parents=True, exist_ok=True)
        cmd.stdout.write_text(proc.stdout, encoding="utf-8")


def run_all(ctx: Context, commands: Iterable[Command]) -> None:
    """Independent commands, `ctx.jobs` at a time."""
    run_lanes(ctx, [[c] for c in commands])


def run_lanes(ctx: Context, lanes: Sequence[Sequence[Command]]) -> None:
    """Lanes run `ctx.jobs` at a time; the commands of one lane in order (they share a folder)."""
    def lane(cmds: Sequence[Command]) -> None:
        for c in cmds:
            run(ctx, c)

    with ThreadPoolExecutor(max_workers=ctx.jobs) as pool:
        for f in [pool.submit(lane, cmds) for cmds in lanes]:
            f.result()


# -- normalization --------------------------------------------------------------------------------

def _replace(text: str, subs: list[tuple[str, str]]) -> str:
    for old, new in subs:
        text = text.replace(old, new)
    return text


def _short_float(match: re.Match) -> str:
    s = match.group(0)
    digits = s.split("e")[0].split("E")[0].lstrip("-").replace(".", "").lstrip("0")
    return format(float(s), ".10g") if len(digits) > 10 else s


def normalize_cell(cell: str, subs: list[tuple[str, str]]) -> str:
    """A float to 10 significant digits (`0.13289485729810` -> `0.1328948573`), an integer as it is;
    in text, absolute paths replaced and floats of more than 10 significant digits (a distribution
    written as JSON) shortened the same way."""
    if not _INT.fullmatch(cell.strip()):
        try:
            return format(float(cell), ".10g")
        except ValueError:
            pass
    return _LONG_FLOAT.sub(_short_float, _replace(cell, subs))


def normalize_csv(src: Path, dst: Path, subs: list[tuple[str, str]]) -> None:
    csv.field_size_limit(2**31 - 1)  # raw replies and parse reports hold long cells
    with open(src, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    keep = [i for i, name in enumerate(rows[0] if rows else []) if name not in VOLATILE_COLUMNS]
    with open(dst, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        for r in rows:  # a row longer or shorter than the header stays so
            w.writerow([normalize_cell(r[i], subs) for i in keep if i < len(r)]
                       + [normalize_cell(c, subs) for c in r[len(rows[0]):]])


def normalize_json(src: Path, dst: Path, subs: list[tuple[str, str]]) -> None:
    def clean(x):
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items() if k not in VOLATILE_KEYS}
        if isinstance(x, list):
            return [clean(v) for v in x]
        if isinstance(x, float):
            return float(format(x, ".10g"))
        return _replace(x, subs) if isinstance(x, str) else x

    data = clean(json.loads(src.read_text(encoding="utf-8")))
    dst.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def normalize_text(src: Path, dst: Path, subs: list[tuple[str, str]]) -> None:
    """Paths only; in place when src is dst (large prompt files are not copied)."""
    text = src.read_text(encoding="utf-8")
    new = _replace(text, subs)
    if src != dst or new != text:
        dst.write_text(new, encoding="utf-8")


def collect(ctx: Context, src: Path, dst: Path) -> None:
    """Normalize one output file into the golden tree."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    subs = ctx.substitutions()
    if src.suffix == ".csv":
        normalize_csv(src, dst, subs)
    elif src.suffix == ".json":
        normalize_json(src, dst, subs)
    else:
        normalize_text(src, dst, subs)


def collect_tables(ctx: Context, folder: Path, dst: Path, names: Iterable[str] = ()) -> int:
    """Every table under folder (or only the files named `names`), normalized into dst."""
    n = 0
    for p in sorted(folder.rglob("*")):
        wanted = p.name in names if names else p.suffix in TABLES
        if p.is_file() and wanted:
            collect(ctx, p, dst / p.relative_to(folder))
            n += 1
    if not n:
        raise GoldenError(f"no tables under {folder}")
    return n


# -- the groups -----------------------------------------------------------------------------------

def human_tables(ctx: Context) -> dict[str, Path]:
    """Synthetic Waves 5-7 and their prepared tables (Wave 7 also with age and sex groups), made
    once per production and shared by every group that scores against people."""
    d = ctx.work / "dataset" / "human"  # where configs/paper.toml finds them, run from the work folder
    tables = {f"WV{w}": d / f"WV{w}.csv" for w in WAVES} | {"WV7_groups": d / "WV7_groups.csv"}
    if all(p.exists() for p in tables.values()):
        return tables
    d.mkdir(parents=True, exist_ok=True)
    run_all(ctx, [Command("dataset/make_synthetic_wvs.py", ("--wave", str(w), "--out", str(d / f"wvs{w}.csv"),
                                                            *SYNTHETIC)) for w in WAVES])
    prepare = [Command("dataset/prepare_wvs.py", ("--wave", str(w), "--input", str(d / f"wvs{w}.csv"),
                                                  "--output", str(tables[f"WV{w}"]))) for w in WAVES]
    prepare.append(Command("dataset/prepare_wvs.py", ("--wave", "7", "--input", str(d / "wvs7.csv"), "--output",
                                                      str(tables["WV7_groups"]), "--groups", "age,sex",
                                                      "--min-group-n", MIN_GROUP_N)))
    run_all(ctx, prepare)
    return tables


def group_human(ctx: Context, dst: Path) -> None:
    tables = human_tables(ctx)
    d = tables["WV7"].parent
    for w in WAVES:
        collect(ctx, d / f"wvs{w}.csv", dst / "synthetic" / f"wvs{w}.csv")
    for name, p in tables.items():
        collect(ctx, p, dst / "prepared" / p.name)
        collect(ctx, p.with_suffix(".meta.json"), dst / "prepared" / f"{name}.meta.json")


def extra_steering_methods(repo: Path) -> list[str]:
    """The steering methods `--steering_method all` leaves out (not the paper's five)."""
    methods = json.loads((repo / "inputs" / "steering" / "methods.json").read_text(encoding="utf-8"))["methods"]
    return [name for name, m in methods.items() if not m.get("paper")]


def dry_run_commands(ctx: Context, dst: Path, release: bool) -> list[Command]:
    """Every grid's --dry-run prompt file, through both backends' scripts, written straight into dst."""
    protocol = ("--protocol", "release", "--release-dir", str(ctx.release)) if release else ()
    cmds = []
    for backend, model in BACKENDS.items():
        (dst / backend).mkdir(parents=True, exist_ok=True)
        rq1, rq2 = f"code/RQ1/prob_by_{backend}.py", f"code/RQ2/prob_by_{backend}.py"

        def add(script: str, name: str, *args: str) -> None:
            cmds.append(Command(script, (*model, *protocol, *args, "--dry-run", str(dst / backend / name))))

        everything = ("--country", "all", "--steering_method", "all")
        if release:  # the release asks and decodes its own way: no --method
            add(rq1, "rq1.jsonl")
            add(rq2, "rq2_all.jsonl", *everything)
        else:
            for m in METHODS:
                add(rq1, f"rq1_{m}.jsonl", "--method", m)
                add(rq2, f"rq2_all_{m}.jsonl", *everything, "--method", m)
                add(rq1, f"perturb_rq1_{m}.jsonl", *PERTURB, "--method", m)
            for sm in extra_steering_methods(ctx.repo):
                add(rq2, f"rq2_{sm}.jsonl", "--country", "all", "--steering_method", sm)
            add(rq2, "perturb_rq2_Japan.jsonl", "--country", "Japan", *PERTURB)
            for sm in GROUP_METHODS:
                add(rq2, f"group_{sm}_Japan.jsonl", "--country", "Japan", "--steering_method", sm, *GROUP_STEER)
        for v in VARIANTS:
            add(rq1, f"variant_{v}.jsonl", "--variant", v)
    return cmds


def normalize_in_place(ctx: Context, folder: Path) -> None:
    """Prompt files are large: their paths are replaced where they lie, not in a copy."""
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            normalize_text(p, p, ctx.substitutions())


def group_dryrun(ctx: Context, dst: Path) -> None:
    human_tables(ctx)  # the study file's relative paths (human tables, outputs) resolve in the work folder
    cmds = dry_run_commands(ctx, dst, release=False)
    cmds.append(Command("code/run_study.py", ("--config", str(ctx.repo / "configs" / "paper.toml"), "--dry-run"),
                        stdout=dst / "run_study_paper_dry_run.txt"))
    run_all(ctx, cmds)
    normalize_in_place(ctx, dst)


def group_release_dryrun(ctx: Context, dst: Path) -> None:
    run_all(ctx, dry_run_commands(ctx, dst, release=True))
    normalize_in_place(ctx, dst)


@dataclass(frozen=True)
class Analysis:
    """One show_results script and the forms it is run in."""

    script: str
    flags: tuple[str, ...] = ()  # speed: small bootstrap and split counts
    paper_compat: bool = True  # it honours --paper-compat
    by: bool = False  # it has a --by GROUPVAR form
    waves: bool = False  # it reads the three waves (rq3)
    groups_table: bool = False  # it always reads the table with groups


ANALYSES = (
    Analysis("rq1_country_level", (*SMALL_BOOT, "--repeats", "2"), by=True),
    Analysis("rq1_model_level", (*SMALL_BOOT, "--repeats", "2")),
    Analysis("rq1_average_human"),
    Analysis("human_alignment_matrix"),
    Analysis("rq2_steering", by=True),
    Analysis("rq3_temporal", waves=True),
    Analysis("sensitivity"),
    Analysis("internal_consistency"),
    Analysis("elicitation", SMALL_BOOT),
    Analysis("robustness", SMALL_BOOT, paper_compat=False),  # it refuses the flag: the paper ran no perturbations
    Analysis("rq1_groups", ("--by", "age", *SMALL_BOOT, "--n-perm", "50"), paper_compat=False, groups_table=True),
)


def analysis_commands(ctx: Context, root: Path, figures: Path, analyses: Sequence[Analysis],
                      common: Sequence[str], extra: dict[str, list[tuple[str, ...]]],
                      scripts_args: dict[str, tuple[str, ...]] | None = None) -> list[Command]:
    """Each analysis in its default form (w1), --metric jsd and tvd, --paper-compat where honoured,
    --by age where offered, and the `extra` forms; each into its own folder under figures."""
    tables = human_tables(ctx)
    cmds = []
    for a in analyses:
        if a.waves:
            human = ("--human", *(str(tables[f"WV{w}"]) for w in WAVES))
        else:
            human = ("--human", str(tables["WV7_groups" if a.groups_table else "WV7"]))
        forms = [("w1", ()), ("jsd", ("--metric", "jsd")), ("tvd", ("--metric", "tvd"))]
        if a.paper_compat:
            forms.append(("paper_compat", ("--paper-compat",)))
        if a.by:
            forms.append(("by_age", ("--by", "age")))
        forms += [("_".join(f.lstrip("-").replace("-", "_") for f in args), args) for args in extra.get(a.script, [])]
        for name, args in forms:
            h = ("--human", str(tables["WV7_groups"])) if name == "by_age" else human
            cmds.append(Command(f"show_results/{a.script}.py", (
                "--results-root", str(root), *h, "--out", str(figures / f"{a.script}-{name}"),
                "--formats", "png", *common, *a.flags, *(scripts_args or {}).get(a.script, ()), *args)))
    return cmds


def collect_results(ctx: Context, root: Path, dst: Path) -> None:
    collect_tables(ctx, root, dst, names=("results.csv",))


def group_bundled(ctx: Context, dst: Path) -> None:
    """The bundled model on the first 10 items, then every analysis of its answers."""
    lp, sp = ctx.work / "bundled" / "logprob", ctx.work / "bundled" / "sample"
    rq1, rq2 = "code/RQ1/prob_by_llm.py", "code/RQ2/prob_by_llm.py"
    base = ("--limit", "10", "--quiet")
    logprob = (*base, "--method", "logprob", "--results-root", str(lp))
    japan = ("--country", "Japan")
    # Lanes run side by side; a lane's commands share results folders (the perturbed run's
    # original-prompt member is RQ1's own folder), so they run in order.
    run_lanes(ctx, [
        [Command(rq1, logprob),
         Command(rq1, (*logprob, "--perturb", "order:2", "--perturb", "labels")),
         Command(rq1, (*logprob, "--variant", "order"))],
        [Command(rq1, (*base, "--method", "sample", "--samples", "4", "--max-new-tokens", "24",
                       "--results-root", str(sp))),
         Command(rq2, (*logprob, *japan, "--steering_method", "persona")),
         Command(rq2, (*logprob, *japan, "--steering_method", "few-shot")),
         Command(rq2, (*logprob, *japan, "--steering_method", "persona", "--group", "age=18-29"))],
    ])
    collect_results(ctx, lp, dst / "results" / "logprob")
    collect_results(ctx, sp, dst / "results" / "sample")
    figures = ctx.work / "bundled" / "figures"
    cmds = analysis_commands(ctx, lp, figures, ANALYSES, ("--min-coverage", "0"), extra={},
                             scripts_args={"elicitation": ("--compare", str(lp), str(sp))})
    cmds += [Command("show_results/parse_report.py", ("--results-root", str(root), "--out",
                                                      str(figures / f"parse_report-{name}" / "parse_report.csv")))
             for name, root in (("logprob", lp), ("sample", sp))]
    run_all(ctx, cmds)
    collect_tables(ctx, figures, dst / "figures")


# The release holds RQ1, RQ2 and sensitivity answers of one probe method and no perturbations:
# elicitation and robustness have nothing to compare there, and rq2_steering --by no group runs.
RELEASE_ANALYSES = tuple(replace(a, by=a.by and a.script != "rq2_steering")
                         for a in ANALYSES if a.script not in ("elicitation", "robustness"))
RELEASE_EXTRA = {  # a few flags of single scripts, where the release's full answers make them meaningful
    "rq1_country_level": [("--weights", "survey"), ("--drop-nonsubstantive",)],
    "rq2_steering": [("--test", "ind", "--correction", "holm")],
    "rq3_temporal": [("--select", "aligned")],
}


def group_release(ctx: Context, dst: Path) -> None:
    """Every analysis of the paper's released answers, against the synthetic tables."""
    root = ctx.release / "results"
    figures = ctx.work / "release" / "figures"
    cmds = analysis_commands(ctx, root, figures, RELEASE_ANALYSES, (), extra=RELEASE_EXTRA)
    cmds.append(Command("show_results/parse_report.py", ("--results-root", str(root), "--out",
                                                         str(figures / "parse_report" / "parse_report.csv"))))
    run_all(ctx, cmds)
    collect_tables(ctx, figures, dst / "figures")


def group_demo(ctx: Context, dst: Path) -> None:
    """configs/demo.toml through code/run_study.py, from the work folder, where its relative
    output paths (runs/demo/...) resolve."""
    run(ctx, Command("code/run_study.py", ("--config", str(ctx.repo / "configs" / "demo.toml"))))
    d = ctx.work / "runs" / "demo"
    collect_results(ctx, d / "results", dst / "results")
    collect_tables(ctx, d / "figures", dst / "figures")


GROUP_FUNCTIONS: dict[str, Callable[[Context, Path], None]] = {
    "human": group_human, "dryrun": group_dryrun, "bundled": group_bundled, "demo": group_demo,
    "release_dryrun": group_release_dryrun, "release": group_release,
}


# -- producing, hashing, comparing ----------------------------------------------------------------

def default_shared(repo: Path = ROOT) -> Path | None:
    shared = repo.parent / "shared"
    return shared if (shared / RELEASE).is_dir() else None


def produce(out_dir: Path, groups: Sequence[str], shared: Path | None = None, *, repo: Path = ROOT,
            jobs: int = 2, keep_work: bool = False, log: Callable[[str], None] | None = None,
            verbose: bool = False) -> dict[str, float]:
    """Write every golden output of `groups`, normalized, under out_dir/<group>/; return each
    group's wall time in seconds. `shared` holds reference/paper-release (needed by the
    release groups); `repo` is the checkout whose commands run (another worktree for --diff)."""
    unknown = [g for g in groups if g not in GROUP_FUNCTIONS]
    if unknown:
        raise GoldenError(f"unknown group(s) {unknown}; choose from {', '.join(GROUPS)}")
    out_dir = Path(out_dir).absolute()
    ctx = Context(repo=Path(repo).absolute(), out=out_dir, shared=Path(shared).absolute() if shared else None,
                  jobs=jobs, env=command_env(), log=log if verbose else None)
    ctx.work.mkdir(parents=True, exist_ok=True)
    times = {}
    try:
        for g in groups:
            dst = out_dir / g
            if dst.exists():
                shutil.rmtree(dst)
            dst.mkdir(parents=True)
            t0 = time.perf_counter()
            GROUP_FUNCTIONS[g](ctx, dst)
            times[g] = time.perf_counter() - t0
            if log:
                log(f"{g}: {sum(1 for p in dst.rglob('*') if p.is_file())} files in {times[g]:.1f} s")
    finally:
        if not keep_work:
            shutil.rmtree(ctx.work, ignore_errors=True)
    return times


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


def load_manifest(path: Path = MANIFEST) -> dict[str, str]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def in_group(key: str, group: str) -> bool:
    return key.split("/", 1)[0] == group


def compare(expected: dict[str, str], actual: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """Missing, extra and changed files (manifest keys)."""
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    changed = sorted(k for k in set(expected) & set(actual) if expected[k] != actual[k])
    return missing, extra, changed


def record(out_dir: Path, groups: Sequence[str], path: Path = MANIFEST) -> dict[str, str]:
    """Replace the manifest entries of groups by the files produced now; other groups' stay."""
    manifest = {k: v for k, v in load_manifest(path).items() if not any(in_group(k, g) for g in groups)}
    manifest.update(hashes(out_dir, groups))
    path.write_text(json.dumps(dict(sorted(manifest.items())), indent=1) + "\n", encoding="utf-8")
    return manifest


def first_differences(old: Path, new: Path, limit: int = 3, width: int = 200) -> list[str]:
    """The first `limit` lines that differ, each cut to `width` characters around where it differs."""
    lines = []
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
                cut = lambda s: ("..." if start else "") + s[start:start + width].rstrip("\n")  # noqa: E731
                lines += [f"  line {n}:", f"  - {cut(x)}" if x else "  - (no line)", f"  + {cut(y)}" if y else
                          "  + (no line)"]
    return lines


def diff_trees(old_dir: Path, new_dir: Path, groups: Sequence[str]) -> list[str]:
    """A readable account of what differs between two productions (old: the commit, new: here)."""
    missing, extra, changed = compare(hashes(old_dir, groups), hashes(new_dir, groups))
    report = [f"only at the commit: {k}" for k in missing] + [f"only here: {k}" for k in extra]
    for k in changed:
        report.append(f"differs: {k}")
        report += first_differences(old_dir / k, new_dir / k)
    return report


def diff(commit: str, groups: Sequence[str], shared: Path | None, jobs: int = 2) -> int:
    """Produce groups at `commit` (a temporary git worktree, with this file's commands) and here;
    print which files differ and how. Returns 0 when nothing differs, 1 otherwise."""
    tmp = Path(tempfile.mkdtemp(prefix="golden-diff-"))
    tree = tmp / "tree"
    added = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(tree), commit],
                           capture_output=True, text=True)
    if added.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise GoldenError(f"cannot check out {commit!r}: {added.stderr.strip()}")
    try:
        for label, repo, out in ((commit, tree, "old"), ("the working tree", ROOT, "new")):
            print(f"producing {', '.join(groups)} at {label} ...", flush=True)
            produce(tmp / out, groups, shared, repo=repo, jobs=jobs, log=lambda s: print(f"  {s}", flush=True))
        report = diff_trees(tmp / "old", tmp / "new", groups)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n".join(report) if report else f"no differences from {commit} in {', '.join(groups)}")
    return 1 if report else 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="folder to write <group>/... into (required unless --diff)")
    ap.add_argument("--only", action="append", choices=GROUPS, metavar="GROUP",
                    help=f"produce this group only; repeat for several ({', '.join(GROUPS)}; default all)")
    ap.add_argument("--record", action="store_true", help="rewrite these groups' entries of tests/golden/manifest.json")
    ap.add_argument("--diff", metavar="COMMIT", help="produce the groups at COMMIT and here, and print what differs")
    ap.add_argument("--shared", type=Path, default=default_shared(),
                    help="folder holding reference/paper-release (default ../shared when present)")
    ap.add_argument("--jobs", type=int, default=2, help="commands run at once (default 2)")
    ap.add_argument("--keep-work", action="store_true", help="keep the raw outputs under <out>/.work")
    ap.add_argument("--verbose", action="store_true", help="print every command and its wall time")
    args = ap.parse_args(argv)
    groups = args.only or [g for g in GROUPS if g not in NEEDS_SHARED or args.shared]
    if args.shared is None and (skipped := [g for g in GROUPS if g in NEEDS_SHARED and not args.only]):
        print(f"no clone of the paper's release found: leaving out {', '.join(skipped)}", file=sys.stderr)
    try:
        if args.diff:
            return diff(args.diff, groups, args.shared, args.jobs)
        if args.out is None:
            ap.error("--out is required unless --diff")
        times = produce(args.out, groups, args.shared, jobs=args.jobs, keep_work=args.keep_work, log=print,
                        verbose=args.verbose)
        if args.record:
            n = sum(1 for k in record(args.out, groups) if any(in_group(k, g) for g in groups))
            print(f"recorded {n} files of {', '.join(groups)} in {MANIFEST.relative_to(ROOT)}")
        print(f"total {sum(times.values()):.1f} s")
    except GoldenError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
