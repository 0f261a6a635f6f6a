"""One exception type for problems the user can fix; scripts print it as a single line."""


class UserError(Exception):
    """Bad input or configuration. The message says what is wrong and what to do."""


class Stopped(Exception):
    """A request abandoned because the run is stopping (Ctrl-C, SIGTERM, a `UserError` elsewhere):
    nothing to record, nothing to retry."""
