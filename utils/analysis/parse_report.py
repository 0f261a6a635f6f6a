"""Re-parse every response under a results root into one tidy long CSV, and print parse rates.
Rows are read as `answers.read_row` reads them; columns: `COLUMNS`, and docs/probing.md.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from utils.analysis.answers import position_map, questionnaire_codes, read_row
from utils.analysis.config import AnalysisConfig
from utils.analysis.coverage import Said
from utils.analysis.options import option
from utils.analysis.steering import release_translation_gaps
from utils.core.errors import UserError
from utils.core.paths import FIGURES_DIR, output_file, shown
from utils.core.results.table import missing_shards_line, option_keys
from utils.core.results.tree import find_results

COLUMNS = ["experiment", "method", "country", "model", "id", "option", "probability", "status",
           "probe_method", "file_option", "remap", "perturbation"]


@dataclass(frozen=True)
class ParseReportOptions:
    out: Path = option(FIGURES_DIR / "parse_report.csv", "the CSV FILE to write (default: figures/parse_report.csv); "
                       "unlike the figure scripts' --out, which is a folder")
    tolerance: float = option(25.0, "percentage points a sum may be off 100")
    questions_dir: Path | None = option(None, "folder of WV7_English.jsonl, whose codes renumbered options are mapped "
                                        "onto (default dataset/questions)")


SHOWN = 12  # lines of single files shown; a larger tree (the release: 372 files) is summed up per condition


def summary(per_file: list[tuple]) -> list[str]:
    """Every file's line for a small tree; for a larger one SHOWN lines, then one per condition."""
    lines = [x for _, _, _, line, note in per_file for x in (line, note) if x]
    out = lines[:SHOWN]
    if len(per_file) > SHOWN:
        groups: dict[tuple[str, str], list[int]] = {}
        for f, ok, n, _, _ in per_file:
            g = groups.setdefault((f.spec.experiment, f.spec.condition_name), [0, 0, 0])
            g[0], g[1], g[2] = g[0] + 1, g[1] + ok, g[2] + n
        out += [f"{exp:12s} {method:18s} {k:3d} files  {ok}/{n} parsed ({ok / max(n, 1):.2%})"
                for (exp, method), (k, ok, n) in groups.items()]
    if len(lines) > SHOWN:
        out.append(f"{len(lines) - SHOWN} more line(s) on files with rows not parsed, items absent or options "
                   "mapped by position not shown: every row is in the CSV")
    return out


def parse_report(config: AnalysisConfig, args: ParseReportOptions, said: Said) -> list[Path]:
    output_file(args.out, "parse_report.csv")
    root = config.results_root
    files = find_results(root) if root.is_dir() else []
    if not files:
        raise UserError(f"no results.csv under {shown(root)} in the RQ1/RQ2/Discussion layout; "
                        "run code/RQ1/prob_by_llm.py (or prob_by_api.py) first")
    codes = questionnaire_codes(args.questions_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    total = parsed_total = 0
    per_file: list[tuple] = []  # (file, parsed, rows, its line if it has something to say, its remap note)
    with args.out.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(COLUMNS)
        for f in files:
            table = f.read()  # empty, header-only, garbled: one line, exit code 2
            if table.missing:  # a condition asked in shards, one not there: its items are absent, say why
                said.note(missing_shards_line(table))
            rows = table.rows
            spec = f.spec
            condition, country = spec.condition_name, spec.country or ""
            ok, remapped = 0, []
            for row in rows:
                item = row.get("id", "")
                mapping = position_map(option_keys(row), codes.get(item))
                ans = read_row(row, codes.get(item), args.tolerance)
                meta = [spec.experiment, condition, country, spec.model, item]
                if ans.ok:
                    ok += 1
                    back = {v: k for k, v in (mapping or {}).items()}
                    remap = "by_position" if mapping else ""
                    remapped += [item] if mapping else []
                    out.writerows(meta + [k, f"{p:.12g}", "ok", f.spec.method, back.get(k, k), remap, f.spec.prompt]
                                  for k, p in ans.distribution.items())  # .12g: 0.0847, not 0.08470000000000001
                else:
                    out.writerow(meta + ["", "", ans.detail or ans.reason, f.spec.method, "", "", f.spec.prompt])
            total, parsed_total = total + len(rows), parsed_total + ok
            present = {r.get("id", "") for r in rows}
            asked_its_way = rows[0].get("protocol") == "release" or "status" not in rows[0]  # or the release's file
            gaps = release_translation_gaps(condition, country) if spec.experiment == "RQ2" and asked_its_way else ()
            untranslated = [i for i in gaps if i in codes and i not in present]
            absent = len(set(codes) - present) - len(untranslated)
            why = (f"; {len(untranslated)} more not in the release's translation, so never asked its way "
                   f"({', '.join(untranslated)})") if untranslated else ""
            what = f"{condition} [{spec.prompt}]" if spec.prompt else condition
            line = (f"{spec.experiment:12s} {what:18s} {country:10s} {spec.model:45s} {ok:4d}/{len(rows):<4d} "
                    f"{ok / len(rows):7.2%}  {absent} of the questionnaire's {len(codes)} items absent{why}")
            note = (f"  note: {f.path}: options of {len(remapped)} item(s) numbered 1..N, mapped by position to "
                    f"the questionnaire's codes ({', '.join(remapped)}); remap = by_position in {args.out.name}")
            per_file.append((f, ok, len(rows), line if ok < len(rows) or absent or why or len(files) <= SHOWN else "",
                         note if remapped else ""))
    for text in summary(per_file) + [f"overall: {parsed_total}/{total} parsed ({parsed_total / max(total, 1):.2%})"]:
        said.line(text)
    return [args.out]
