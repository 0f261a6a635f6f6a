"""Loading questionnaires (`dataset/questions/WV7_<Language>.jsonl`) into `SurveyItem`s; one item a line:
    {"id": "Q1", "question": "...", "choices": ["Very important", ...],
     "choice_keys": ["1", "2", "3", "4"], "answer": "1. Very important\\n...",
     "type": "Opinion-Dependent", "scale": "ordinal", "order": ["1", "2", "3", "4"]}
Without `scale` and `order` (the release's files) an item is ordinal in `choice_keys` order, as the paper scores it.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from utils.core.errors import UserError
from utils.core.paths import QUESTIONS_DIR
from utils.core.records import SurveyItem

REQUIRED = ("id", "question", "choices", "choice_keys", "answer")
# "1. Very important" at the start of a line of `answer`: the options as the model sees them
ANSWER_CODE = re.compile(r"^\s*([^\s.]+)\.\s", re.M)


def questionnaire_path(language: str = "English", questions_dir: Path | None = None) -> Path:
    return Path(questions_dir or QUESTIONS_DIR) / f"WV7_{language}.jsonl"


def load_questionnaire(path: Path, language: str = "English") -> list[SurveyItem]:
    """Any bad line is a UserError naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"questionnaire {path} not found; --questions-dir must hold WV7_<Language>.jsonl "
                        "for every language the run asks in (dataset/questions has them all)")
    items: list[SurveyItem] = []
    seen: set[str] = set()
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            where = f"{path}, line {lineno}"
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise UserError(f"{where}: not UTF-8 text; save the questionnaire as UTF-8") from None
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{where}: not valid JSON ({exc.msg}); fix that line") from None
            item = _item_from_json(obj, where, language)
            if item.id in seen:
                raise UserError(f"{where}: item id {item.id} appears twice; keep one line per item")
            seen.add(item.id)
            items.append(item)
    if not items:
        raise UserError(f"questionnaire {path} has no items")
    return items


def _item_from_json(obj: object, where: str, language: str) -> SurveyItem:
    if not isinstance(obj, dict):
        raise UserError(f"{where}: expected a JSON object per line")
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise UserError(f"{where}: missing field(s) {', '.join(missing)}")
    keys = [str(k) for k in obj["choice_keys"]]
    choices = [str(c) for c in obj["choices"]]
    if len(keys) < 2 or len(keys) != len(choices):
        raise UserError(
            f"{where}: item {obj['id']} has {len(keys)} option codes for {len(choices)} options; "
            "choice_keys and choices must pair up (at least two)"
        )
    if len(set(keys)) != len(keys):
        raise UserError(f"{where}: item {obj['id']} repeats an option code in choice_keys {keys}")
    order = [str(k) for k in obj.get("order") or keys]
    if sorted(order) != sorted(keys):
        raise UserError(f"{where}: item {obj['id']} 'order' {order} must list exactly the codes {keys}")
    shown = ANSWER_CODE.findall(str(obj["answer"]))
    if obj["answer"] and sorted(shown) != sorted(keys):
        raise UserError(f"{where}: item {obj['id']} shows options {shown} in 'answer' but scores choice_keys "
                        f"{keys}; make the numbered lines of 'answer' use exactly the codes in choice_keys")
    scale = obj.get("scale", "ordinal")
    if scale not in ("ordinal", "nominal"):
        raise UserError(f"{where}: item {obj['id']} scale must be 'ordinal' or 'nominal', not {scale!r}")
    return SurveyItem(
        id=str(obj["id"]),
        question=str(obj["question"]),
        choices=tuple(choices),
        choice_keys=tuple(keys),
        answer=str(obj["answer"]),
        type=str(obj.get("type", "Opinion-Dependent")),
        scale=scale,
        order=tuple(order),
        language=language,
    )
