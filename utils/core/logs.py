"""Where log records go when a script runs: stderr, with secrets taken out. As with `basicConfig`,
a handler is added only when the root logger has none, so an application (or pytest) keeps its own."""
from __future__ import annotations

import logging

from utils.core.secrets import RedactSecrets


def log_to_stderr(level: int | str = logging.WARNING, fmt: str = "%(levelname)s: %(message)s") -> None:
    """Every handler, ours or not, gets the secret filter."""
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
