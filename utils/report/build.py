"""One self-contained HTML page that reads a study (docs/study.md#the-report), built only from files
on disk (results, human tables' `.meta.json`, figures), so it can be rebuilt at any time."""
from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from utils.core.errors import UserError
from utils.core.human.microdata import table_meta
from utils.core.paths import INPUTS_DIR
from utils.report import html as H
from utils.report.progress import tree_coverage
from utils.report.run_info import run_info_section

SUFFIXES = {"_paper_compat": " (the original release's arithmetic, --paper-compat)",  # -> what the caption adds
            "_jsd": " Metric: 1 - Jensen-Shannon distance.", "_tvd": " Metric: 1 - total variation distance."}
CAPTIONS = INPUTS_DIR / "report" / "captions.json"
BANNER = ("SYNTHETIC HUMAN DATA: the human side of every score on this page is made up (not WVS answers). "
          "It shows that the pipeline works, not what any model believes.")


def caption_for(stem: str, captions: dict) -> tuple[str, list[str]]:
    """(caption, table file names); `rq1_model_level_jsd` uses `rq1_model_level`'s entry, suffixing its tables."""
    suffix = next((s for s in SUFFIXES if stem.endswith(s) and stem[: -len(s)] in captions["figures"]), "")
    base = stem.removesuffix(suffix)
    entry = captions["figures"].get(base) or next(
        (e for k, e in captions["figures"].items() if k.endswith("*") and base.startswith(k[:-1])), None)
    if entry is None:
        return f"{stem} (no caption registered in inputs/report/captions.json)", [f"{stem}.csv"]
    tables = [t[:-4] + suffix + ".csv" for t in entry.get("tables", [])]
    return entry["caption"] + SUFFIXES.get(suffix, ""), tables


def read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def human_section(human: list[Path]) -> tuple[str, bool]:
    if not human:
        return "<h2>Human data</h2><p class='note'>none given</p>", False
    metas = [table_meta(path) for path in human]
    rows = [[str(path), meta.get("wave", ""), "yes" if meta.get("synthetic") else "no", meta.get("countries", ""),
             meta.get("respondents", ""), meta.get("source", ""), meta.get("created", "")]
            for path, meta in zip(human, metas)]
    cols = ["table", "wave", "synthetic", "countries", "respondents", "made from", "prepared"]
    return "<h2>Human data</h2>" + H.table(cols, rows), any(meta.get("synthetic") for meta in metas)


def survey_section(questions: Path | None) -> str:
    """Source, licence and scoring of the imported survey: the page must name them where its numbers are shown."""
    if questions is None:
        return ""
    from utils.core.survey.files import read_questionnaire

    survey, items = read_questionnaire(questions)
    rows = [["survey", survey.name], ["wave", survey.wave], ["items", len(items)], ["source", survey.source],
            ["licence", survey.licence], ["metric", survey.metric],
            ["non-substantive answers", "left out, the rest renormalized" if survey.policy == "drop" else "scored"],
            ["questionnaire", str(questions)]]
    return (f"<h2 id='survey'>Survey: {H.esc(survey.name)}</h2><p>The human side of every score on this page is this "
            "survey's table, not the WVS.</p>" + H.table(["", ""], rows))


def coverage_section(results_root: Path) -> str:
    cov = tree_coverage(results_root)
    if not cov:
        return f"<h2>Coverage</h2><p class='note'>no results files under <code>{H.esc(results_root)}</code></p>"
    rows = [[c.tree or "", c.model, c.experiment, c.condition, "" if c.planned is None else c.planned, c.rows,
             c.ok, c.unparsed, c.error, c.missing] if c.present else
            [c.tree or "", c.model, c.experiment, c.condition, "", "", "", "", "", "no file (shard missing)"]
            for c in cov]
    bad = {i for i, c in enumerate(cov) if c.unparsed or c.error or c.missing or c.note}
    cols = ["tree", "model", "experiment", "condition", "items asked", "rows", "ok", "unparsed", "error", "missing"]
    total_ok, total = sum(c.ok for c in cov), sum(c.planned or c.rows for c in cov)
    notes = "".join(f"<p class='note'>{H.esc(n)}</p>" for n in dict.fromkeys(c.note for c in cov if c.note))
    files = sum(c.present for c in cov)
    return (f"<h2>Coverage</h2><p>{total_ok} of {total} items answered with a readable distribution, in "
            f"{files} results files (rows with items not ok are shaded).</p>" + H.table(cols, rows, bad) + notes)


def figure_block(png: Path, captions: dict, shown: set[Path], number: int) -> str:
    caption, tables = caption_for(png.stem, captions)
    parts = [(f'<figure id="fig-{H.esc(png.stem)}">{H.image(png, caption)}'
              f"<figcaption><b>Figure {number}</b> ({H.esc(png.name)}). {H.esc(caption)}</figcaption></figure>")]
    for name in tables:
        csv_path = png.parent / name
        if csv_path.is_file() and csv_path not in shown:
            shown.add(csv_path)
            parts.append(H.frame_table(read_csv(csv_path), csv_path))
    return "".join(parts)


