"""The few HTML pieces the report is made of. No JavaScript, no network: images are inline
`data:` URLs and so is the style sheet, so the file reads the same mailed, archived or offline.

    >>> table(["a", "b"], [[1, "<x>"]])  # doctest: +ELLIPSIS
    '<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td class="num">1</td><td>&lt;x&gt;</td>...'
"""
from __future__ import annotations

import base64
import hashlib
import html
import math
from pathlib import Path

import numpy as np
import pandas as pd

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1180px;margin:0 auto;
padding:0 18px 40px;color:#1d1d1f;line-height:1.45}
h1{font-size:1.6em;margin-top:.6em}h2{border-bottom:1px solid #ddd;padding-bottom:3px;margin-top:1.8em}
h3{margin-bottom:.3em}
.banner{background:#c62828;color:#fff;padding:10px 14px;font-weight:600;margin:12px 0;border-radius:4px}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0 4px}th,td{border:1px solid #d6d6d6;padding:2px 7px}
th{background:#f2f2f2;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.bad td{background:#fff3e0}figure{margin:14px 0 6px}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:13px;color:#333;margin-top:4px}.note{color:#555;font-size:12.5px}
.scroll{max-height:420px;overflow:auto;display:inline-block;max-width:100%}
code{background:#f4f4f4;padding:0 3px}
.zoom-toggle{display:none}.zoom-toggle+label{display:block}.zoom-toggle+label img{cursor:zoom-in}
.zoom-toggle:checked+label{max-height:900px;overflow:auto;border:1px solid #eee}
.zoom-toggle:checked+label img{max-width:none;cursor:zoom-out}
"""


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def _cell(value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "<td></td>"
        text = f"{value:.4f}" if abs(value) < 1e4 else f"{value:,.0f}"
        return f'<td class="num">{text}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value}</td>'
    return f"<td>{esc(value)}</td>"


def table(columns: list[str], rows: list[list], bad_rows: set[int] | frozenset[int] = frozenset()) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join(("<tr class=\"bad\">" if i in bad_rows else "<tr>") + "".join(_cell(v) for v in row) + "</tr>"
                   for i, row in enumerate(rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def whole_numbers(df: pd.DataFrame) -> pd.DataFrame:
    """Columns named `*code`, `wave`, `rank`, `n_*` or `n` holding whole numbers become nullable
    integers: a CSV column with blanks reads back as floats and would show `434.0000`.

    >>> whole_numbers(pd.DataFrame({"country_code": [434.0, float("nan")], "score": [1.0, 2.0]})).dtypes.tolist()
    [Int64Dtype(), dtype('float64')]
    """
    out = df.copy()
    for col in out.columns:
        name = str(col)
        if not (name.endswith("code") or name in ("wave", "rank", "n") or name.startswith("n_")):
            continue
        values = pd.to_numeric(out[col], errors="coerce") if out[col].dtype == object else out[col]
        given = values.dropna()  # none lost to the coercion, and every one whole
        if pd.api.types.is_float_dtype(values) and len(given) == out[col].notna().sum() > 0 \
                and (given == given.round()).all():
            out[col] = values.round().astype("Int64")
    return out


def frame_table(df: pd.DataFrame, source: Path, max_rows: int = 25) -> str:
    """The first `max_rows` rows, saying where the rest is; an empty frame is a sentence, not a table."""
    if df.empty:
        return f'<p class="note">{esc(source.name)} has no rows.</p>'
    shown = whole_numbers(df.head(max_rows))
    rows = [[float("nan") if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else
             (v.item() if isinstance(v, np.generic) else v) for v in rec] for rec in shown.itertuples(index=False)]
    note = f'<p class="note">table: <code>{esc(source)}</code></p>'
    if len(df) > max_rows:
        note = f'<p class="note">first {max_rows} of {len(df)} rows; all of them: <code>{esc(source)}</code></p>'
    return f'<div class="scroll">{table([str(c) for c in df.columns], rows)}</div>{note}'


PAGE_PX = 1144  # the page's content width in CSS pixels (1180 less padding): wider PNGs are shrunk to it


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR chunk; (0, 0) when it is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return 0, 0
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def image(path: Path, alt: str) -> str:
    """Fitted to the page's width; one wider (a 66-country matrix, up to 2,611 px) toggles on a click
    to its full width in a scrolling box, its labels readable: a hidden checkbox, no JavaScript."""
    raw = Path(path).read_bytes()
    data = base64.b64encode(raw).decode("ascii")
    width, _ = png_size(raw)
    img = f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}">'
    if width <= PAGE_PX:
        return img
    key = "zoom-" + hashlib.sha1(str(path).encode("utf-8")).hexdigest()[:10]
    return (f'<input type="checkbox" class="zoom-toggle" id="{key}"><label for="{key}" '
            f'title="click: full size / fit to the page">{img}</label>'
            f'<p class="note">fitted to the page; click the figure for its full size ({width} px wide), '
            f'click again to fit it</p>')


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>\n")
