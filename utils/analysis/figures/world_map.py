"""Per-country scores on a map of the world (the view GlobalOpinionQA's readers know).

One colour scale for every panel. A country too small to see (under `TINY`) is also drawn as a dot,
one the shapes lack (Northern Ireland) as a dot at its map_points.json point; one with neither is
named in `WorldMap.missing` for the caller to print.

    world_maps({"": {"Japan": 0.80, "Singapore": 0.60, "Northern Ireland": 0.70}}, Output(Path("figures")),
               "RQ1: alignment per country", "world_map")
    -> WorldMap(paths=[figures/world_map.png, figures/world_map.pdf],
                dots=("Singapore", "Northern Ireland"), missing=())
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.cm import ScalarMappable
from matplotlib.collections import PolyCollection
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from utils.analysis.figures.style import grid, save, styled, title
from utils.analysis.figures.world_shapes import Shapes, by_code, load_shapes
from utils.analysis.tables import Output
from utils.core.human.wave_map import country_names

CMAP = "viridis"
NO_SCORE = "0.85"  # light grey: land the scores do not cover
TINY = 0.5  # square degrees (about 6,000 km2 at the equator): smaller is also drawn as a dot
LONS, LATS = (-180, 180), (-58, 84)  # Antarctica left out: no survey there, and it takes a fifth of the height


@dataclass(frozen=True)
class WorldMap:
    """What `world_map` wrote, and which countries it drew as dots or could not place at all."""

    paths: list[Path]
    dots: tuple[str, ...]
    missing: tuple[str, ...]

    def note(self) -> str | None:
        """The line a caller prints when a scored country is not on the map; None when all are."""
        if not self.missing:
            return None
        return f"not on the world map (no outline and no point in inputs/analysis/map_points.json): " \
               f"{', '.join(self.missing)}"


def draw(ax, scores: dict[int, float], shapes: Shapes, norm: Normalize, cmap) -> tuple[list[int], list[int]]:
    """One map on `ax`, and the codes drawn as a dot and not drawn at all; gids "shape:CODE" and
    "dot:CODE" let a test find each country by its code."""
    scored = {c: v for c, v in scores.items() if np.isfinite(v)}
    # the outlines as pixels in a PDF or SVG too (as vectors two maps made a 5 MB PDF); text stays vector
    for code, rings in shapes.rings.items():
        color = cmap(norm(scored[code])) if code in scored else NO_SCORE
        ax.add_collection(PolyCollection(rings, closed=True, facecolors=[color], edgecolors="white",
                                         linewidths=0.15, gid=f"shape:{code}", rasterized=True))
    dots, missing = [], []
    for code, value in scored.items():
        how, point = shapes.where(code)
        if how == "shape" and shapes.area(code) < TINY:
            point = shapes.labels[code]
        if point is None:
            if how == "none":
                missing.append(code)
            continue
        ax.scatter([point[0]], [point[1]], s=16, color=[cmap(norm(value))], edgecolors="black", linewidths=0.6,
                   zorder=3, gid=f"dot:{code}")
        dots.append(code)
    ax.set_xlim(*LONS)
    ax.set_ylim(*LATS)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return dots, missing


@styled
def world_maps(panels: Mapping[str, Mapping | pd.Series], out: Output, heading: str, stem: str,
               names: Mapping[int, str] | None = None, shapes: Shapes | None = None) -> WorldMap:
    """One map per panel (title -> scores by country name or WVS code), two a row; `names`: code labels."""
    shapes = shapes or load_shapes()
    names = {**country_names(), **(names or {})}
    scores = [by_code(s) for s in panels.values()]
    values = np.array([v for s in scores for v in s.values()], dtype=float)
    values = values[np.isfinite(values)]  # one colour scale for every panel, 0 to 1 when nothing is scored
    norm = Normalize(float(values.min()), float(values.max())) if values.size else Normalize(0.0, 1.0)
    cmap = matplotlib.colormaps[CMAP]
    fig, axes = grid(len(scores), 2, 6.4, 3.0)
    dots, missing = {}, {}
    for ax, panel, s in zip(axes, panels, scores):
        dotted, unplaced = draw(ax, s, shapes, norm, cmap)
        dots |= dict.fromkeys(dotted)
        missing |= dict.fromkeys(unplaced)
        if panel:
            ax.set_title(panel, fontsize=9)
    title(fig, heading, out.synthetic, out.metric)
    fig.tight_layout()
    fig.colorbar(ScalarMappable(norm, cmap), ax=axes, orientation="horizontal", fraction=0.04, pad=0.03,
                 aspect=50, shrink=0.6, label="alignment score (mean over items)")
    axes[0].legend(handles=[Patch(facecolor=NO_SCORE, label="no score"),
                            Line2D([], [], ls="", marker="o", mfc="white", mec="black", label="small country (dot)")],
                   loc="lower left", fontsize=7)  # in the empty South Pacific
    label_of = lambda code: names.get(code, f"country {code}")  # noqa: E731
    return WorldMap(save(fig, out, stem), tuple(map(label_of, dots)), tuple(map(label_of, missing)))
