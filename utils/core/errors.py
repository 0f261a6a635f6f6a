"""`UserError` for problems the user can fix (scripts print it as a single line), and `Stopped`."""


class UserError(Exception):
    """Bad input or configuration. The message says what is wrong and what to do."""


class Stopped(Exception):
    """The run is stopping (Ctrl-C, SIGTERM, a `UserError` elsewhere): nothing to record or retry."""
