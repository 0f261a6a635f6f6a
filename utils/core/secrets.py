"""The one secret filter every file, log and error line passes through, so no API key is written.

A secret is a value, not a name: a registered key, or the value of a variable like `*_API_KEY`,
`*_TOKEN`, `*_SECRET`: so `max_new_tokens` stays in the metadata, and a key a server echoes goes.
"""
from __future__ import annotations

import logging
import os
import re

_SECRETS: set[str] = set()
_SECRET_ENV = re.compile(r"(^|_)(API_?KEY|KEY|TOKEN|SECRET|PASSWORD)$", re.I)


def register_secret(value: str | None) -> None:
    if value and len(value) >= 8:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """Every known secret replaced by `[redacted]`:

    >>> register_secret("sk-canary-0123456789")
    >>> redact("Incorrect API key provided: sk-canary-0123456789")
    'Incorrect API key provided: [redacted]'
    """
    if not text:
        return text
    known = _SECRETS | {v for k, v in os.environ.items() if _SECRET_ENV.search(k) and len(v) >= 8}
    for secret in sorted(known, key=len, reverse=True):  # longest first: one key may contain another
        if secret in text:
            text = text.replace(secret, "[redacted]")
    return text


def redact_value(value):
    """`redact` on every string of a JSON-like value."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value


class RedactSecrets(logging.Filter):
    """Every log record, ours and the libraries', tracebacks included."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
