"""What every `show_results/` script shares: its flags, reading model answers next to human data,
and scoring them, so each script is only its table and its figure.

Model answers are re-read from the `response` column with each row's own `choice_keys` (this
works for our results and for the original release's, which have only `id, ..., response`) and
placed in the questionnaire's semantic order by option code, so a shuffled presentation order
(the `order` sensitivity variant) scores like any other.
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils import metrics
from utils.errors import UserError
from utils.parsing import parse_distribution
from utils.paths import REPO_ROOT, RESULTS_DIR
from utils.plotting import set_formats
from utils.questionnaire import load_questionnaire, questionnaire_path
from utils.result_layout import ResultFile, find_result_files
from utils.result_layout import option_keys as row_keys
from utils.results_store import read_results
from utils.survey import HumanData, keep_mask, load_human

log = logging.getLogger(__name__)
HUMAN_DIR = REPO_ROOT / "dataset" / "human"
FIGURES_DIR = REPO_ROOT / "figures"
RUN_RQ1 = "run code/RQ1/prob_by_llm.py or code/RQ1/prob_by_api.py first (or point --results-root at the paper's results)"


def parser(description: str, human_default: Path | None = HUMAN_DIR / "WV7.csv") -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    if human_default is not None:
        ap.add_argument("--human", type=Path, default=human_default,
                        help=f"long table of human answers from dataset/prepare_wvs.py (default {human_default.relative_to(REPO_ROOT)})")
    ap.add_argument("--results-root", type=Path, default=RESULTS_DIR,
                    help="results in the paper's layout, ours or the paper's released folder (default results/)")
    ap.add_argument("--out", type=Path, default=FIGURES_DIR, help="folder for the PNG, PDF and CSV (default figures/)")
    ap.add_argument("--weights", choices=["none", "survey"], default="none",
                    help="none: count respondents, as the paper does (default); survey: use the WVS weights")
    ap.add_argument("--drop-nonsubstantive", action="store_true",
                    help="leave out options that state no opinion (Q119's 0, Q122-Q129's 1) on both sides")
    ap.add_argument("--models", default=None, help="comma-separated model names to include (default: all found)")
    ap.add_argument("--questions-dir", type=Path, default=None, help="folder of WV7_English.jsonl (default dataset/questions)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and the split halves (default 0)")
    ap.add_argument("--formats", default="png,pdf", help="figure files to write, comma-separated (default png,pdf)")
    return ap


def parse_args(ap: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    args = ap.parse_args(argv)
    formats = [f.strip().lower() for f in args.formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("png", "pdf", "svg")]
    if bad or not formats:
        ap.error(f"--formats takes png, pdf and/or svg, not {args.formats!r}")
    set_formats(formats)
    return args


def report_written(paths: list[Path]) -> int:
    """End a script: name the files it wrote; exit code 0."""
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def run(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run a script's main; problems the user can fix become one line on stderr and exit code 2."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        return main(argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def questionnaire_items(questions_dir: Path | None = None) -> tuple[list[str], list[tuple[str, ...]]]:
    items = load_questionnaire(questionnaire_path("English", questions_dir))
    return [it.id for it in items], [it.order for it in items]


def load_answers(path: Path, item_ids: list[str], orders: list[tuple[str, ...]]) -> np.ndarray:
    """[I, K] a model's distributions in semantic order; NaN rows for unparsed or absent items."""
    n_k = max(len(o) for o in orders)
    out = np.full((len(item_ids), n_k), np.nan)
    where = {i: n for n, i in enumerate(item_ids)}
    for row in read_results(path):
        i = where.get(row.get("id", ""))
        keys = row_keys(row)
        if i is None or not keys:
            continue
        parsed = parse_distribution(row.get("response") or "", keys)
        if not parsed.ok:
            continue
        dist = parsed.distribution
        vec = np.array([dist.get(k, 0.0) for k in orders[i]])
        lost = sum(v for k, v in dist.items() if k not in orders[i])
        if lost > 1e-9:
            log.warning("%s: %s gives %.3f to codes outside the item's options; renormalized", path, item_ids[i], lost)
        if vec.sum() > 0:
            out[i] = 0.0
            out[i, :len(vec)] = vec / vec.sum()
    return out


