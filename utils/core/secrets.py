"""The one secret filter: what the results store, the logs, error lines and `run_meta.json` pass
their text through, so an API key never reaches a file or a terminal.

A secret is a value, not a name: a key the run registered (`register_secret`) or the value of an
environment variable named like `*_API_KEY`, `*_TOKEN`, `*_SECRET`, `*_PASSWORD`. Matching on
values (rather than on argument names containing "token") keeps harmless settings such as
`max_new_tokens` in the metadata while still removing a key echoed back by a server.
"""
from __future__ import annotations

import logging
import os
import re

_SECRETS: set[str] = set()
_SECRET_ENV = re.compile(r"(^|_)(API_?KEY|KEY|TOKEN|SECRET|PASSWORD)$", re.I)


def register_secret(value: str | None) -> None:
    """Remember a secret (an API key) so that `redact` removes it from anything written."""
    if value and len(value) >= 8:
        _SECRETS.add(value)


def known_secrets() -> set[str]:
    """Registered secrets plus the values of secret-named environment variables (8+ characters)."""
    return _SECRETS | {v for k, v in os.environ.items() if _SECRET_ENV.search(k) and len(v) >= 8}


def redact(text: str) -> str:
    """`text` with every known secret replaced by `[redacted]`.

    >>> register_secret("sk-canary-0123456789")
    >>> redact("Incorrect API key provided: sk-canary-0123456789")
    'Incorrect API key provided: [redacted]'
    """
    if not text:
        return text
    for secret in sorted(known_secrets(), key=len, reverse=True):  # longest first: one key may contain another
        if secret in text:
            text = text.replace(secret, "[redacted]")
    return text


def redact_value(value):
    """`value` (a JSON-like structure) with every string passed through `redact`."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value


class RedactSecrets(logging.Filter):
    """Take secrets out of every log record (ours and the libraries'), tracebacks included."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
