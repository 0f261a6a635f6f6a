"""One self-contained HTML page from a results root, human data and the figures folder.

    python show_results/report.py --results-root runs/demo/results --figures runs/demo/figures \
        --human runs/demo/human/WV7.csv --out runs/demo/report.html

Shows what was run (models, conditions, probe methods, dates, package versions and the commit,
from run_meta.json), a coverage table (per model and condition: items asked, ok, unparsed, error,
missing), every figure under --figures with its caption and the table behind it, the RQ2 table
with significance, the --paper-compat reproduction tables where they were written, and a red
banner when the human data are synthetic. Images are embedded; no network, no JavaScript.
`code/run_study.py` writes this page at the end of every study.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
from utils.analysis.cli import add_run_name, results_root_of  # noqa: E402
from utils.core.errors import UserError  # noqa: E402
from utils.core.flag_parser import FlagParser  # noqa: E402
from utils.core.logs import log_to_stderr  # noqa: E402
from utils.core.paths import FIGURES_DIR, HUMAN_DIR, RESULTS_DIR, output_file, output_folder  # noqa: E402
from utils.report.build import write_report  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    ap = FlagParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results-root", type=Path, default=RESULTS_DIR, help="results tree (default results/)")
    add_run_name(ap)
    ap.add_argument("--figures", type=Path, default=FIGURES_DIR,
                    help="the FOLDER the show_results scripts wrote to (default figures/); searched recursively")
    ap.add_argument("--human", type=Path, nargs="*", default=[HUMAN_DIR / "WV7.csv"],
                    help="the prepared human table(s) scored against (their .meta.json says if synthetic)")
    ap.add_argument("--survey", type=Path, default=None, metavar="FILE",
                    help="an imported survey's <name>.questions.jsonl the results asked: the page names it, its "
                         "source and licence")
    ap.add_argument("--out", type=Path, default=None,
                    help="the HTML FILE to write (default <figures>/report.html); unlike the figure scripts' --out, "
                         "a file")
    ap.add_argument("--title", default="Global opinion alignment: study report", help="page title")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_to_stderr()
    try:
        results_root = results_root_of(args.results_root, args.run_name)
        figures = output_folder(args.figures, "--figures")
        out = write_report(results_root, figures, [] if args.survey else args.human,
                           output_file(args.out or figures / "report.html", "report.html"), args.title,
                           survey=args.survey)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
