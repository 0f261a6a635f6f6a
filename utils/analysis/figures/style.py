"""One look for every figure, set per figure (`@styled`): no backend chosen and no rcParams changed on
import. Figures never go through pyplot, so nothing stays registered after `save`.
"""
from __future__ import annotations

import functools
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from utils.analysis.metrics import METRIC_LABELS
from utils.analysis.tables import SYNTHETIC_NOTE, Output

STYLE = {"figure.dpi": 100, "savefig.dpi": 150, "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
         "axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False, "pdf.fonttype": 42}
COLORS = matplotlib.colormaps["tab10"].colors


def styled(draw):
    """Run a figure function in `STYLE`: `@styled def plot(...)`."""
    @functools.wraps(draw)
    def in_style(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)
    return in_style


def figure(figsize: tuple[float, float]) -> tuple[Figure, object]:
    """One panel: (fig, ax)."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def grid(n: int, ncols: int, panel_w: float, panel_h: float, **kw):
    """n panels in rows of `ncols`; unused panels are hidden. Returns (fig, flat list of axes)."""
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(panel_w * ncols, panel_h * nrows))
    flat = list(fig.subplots(nrows, ncols, squeeze=False, **kw).ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def title(fig, text: str, synthetic: bool, metric: str = "w1") -> None:
    """A figure title, naming a non-default metric; with synthetic human data a red line under it says so."""
    if metric != "w1":
        text = f"{text} ({METRIC_LABELS[metric]})"
    fig.suptitle(text, fontsize=11, y=1.0, va="bottom")
    if synthetic:
        fig.text(0.5, 0.995, SYNTHETIC_NOTE, ha="center", va="top", color="crimson", fontsize=9, fontweight="bold")


def save(fig, out: Output, stem: str) -> list[Path]:
    """Write `fig` once per format: `save(fig, Output("figures", ("png",), "jsd"), "rq3_temporal")`
    -> [figures/rq3_temporal_jsd.png]."""
    Path(out.dir).mkdir(parents=True, exist_ok=True)
    paths = [out.name(stem, f".{fmt}") for fmt in out.formats]
    for p in paths:
        fig.savefig(p, bbox_inches="tight", pad_inches=0.15)
    return paths


def finish(fig, out: Output, stem: str, heading: str, legend=None, ncol: int = 4, scored: bool = True) -> list[Path]:
    """Title (naming `out.metric` where the figure shows scores), layout, one legend for the whole
    figure from axes `legend`, under the panels (per-panel legends hide data), then `save`."""
    title(fig, heading, out.synthetic, out.metric if scored else "w1")
    fig.tight_layout()
    handles, labels = legend.get_legend_handles_labels() if legend is not None else ([], [])
    if handles:
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol, fontsize=8)
    return save(fig, out, stem)


def heatmap(ax, matrix: np.ndarray, row_labels, col_labels, vmin=None, vmax=None, cmap="viridis",
            annotate: bool = False, fontsize: float = 7):
    im = ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    ax.set_xticks(np.arange(len(col_labels)), col_labels, rotation=90, fontsize=fontsize)
    ax.set_yticks(np.arange(len(row_labels)), row_labels, fontsize=fontsize)
    ax.tick_params(length=0)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    if annotate:
        lo, hi = np.nanmin(matrix), np.nanmax(matrix)
        mid = (lo + hi) / 2
        for (r, c), v in np.ndenumerate(matrix):
            if np.isfinite(v):
                ax.text(c, r, f"{v:.3f}", ha="center", va="center", fontsize=fontsize - 0.5,
                        color="white" if v < mid else "black")
    return im
