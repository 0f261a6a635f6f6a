"""What the golden check produces: each group's commands on fixed inputs, and which of their outputs count.

Groups: `human` (synthetic WVS Waves 5-7 and the prepared tables), `dryrun` (every grid's prompt
file through both backends' scripts, and the paper study's dry-run table), `bundled` (the bundled
model on the first 10 items, then every analysis of its answers), `demo` (configs/demo.toml end to
end); `release_dryrun` and `release` (the same grids under the release's protocol, and every
analysis of the release's answers) need a clone of the paper's release.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from golden.commands import Command, Context, GoldenError, run, run_all, run_lanes
from golden.files import normalize, normalize_text

TABLES = (".csv", ".md", ".tex", ".txt")  # what an analysis writes that is compared (not figures, logs)
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


def collect(ctx: Context, src: Path, dst: Path) -> None:
    """Normalize one output file into the golden tree."""
    normalize(src, dst, ctx.substitutions())


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
    paper_compat: bool = True  # it accepts --paper-compat (robustness and rq1_groups refuse it)
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
    Analysis("internal_consistency"),  # at fbf3fef its --metric jsd/tvd tables equal the w1 ones
    Analysis("elicitation", SMALL_BOOT, paper_compat=False),  # the paper compared no probe methods
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
            out = figures / f"{a.script}-{name}"
            cmds.append(Command(f"show_results/{a.script}.py", (
                "--results-root", str(root), *h, "--out", str(out),
                "--formats", "png", *common, *a.flags, *(scripts_args or {}).get(a.script, ()), *args),
                refusal=out / "refused.txt"))
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


GROUPS: dict[str, Callable[[Context, Path], None]] = {
    "human": group_human, "dryrun": group_dryrun, "bundled": group_bundled, "demo": group_demo,
    "release_dryrun": group_release_dryrun, "release": group_release,
}
NEEDS_SHARED = ("release_dryrun", "release")
