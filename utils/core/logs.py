"""Where log records go when a script runs: the current `sys.stderr`, with secrets taken out.

`logging.basicConfig` binds its handler to the `sys.stderr` of its first call. The study runner
and the tests run several scripts in one process, each with its own stderr, so a bound handler
later writes to a closed stream ("--- Logging error ---"). This handler looks `sys.stderr` up at
each record instead. Like `basicConfig`, it is added only when the root logger has no handler,
so an application (or pytest) that set up logging keeps its own.
"""
from __future__ import annotations

import logging
import sys

from utils.core.secrets import RedactSecrets


class CurrentStreamHandler(logging.StreamHandler):
    """A StreamHandler whose stream is always the current `sys.stderr` (or `sys.stdout`)."""

    def __init__(self, which: str = "stderr"):
        self.which = which
        super().__init__()

    @property
    def stream(self):
        return getattr(sys, self.which)

    @stream.setter
    def stream(self, _value):  # StreamHandler.__init__ assigns it; the property ignores that
        pass


def log_to_stderr(level: int | str = logging.WARNING, fmt: str = "%(levelname)s: %(message)s") -> None:
    """Send records at `level` and above to the current stderr, every handler redacting secrets."""
    root = logging.getLogger()
    if isinstance(level, str):
        level = getattr(logging, level.upper(), logging.WARNING)
    if not root.handlers:
        handler = CurrentStreamHandler()
        handler.setFormatter(logging.Formatter(fmt))
        root.addHandler(handler)
        root.setLevel(level)
    for handler in root.handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())
