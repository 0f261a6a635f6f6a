"""Every table an analysis writes: its CSV, and for summaries meant for a paper Markdown and LaTeX.
The RQ2 table as the paper's supplementary material lays it out (`layout`):

    | Country | Condition   | gpt-4    | AVG     |
    | Japan   | No Steering | 0.7712   | 0.7650  |
    |         | +Language   | 0.7801** | 0.7702* |

Drawn from synthetic human data, each table says so where its reader looks: a CSV column
`human_data` = `synthetic` (it cannot pass as real when copied on), a first Markdown line, a LaTeX
comment and caption note.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from utils.core.results.spec import NO_STEERING  # the RQ2 tables' row for the model's RQ1 answers

SYNTHETIC_NOTE = "synthetic human data (not WVS): shows the pipeline, not findings"
HUMAN_DATA_COLUMN = "human_data"  # valued "synthetic" in every CSV drawn from synthetic human data
TEX = str.maketrans({"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#"})
ROWS = [(NO_STEERING, "No Steering"), ("language", "+Language"), ("persona", "Persona"),
        ("language_persona", "+Language"), ("few-shot", "Few-shot"), ("language_few-shot", "+Language")]


@dataclass(frozen=True)
class Output:
    """Where an analysis' files go and how they are named (rules' suffix, non-default metric)."""

    dir: Path
    formats: tuple[str, ...] = ("png", "pdf")
    metric: str = "w1"
    synthetic: bool = False
    suffix: str = ""

    def name(self, stem: str, ext: str) -> Path:
        return Path(self.dir) / f"{stem}{self.suffix}{'' if self.metric == 'w1' else '_' + self.metric}{ext}"


def short_name(model: str) -> str:
    """'meta-llama/Meta-Llama-3-70B-Instruct' -> 'Meta-Llama-3-70B-Instruct' for labels."""
    return model.rsplit("/", 1)[-1]


def told(flag) -> bool | None:
    """A yes/no cell (best_beats_none) as True, False or None (empty), whatever its dtype."""
    return None if flag is None or pd.isna(flag) else bool(flag)


def write_csv(df: pd.DataFrame, out: Output, name: str, digits: int | None = 6) -> Path:
    """Every CSV goes through here: named and marked by `out`, rounded to `digits` (None: as they are)."""
    Path(out.dir).mkdir(parents=True, exist_ok=True)
    path = out.name(Path(name).stem, Path(name).suffix)
    df = df if digits is None else df.round(digits)
    if out.synthetic:
        df = df.assign(**{HUMAN_DATA_COLUMN: "synthetic"})
    df.to_csv(path, index=False)
    return path


def layout(df: pd.DataFrame) -> pd.DataFrame:
    """Long scores (model, country, method, score, stars) -> the paper's wide table of strings."""
    models = [m for m in dict.fromkeys(df["model"]) if m != "AVG"] + (["AVG"] if "AVG" in set(df["model"]) else [])
    cell = {(r.model, r.country, r.method): "" if not np.isfinite(r.score) else f"{r.score:.4f}{r.stars or ''}"
            for r in df.itertuples()}
    rows = []
    for country in dict.fromkeys(df["country"]):
        first = True
        for method, label in ROWS:
            if any((m, country, method) in cell for m in models):
                rows.append({"Country": country if first else "", "Condition": label}
                            | {short_name(m): cell.get((m, country, method), "") for m in models})
                first = False
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame, note: str = "") -> str:
    """A pipe table; `note` (e.g. synthetic human data) as a bold first line above it."""
    head = ("" if not note else f"**{note}**\n\n") + "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" if i < 2 else "---:" for i in range(len(table.columns))) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([head, rule] + body) + "\n"


def to_latex(table: pd.DataFrame, caption: str = "", note: str = "", labels: int = 2, rules: bool = True) -> str:
    """A booktabs tabular, stars as superscripts (`0.7801$^{**}$`), the first `labels` columns
    left-aligned; with `rules` a rule where the first column gets a new value."""
    def cell(v: str) -> str:
        num = v.rstrip("*")
        return num.translate(TEX) + (f"$^{{{v[len(num):]}}}$" if len(num) < len(v) else "")

    cols = "l" * labels + "r" * (len(table.columns) - labels)
    lines = [f"% {note}"] if note else []
    lines += [r"\begin{table}[t]", r"\centering", rf"\begin{{tabular}}{{{cols}}}", r"\toprule",
              " & ".join(c.translate(TEX) for c in table.columns) + r" \\", r"\midrule"]
    for n, row in enumerate(table.itertuples(index=False)):
        if rules and row[0] and n:
            lines.append(r"\midrule")
        cells = [str(v).translate(TEX) for v in row[:labels]] + [cell(str(v)) for v in row[labels:]]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    caption = " ".join(x for x in (caption, f"({note[:1].upper()}{note[1:]}.)" if note else "") if x)
    if caption:
        lines.append(rf"\caption{{{caption.translate(TEX)}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def write_tables(table: pd.DataFrame, out: Output, stem: str, caption: str = "", labels: int = 2,
                 rules: bool = True, csv: pd.DataFrame | None = None) -> list[Path]:
    """Write <stem>.csv (`csv`, or `table` itself), <stem>.md and <stem>.tex, named and marked by `out`."""
    note = SYNTHETIC_NOTE if out.synthetic else ""
    paths = [write_csv(table if csv is None else csv, out, f"{stem}.csv"), out.name(stem, ".md"),
             out.name(stem, ".tex")]
    paths[1].write_text(to_markdown(table, note), encoding="utf-8")
    paths[2].write_text(to_latex(table, caption, note, labels, rules), encoding="utf-8")
    return paths
