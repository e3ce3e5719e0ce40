"""Stopping a command cleanly on Ctrl-C (SIGINT) or SIGTERM.

The command line installs :func:`install` before it imports anything heavy. The first
signal only records the request and prints one line; the work notices it where it can
stop without losing anything:

- the optimisation (:mod:`flowam.engine`) ends its steps, and the clouds reached so far are
  written as explanations whose status says where they stopped;
- everything else calls :func:`check` between units of work (an object generated, a
  batch scored, a run finished), which raises :class:`Stopped`.

A second signal raises :class:`KeyboardInterrupt` wherever the program is, so it quits at
once; files are written to a temporary name and renamed, so what is left is complete.
The command line exits with 130 after Ctrl-C and 143 after SIGTERM.

A flag rather than an exception for the first signal: libraries that catch
``BaseException`` around their optional imports (trimesh does) would swallow an
exception raised while they are imported.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}
"""How the stop line names each signal."""

_requested: int | None = None


class Stopped(KeyboardInterrupt):
    """The work stopped at a user's request (the first Ctrl-C or SIGTERM)."""


def requested() -> int | None:
    """The signal that asked the program to stop, or None."""
    return _requested


def exit_code(signum: int | None = None) -> int:
    """The exit status of a stop by ``signum`` (default: the one requested): 128 + it."""
    return 128 + int(signum or _requested or signal.SIGINT)


def check() -> None:
    """Raise :class:`Stopped` where a stop was requested."""
    if _requested is not None:
        raise Stopped(NAMES.get(_requested, f"signal {_requested}"))


def _handle(signum: int, _frame: FrameType | None) -> None:
    global _requested
    if _requested is not None:
        raise KeyboardInterrupt  # the second signal: quit now
    _requested = signum
    name = NAMES.get(signum, f"signal {signum}")
    again = "Ctrl-C again" if signum == signal.SIGINT else "a second signal"
    os.write(
        sys.stderr.fileno(),
        f"stopping ({name}): keeping what is finished; {again} quits at once\n".encode(),
    )


def install() -> None:
    """Handle SIGINT and SIGTERM as above (in the main thread of the main interpreter)."""
    for signum in NAMES:
        signal.signal(signum, _handle)


def finished() -> None:
    """The command is over (its files written): a signal from now on, while the
    interpreter shuts down, ends the process at once with its stop status, instead of
    a KeyboardInterrupt that Python would turn into death by the signal."""
    for signum in NAMES:
        signal.signal(signum, lambda received, _frame: os._exit(exit_code(received)))


def reset() -> None:
    """Forget a recorded request (tests, and a program that handled its stop)."""
    global _requested
    _requested = None
