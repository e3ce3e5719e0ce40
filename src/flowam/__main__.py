"""``flowam`` and ``python -m flowam``: handle stops first, then run the command line.

The stop handlers (:mod:`flowam.stopping`) are installed before :mod:`flowam.cli` and
the libraries it pulls in are imported, so that a Ctrl-C or SIGTERM that lands while they
load (a few seconds) ends the command with one line too.
"""

from __future__ import annotations

import sys


def main() -> None:
    """The ``flowam`` entry point."""
    from flowam import stopping

    stopping.install()
    try:
        from flowam.cli import main as run
    except KeyboardInterrupt:  # a second signal while importing
        sys.exit(stopping.exit_code())
    if stopping.requested() is not None:
        sys.exit(stopping.exit_code())
    try:
        run()
    except KeyboardInterrupt:  # a second signal while the command was ending
        sys.exit(stopping.exit_code())
    finally:
        stopping.finished()


if __name__ == "__main__":
    main()
