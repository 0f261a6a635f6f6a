"""A study file's probing keys as a script's own flags, checked by that script's own parser
(`plan.py`: `[probe]` and `[[models]]` keys -> `prob_by_*.py` flags). The analyses take their
options as values (`analyses.py`), not as flags.

    >>> from utils.probing.cli import local_parser
    >>> flag_argv(local_parser("RQ1"), {"max_new_tokens": 64, "quiet": True, "ids": ["Q1", "Q2"]}, "[probe]")
    ['--max-new-tokens', '64', '--quiet', '--ids', 'Q1,Q2']
"""
from __future__ import annotations

import argparse
import contextlib
import io
from typing import Any

from utils.core.errors import UserError
from utils.core.flag_parser import suggest

# set by the study itself ([output], [probe] methods, [[models]] model_name_or_path), never as a flag
RESERVED = ("results_root", "method", "dry_run", "help", "run_name", "model_name_or_path")


def flag_argv(parser: argparse.ArgumentParser, flags: dict[str, Any], where: str, script: str = "",
              reserved: tuple[str, ...] = RESERVED) -> list[str]:
    """`{"max_new_tokens": 64, "quiet": True, "ids": ["Q1", "Q2"]}` -> the parser's own spelling:
    `["--max-new-tokens", "64", "--quiet", "--ids", "Q1,Q2"]`. False leaves a switch off. A key
    that is no flag, or one the study sets itself (`reserved`), is a UserError with the nearest key."""
    known = parser._option_string_actions  # noqa: SLF001 - the parser's own table of flag spellings
    argv: list[str] = []
    for key, value in flags.items():
        opt = next((o for o in (f"--{key.replace('_', '-')}", f"--{key}", f"--{key.replace('-', '_')}") if o in known),
                   None)
        if opt is None or known[opt].dest in reserved:
            script = script or "code/RQ1/prob_by_api.py"
            keys = {a.dest for a in parser._actions if a.option_strings and a.dest not in reserved}  # noqa: SLF001
            raise UserError(f"{where}: {key!r} is not a flag of {script} that a study may set"
                            f"{suggest(key, sorted(keys))}; see python {script} --help")
        if isinstance(value, bool):
            argv += [opt] if value else []
        elif isinstance(value, list):
            argv += [opt, ",".join(map(str, value))]
        else:
            argv += [opt, str(value)]
    return argv


def parse(parser: argparse.ArgumentParser, argv: list[str], where: str) -> dict[str, Any]:
    """The parsed flags of `parser.parse_args(argv)` as a dict (the study keeps no parser's
    namespace), its one-line complaint turned into a `UserError` naming `where`."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return vars(parser.parse_args(argv))
    except SystemExit:
        msg = err.getvalue().strip().splitlines()
        raise UserError(f"{where}: {msg[-1] if msg else 'bad flags'}") from None