def figures_section(figures: Path, captions: dict, shown: set[Path]) -> str:
    pngs = sorted(Path(figures).rglob("*.png")) if Path(figures).is_dir() else []
    if not pngs:
        return f"<h2>Figures</h2><p class='note'>no figures under <code>{H.esc(figures)}</code></p>"
    order = {s: i for i, s in enumerate(captions.get("order", []))}

    def rank(p: Path):
        base = next((p.stem[: -len(s)] for s in SUFFIXES if p.stem.endswith(s)), p.stem)
        return (str(p.parent), order.get(base, len(order)), p.stem)

    out, folder, n = ["<h2>Figures</h2>"], None, 0
    for png in sorted(pngs, key=rank):
        if png.parent != folder:
            folder = png.parent
            rel = os.path.relpath(folder, figures)
            out.append(f"<h3>{H.esc('figures' if rel == '.' else rel)}</h3>")
        n += 1
        out.append(figure_block(png, captions, shown, n))
    return "".join(out)


def not_drawn_section(figures: Path) -> str:
    """Analyses with nothing to show and the line each ended with, so no figure is silently absent."""
    rows = []
    for log in sorted(Path(figures).rglob("logs/*.log")) if Path(figures).is_dir() else []:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        said = next((x for x in reversed(lines) if x.startswith("error: ")), None)
        if said:
            rows.append([os.path.relpath(log.parent.parent / log.stem, figures), said.removeprefix("error: ")])
    return ("<h2>Analyses with nothing to show</h2>" + H.table(["analysis", "why"], rows)) if rows else ""


def csv_section(title: str, intro: str, paths: list[Path], shown: set[Path], figures: Path) -> str:
    paths = [p for p in paths if p not in shown]
    if not paths:
        return ""
    out = [f"<h2>{H.esc(title)}</h2><p>{intro}</p>"]
    for p in paths:
        shown.add(p)
        out.append(f"<h3>{H.esc(os.path.relpath(p, figures))}</h3>" + H.frame_table(read_csv(p), p))
    return "".join(out)


def parse_summary(figures: Path, shown: set[Path]) -> str:
    out = []
    for p in sorted(Path(figures).rglob("parse_report.csv")):
        shown.add(p)
        df = read_csv(p)
        if df.empty or "status" not in df.columns:
            continue
        keys = [c for c in ("experiment", "method", "country", "model", "perturbation") if c in df.columns]
        per_item = df.drop_duplicates(keys + ["id"]) if "id" in df.columns else df
        table = per_item.groupby(keys + ["status"], dropna=False).size().unstack("status", fill_value=0).reset_index()
        out.append(f"<h3>{H.esc(os.path.relpath(p, figures))}</h3>" + H.frame_table(table, p, 60))
    return ("<h2>Parsing</h2><p>Every stored answer parsed again: items per status.</p>" + "".join(out)) if out else ""


def write_report(results_root: Path, figures: Path, human: list[Path] | dict, out: Path, title: str = "Study report",
                 config: Path | None = None, survey: Path | None = None) -> Path:
    """Written atomically; `survey`: an imported survey's questionnaire."""
    results_root, figures, out = Path(results_root), Path(figures), Path(out)
    human = list(human.values()) if isinstance(human, dict) else list(human)
    if not results_root.is_dir() and not figures.is_dir():
        raise UserError(f"nothing to report: neither {results_root} nor {figures} exists; run the study first")
    captions = json.loads(CAPTIONS.read_text(encoding="utf-8")) if CAPTIONS.is_file() else {"order": [], "figures": {}}
    shown: set[Path] = set()
    human_html, synthetic = human_section(human)
    csvs = sorted(figures.rglob("*.csv")) if figures.is_dir() else []
    now = datetime.now(UTC).isoformat(timespec="seconds")
    rebuild = (f"python show_results/report.py --results-root {results_root} --figures {figures} --human "
               + " ".join(map(str, human)) + (f" --survey {survey}" if survey else "") + f" --out {out}")
    body = [f"<h1>{H.esc(title)}</h1>"]
    if synthetic:
        body.append(f'<div class="banner" id="synthetic-banner">{H.esc(BANNER)}</div>')
    body.append(f"<p class='note'>Built {now} from results <code>{H.esc(results_root)}</code>, figures "
                f"<code>{H.esc(figures)}</code>" + (f", study <code>{H.esc(config)}</code>" if config else "")
                + f". Rebuild: <code>{H.esc(rebuild)}</code></p>")
    body += [run_info_section(results_root), coverage_section(results_root), survey_section(survey),
             "" if survey and not human else human_html,
             figures_section(figures, captions, shown), not_drawn_section(figures)]
    rq2 = [p for p in csvs if p.name in ("rq2_paper_table.csv", "rq2_steering_scores.csv")]
    body.append(csv_section("RQ2 with significance", "Each steered condition against no steering over the same "
                            "items (stars: * p &lt; 0.05, ** p &lt; 0.01, *** p &lt; 0.001), laid out as the "
                            "paper's supplementary table.", rq2, shown, figures))
    compat = [p for p in csvs if "_paper_compat" in p.name]
    body.append(csv_section("Reproduction: the original arithmetic (--paper-compat)", "The same answers scored "
                            "with the original release's rules, to set beside the paper's tables.",
                            compat, shown, figures))
    body.append(parse_summary(figures, shown))
    body.append(csv_section("Other tables", "Tables the analysis wrote that no figure above shows.",
                            csvs, shown, figures))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(H.page(title, "".join(body)), encoding="utf-8")
    os.replace(tmp, out)
    return out
