"""Errors a user can cause. Each carries one line that names the culprit and the problem.

The command-line interface prints ``error: <message>`` for these and exits with status 1,
never a traceback; from Python they are ordinary exceptions (also ``ValueError``).
"""


class FlowamError(ValueError):
    """Base class for every error caused by input (files, options, class names)."""


class DataError(FlowamError):
    """A dataset root, index or point file is missing, malformed or unsuitable."""


class FlowamWarning(UserWarning):
    """Something a user should know that does not stop the work (one line, like errors);
    the command-line interface prints it as ``warning: <message>``."""
