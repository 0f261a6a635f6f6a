"""Where log records go when a script runs: stderr, with secrets taken out.

Like `logging.basicConfig`, a handler is added only when the root logger has none, so an
application (or pytest) that set up logging keeps its own. What a user asked to see (coverage
lines, scores, the files written) is returned by the library and printed by the script, never
carried by a log record.
"""
from __future__ import annotations

import logging

from utils.core.secrets import RedactSecrets


def log_to_stderr(level: int | str = logging.WARNING, fmt: str = "%(levelname)s: %(message)s") -> None:
    """Send records at `level` and above to stderr, every handler redacting secrets."""
    root = logging.getLogger()
    if isinstance(level, str):
        level = getattr(logging, level.upper(), logging.WARNING)
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(fmt))
        root.addHandler(handler)
        root.setLevel(level)
    for handler in root.handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())
