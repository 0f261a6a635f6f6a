"""The WVS's fixed facts: the cross-wave item mapping, country names, the official files' country
and weight columns, and which items a wave's file holds. `dataset/questions/WV567.jsonl`::

    {"id": "Q1", "variables": {"7": "Q1", "6": "V4", "5": "V4"}, "choice_keys": [...],
     "order": [...], "scale": "ordinal", "recode": {}, "note": "..."}

`recode`: wave -> `{code in that wave: Wave 7 code}` for scales that differ, applied before counting.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from utils.core.errors import UserError
from utils.core.paths import QUESTIONS_DIR, REPO_ROOT
from utils.core.records import SurveyItem

log = logging.getLogger(__name__)

WAVE_MAP_PATH = QUESTIONS_DIR / "WV567.jsonl"
COUNTRIES_PATH = REPO_ROOT / "dataset" / "countries.json"
LONG_COLUMNS = ["wave", "country_code", "country", "group_var", "group", "item_id", "variable", "option", "status",
                "count", "weighted_count"]
# Country and weight variables of the official wave files, as downloaded.
WAVE_COLUMNS = {7: ("B_COUNTRY", "W_WEIGHT"), 6: ("V2", "V258"), 5: ("V2", "V259")}
SYNTHETIC_MARKER = "SYNTHETIC_DATA"  # a column that `dataset/make_synthetic_wvs.py` adds
# Options that state no opinion; dropped only when asked (`--drop-nonsubstantive`).
NON_SUBSTANTIVE = {"Q119": ("0",), **{f"Q{n}": ("1",) for n in range(122, 130)}}


@dataclass(frozen=True)
class WaveItem:
    id: str
    variables: dict[int, str]
    choice_keys: tuple[str, ...]
    order: tuple[str, ...]
    scale: str = "ordinal"
    recode: dict[int, dict[str, str]] = field(default_factory=dict)
    note: str = ""


def load_wave_map(path: Path = WAVE_MAP_PATH) -> list[WaveItem]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"cross-wave mapping {path} not found")
    out = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            o = json.loads(line)
            item = WaveItem(id=o["id"], variables={int(w): v for w, v in o["variables"].items()},
                            choice_keys=tuple(map(str, o["choice_keys"])), order=tuple(map(str, o["order"])),
                            scale=o.get("scale", "ordinal"), note=o.get("note", ""),
                            recode={int(w): {str(a): str(b) for a, b in m.items()}
                                    for w, m in (o.get("recode") or {}).items()})
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UserError(f"{path}, line {lineno}: not a mapping entry ({exc!r})") from None
        bad = {b for m in item.recode.values() for b in m.values()} - set(item.choice_keys)
        if sorted(item.order) != sorted(item.choice_keys) or bad:
            raise UserError(f"{path}, line {lineno}: order/recode of {item.id} must use the codes {item.choice_keys}")
        out.append(item)
    return out


def country_names(path: Path = COUNTRIES_PATH) -> dict[int, str]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {int(c["code"]): c["name"] for c in data["countries"]}


@dataclass(frozen=True)
class ItemSpec:
    id: str
    variable: str
    order: tuple[str, ...]
    recode: dict[str, str] = field(default_factory=dict)


def wave_items(wave: int, items: list[SurveyItem], wave_map: list[WaveItem]) -> list[ItemSpec]:
    """Wave 7: the questionnaire's items plus the mapping's others (Q151); waves 5 and 6: the
    mapping's items under their V-names."""
    if wave not in WAVE_COLUMNS:
        raise UserError(f"wave must be one of {sorted(WAVE_COLUMNS)}, not {wave}")
    if wave == 7:
        specs = [ItemSpec(it.id, it.id, it.order) for it in items]
        known = {it.id for it in items}
        return specs + [ItemSpec(w.id, w.variables[7], w.order, w.recode.get(7, {}))
                        for w in wave_map if w.id not in known]
    return [ItemSpec(w.id, w.variables[wave], w.order, w.recode.get(wave, {})) for w in wave_map]


