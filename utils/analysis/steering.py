"""What the analysis knows about an RQ2 condition from the project's inputs: its country's WVS
code, the items its few-shot prompt shows (scored without them: the prompt gives their real
shares), and the items the release's translated questionnaire lacks.

    >>> country_codes()["Japan"], sorted(few_shot_ids("Japan"))[:2]
    (392, ['Q110', 'Q130'])
"""
from __future__ import annotations

import json
from pathlib import Path

from utils.core.human.wave_map import country_names
from utils.core.errors import UserError
from utils.core.paths import INPUTS_DIR, read_json

METHODS = ["persona", "few-shot", "language", "language_persona", "language_few-shot"]


def _read(inputs_dir: Path, *parts: str) -> dict:
    return read_json(Path(inputs_dir).joinpath(*parts), "it is part of the project's inputs")


def methods(inputs_dir: Path = INPUTS_DIR) -> list[str]:
    """The steering methods in their file's order (the paper's five when the file is absent)."""
    path = Path(inputs_dir) / "steering" / "methods.json"
    return list(_read(inputs_dir, "steering", "methods.json")["methods"]) if path.is_file() else list(METHODS)


def country_codes(inputs_dir: Path = INPUTS_DIR) -> dict[str, int]:
    """Steering country name -> WVS code: inputs/steering/countries.json, else the WVS name."""
    codes = {name: code for code, name in country_names().items()}
    if (Path(inputs_dir) / "steering" / "countries.json").is_file():
        countries = _read(inputs_dir, "steering", "countries.json")["countries"]
        codes |= {k: int(v["wvs_code"]) for k, v in countries.items()}
    return codes


def country_code(country: str, codes: dict[str, int]) -> int:
    if country not in codes:
        raise UserError(f"RQ2 country {country!r} has no WVS code; add it to inputs/steering/countries.json")
    return codes[country]


def few_shot_ids(country: str, inputs_dir: Path = INPUTS_DIR, missing_ok: bool = False) -> set[str]:
    """The ids `country`'s few-shot prompts show (inputs/few_shot/<country>.json)."""
    path = Path(inputs_dir) / "few_shot" / f"{country}.json"
    if not path.is_file():
        if missing_ok:
            return set()
        raise UserError(f"{path} not found: RQ2 is scored without each country's few-shot items, listed there; "
                        "restore the RQ2 inputs (inputs/few_shot/) first")
    return {ex["id"] for ex in json.loads(path.read_text(encoding="utf-8"))["items"]}


def release_translation_gaps(method: str, country: str, inputs_dir: Path = INPUTS_DIR) -> tuple[str, ...]:
    """The items the release's translation lacks for a `language*` condition (China: Q83-Q90, ...),
    which the paper therefore scored without; () for conditions asked in English."""
    spec = _read(inputs_dir, "steering", "methods.json")["methods"].get(method) or {}
    if spec.get("language") != "country":
        return ()
    language = (_read(inputs_dir, "steering", "countries.json")["countries"].get(country) or {}).get("language", "")
    return tuple(_read(inputs_dir, "analysis", "release_translation_gaps.json")["languages"].get(language, ()))
