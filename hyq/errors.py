"""The one exception type the command line turns into a one-line error message."""


class HyqError(Exception):
    """A user-facing error: the message names the problem and what to do about it."""
