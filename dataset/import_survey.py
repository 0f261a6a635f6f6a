"""Turn a survey's files into the toolkit's survey schema: a questionnaire and a long human table.

    python dataset/import_survey.py --format opinionqa --input human_resp/American_Trends_Panel_W26 --output surveys
    python dataset/import_survey.py --format globalopinionqa --input global_opinions.csv --output surveys
    python dataset/import_survey.py --format codebook --codebook evs2017.toml --input ZA7500_v5-0-0.dta --output surveys
    python dataset/import_survey.py --format wvs --input dataset/human/WV7.csv --output surveys

Each writes <name>.survey.json, <name>.questions.jsonl and <name>.csv into --output (docs/surveys.md
describes them), all three or none, and prints one line per thing it left out. Nothing is
downloaded: --input is a file or folder you have.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
from utils.core.human.wave_map import NON_SUBSTANTIVE  # noqa: E402
from utils.core.errors import UserError  # noqa: E402
from utils.core.flag_parser import FlagParser  # noqa: E402
from utils.core.questionnaire import load_questionnaire, questionnaire_path  # noqa: E402
from utils.core.survey.codebook import import_codebook  # noqa: E402
from utils.core.survey.files import write_survey  # noqa: E402
from utils.core.survey.globalopinionqa import read_globalopinionqa  # noqa: E402
from utils.core.survey.opinionqa import read_opinionqa  # noqa: E402
from utils.core.survey.data import SurveyData  # noqa: E402
from utils.core.survey.wvs import read_wvs  # noqa: E402

FORMATS = ("opinionqa", "globalopinionqa", "codebook", "wvs")


def main(argv: list[str] | None = None) -> int:
    ap = FlagParser(description=__doc__.splitlines()[0])
    ap.add_argument("--format", required=True, choices=FORMATS, help="what --input is: " + ", ".join(FORMATS))
    ap.add_argument("--input", type=Path, required=True,
                    help="opinionqa: a wave folder (with info.csv) or the folder of wave folders; globalopinionqa: "
                         "global_opinions.csv; codebook: the microdata (.csv, .dta, .sav); wvs: a table that "
                         "dataset/prepare_wvs.py or dataset/import_shares.py wrote")
    ap.add_argument("--output", type=Path, required=True, help="folder to write the survey's three files into")
    ap.add_argument("--codebook", type=Path, help="with --format codebook: the codebook (.toml or .json)")
    ap.add_argument("--weights", choices=["none", "survey"], default="none",
                    help="with --format wvs: shares of respondents (none, the paper's) or survey-weighted")
    args = ap.parse_args(argv)
    try:
        data, notes = load(args.format, args.input, args.codebook, args.weights)
        for note in notes:
            print(note)
        paths = write_survey(data, args.output)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    populations = {c.population for c in data.cells}
    print(f"{data.survey.name}: {len(data.items)} items, {len(populations)} populations, {len(data.cells)} rows; "
          f"wrote {', '.join(str(p) for p in paths)}")
    return 0


def load(fmt: str, source: Path, codebook: Path | None, weights: str) -> tuple[SurveyData, list[str]]:
    if (fmt == "codebook") != (codebook is not None):
        raise UserError("--codebook goes with --format codebook, and --format codebook needs it")
    if fmt == "opinionqa":
        return read_opinionqa(source)
    if fmt == "globalopinionqa":
        return read_globalopinionqa(source)
    if fmt == "codebook":
        return import_codebook(codebook, source)
    if not source.is_file():
        raise UserError(f"{source} not found; prepare it with python dataset/prepare_wvs.py (or import published "
                        "shares with python dataset/import_shares.py)")
    return read_wvs(source, load_questionnaire(questionnaire_path("English")), NON_SUBSTANTIVE, weights), []


if __name__ == "__main__":
    sys.exit(main())