def model_files(results_root: Path, experiment: str, models: str | None = None) -> list[ResultFile]:
    root = Path(results_root)
    if not root.is_dir():
        raise UserError(f"results root {root} not found; {RUN_RQ1}")
    files = [f for f in find_result_files(root) if f.experiment == experiment]
    if models:
        wanted = [m.strip() for m in models.split(",") if m.strip()]
        unknown = [m for m in wanted if m not in {f.model for f in files}]
        if unknown:
            raise UserError(f"no {experiment} results for model(s) {', '.join(unknown)} under {root}")
        files = [f for f in files if f.model in wanted]
    return files


def rq1_answers(results_root: Path, item_ids, orders, models: str | None = None) -> dict[str, np.ndarray]:
    files = model_files(results_root, "RQ1", models)
    if not files:
        raise UserError(f"no RQ1 results (RQ1/<model>/results.csv) under {results_root}; {RUN_RQ1}")
    return {f.model: load_answers(f.path, item_ids, orders) for f in files}


@dataclass
class Scoring:
    """Human shares and model answers on the same items and options, ready for `metrics`."""

    human: HumanData
    shares: np.ndarray  # [C, I, K]
    counts: np.ndarray  # [C, I, K] after dropping options, for the split halves
    n_options: np.ndarray  # [I]
    keep: np.ndarray | None  # [I, K] options kept, None when nothing is dropped

    @classmethod
    def build(cls, human: HumanData, drop_nonsubstantive: bool = False) -> Scoring:
        counts, n_opt, keep = human.counts, human.n_options, None
        if drop_nonsubstantive:
            keep = keep_mask(human.item_ids, human.orders, counts.shape[-1])
            shares, n_opt = metrics.drop_options(counts, keep)
            counts = np.take_along_axis(np.where(keep, counts, 0.0), np.argsort(~keep, -1, kind="stable")[None], -1)
        else:
            shares = human.shares()
        return cls(human, shares, counts, n_opt, keep)

    def model(self, answers: np.ndarray) -> np.ndarray:
        """A model's [I, K] answers, with the same options dropped."""
        return answers if self.keep is None else metrics.drop_options(answers, self.keep)[0]

    def scores(self, answers: np.ndarray) -> np.ndarray:
        """[C, I] alignment of a model with every country, NaN where either side is missing."""
        return metrics.alignment(self.model(answers)[None], self.shares, self.n_options)

    def uniform_scores(self) -> np.ndarray:
        u = metrics.uniform(self.n_options, self.shares.shape[-1])
        return metrics.alignment(u[None], self.shares, self.n_options)

    def ceiling(self, repeats: int = 10, seed: int = 0) -> np.ndarray:
        """[C, I] split-half alignment of each country with itself. With --weights survey the
        weighted counts are split as if rounded to whole respondents (the table keeps no
        respondent-level weights), a close approximation since WVS weights average 1."""
        return metrics.split_half(self.counts, self.n_options, self.human.n_invalid, repeats, seed)


def load_scoring(args, item_ids=None, orders=None, wave: int | None = None, human_path: Path | None = None) -> Scoring:
    if item_ids is None:
        item_ids, orders = questionnaire_items(args.questions_dir)
    human = load_human(human_path or args.human, item_ids, orders, args.weights, wave)
    if not len(human.country_codes):
        raise UserError(f"{human_path or args.human} has no countries{f' for wave {wave}' if wave else ''}")
    return Scoring.build(human, args.drop_nonsubstantive)


def short_name(model: str) -> str:
    """'meta-llama/Meta-Llama-3-70B-Instruct' -> 'Meta-Llama-3-70B-Instruct' for figure labels."""
    return model.rsplit("/", 1)[-1]
