"""Run a whole study from one TOML file: every probe, every analysis, one report.

    python code/run_study.py --config configs/demo.toml             # the bundled model, a few minutes
    python code/run_study.py --config configs/paper.toml --dry-run   # prompts, tokens, cost, inputs; nothing sent

Resumable: run the same command again after a stop and it continues where it stopped; a finished
study runs again without asking any model anything. Before the first request it checks every
input (human tables, model files, API keys) and stops while one is missing (--ask-anyway goes on).
See utils/study/study_file.py for the file.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
from utils.core.flag_parser import FlagParser  # noqa: E402
from utils.core.logs import log_to_stderr  # noqa: E402
from utils.core.results.spec import Shard  # noqa: E402
from utils.probing.cli import main_guard  # noqa: E402


@main_guard  # a UserError is one line (exit 2); Ctrl-C and SIGTERM keep finished rows and say how to resume
def main(argv: list[str] | None = None) -> int:
    ap = FlagParser(description=__doc__.splitlines()[0])  # the probing scripts' parser: one-line errors, "did you mean"
    ap.add_argument("--config", type=Path, required=True, help="the study file (TOML), e.g. configs/demo.toml")
    ap.add_argument("--dry-run", action="store_true",
                    help="print per model and experiment the prompts, an estimate of prompt tokens and the cost "
                         "where the study gives prices, and every input the study needs (human tables, model "
                         "files, API keys: set or not) with the missing ones marked; loads and sends nothing, "
                         "needs no keys")
    ap.add_argument("--ask-anyway", action="store_true",
                    help="ask the models even though some input is missing (a human table, a model file, an API "
                         "key); without it the run stops before its first request and names what is missing")
    ap.add_argument("--models", default=None, help="comma-separated model names: run only these (default all)")
    ap.add_argument("--shard", type=Shard.parse, default=None, metavar="I/N",
                    help="ask only shard I of N of every job's items (its own file per condition), e.g. on N "
                         "machines at once; the analyses and the report run when the study is run without --shard "
                         "after the last shard")
    ap.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    args = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # a study takes hours: its log shows each line as it happens
    log_to_stderr(args.log_level, "%(levelname)s %(name)s: %(message)s")
    only = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    from utils.study.study_file import load_study

    study = load_study(args.config)
    if args.dry_run:
        from utils.study import dry_run, inputs
        from utils.study.plan import study_jobs

        jobs = study_jobs(study, only)
        print(dry_run.render(study, dry_run.rows(study, jobs)))
        print(inputs.render(inputs.study_inputs(study, jobs)))
        return 0
    from utils.study.runner import run_study

    return run_study(study, only, ask_anyway=args.ask_anyway, shard=args.shard)


if __name__ == "__main__":
    sys.exit(main())
