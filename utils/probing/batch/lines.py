"""What goes into a batch and what comes out of one, as pure functions.

One input line per request, its body exactly what the synchronous path sends; the custom_id names
the condition's folder, the item and the attempt, so an answer finds its row in any order:

    {"custom_id": "RQ1/gpt-4o|Q1|1", "method": "POST", "url": "/v1/chat/completions",
     "body": {"model": "gpt-4o", "messages": [...], "temperature": 0.0, "max_tokens": 512}}

An output (or error file) line:

    {"custom_id": "...", "response": {"status_code": 200, "body": {chat completion}}, "error": null}
"""
from __future__ import annotations

import json
from typing import NamedTuple

from utils.core.secrets import redact
from utils.probing.backends import Failure
from utils.probing.backends.api import wire

ENDPOINT = "/v1/chat/completions"


class Key(NamedTuple):
    """Which request a line is: the condition's results folder, the item, the attempt (1-based)."""

    folder: str
    item_id: str
    attempt: int

    def custom_id(self) -> str:
        return f"{self.folder}|{self.item_id}|{self.attempt}"


def parse_custom_id(custom_id: str) -> Key | None:
    """`"RQ1/m|Q1|2"` -> Key("RQ1/m", "Q1", 2); None for one this client did not write."""
    parts = str(custom_id).rsplit("|", 2)
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return Key(parts[0], parts[1], int(parts[2]))


def input_line(key: Key, body: dict) -> str:
    return json.dumps({"custom_id": key.custom_id(), "method": "POST", "url": ENDPOINT, "body": body},
                      ensure_ascii=False, sort_keys=True)


def read_jsonl(text: str) -> tuple[list[dict], int]:
    """The JSON objects of a file, and how many of its non-empty lines were not one."""
    out, bad = [], 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            out.append(obj)
        else:
            bad += 1
    return out, bad


def outcome(line: dict) -> tuple[dict | Failure, bool]:
    """(the reply's body, False), or (its Failure, whether to ask again in a follow-up batch: 429, 5xx
    or no response, as the synchronous path retries)."""
    response = line.get("response") if isinstance(line.get("response"), dict) else {}
    error = line.get("error")
    status, body = response.get("status_code"), response.get("body")
    if status == 200 and not error:
        return body, False
    message = body["error"].get("message", "") if isinstance(body, dict) and isinstance(body.get("error"), dict) else ""
    if isinstance(error, dict):
        message = message or f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    reason = redact(f"batch line {'HTTP ' + str(status) if status else 'without a response'}: {message}"[:500])
    again = status is None or status == 429 or (isinstance(status, int) and status >= 500)
    return Failure(reason, redact(wire.raw(line))), again
