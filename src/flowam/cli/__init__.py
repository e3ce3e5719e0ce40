"""The ``flowam`` command line: a thin layer over the Python API.

Errors caused by input (:class:`~flowam.errors.FlowamError`) are printed as one line,
``error: ...``, with exit status 1; every command that draws random numbers takes
``--seed`` and every command that
writes a folder stores the configuration that produced it there (``config.json``).
"""

from __future__ import annotations

import sys
import warnings
from typing import Annotated

import typer

from flowam import __version__, stopping
from flowam.cli import data, experiments, explaining, training  # noqa: F401  (they register the commands)
from flowam.cli.options import app, check_out_option, console
from flowam.errors import FlowamError, FlowamWarning

__all__ = ["app", "check_out_option", "main"]


def _print_version(value: bool) -> None:
    """``--version``: print it and stop, before any command is looked for."""
    if value:
        print(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """flowam: global explanations of point cloud classifiers."""


def main() -> None:
    """Run the app, turning input errors into one line and exit status 1, flowam's
    warnings into one line each, and a stop (:mod:`flowam.stopping`; the stop line is
    printed when it is asked for) into exit status 130 (Ctrl-C) or 143 (SIGTERM)."""
    plain = warnings.showwarning

    def show(message, category, *args, **kwargs) -> None:
        if issubclass(category, FlowamWarning):
            console.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)
        else:
            plain(message, category, *args, **kwargs)

    warnings.showwarning = show
    try:
        app()  # ends in SystemExit (typer turns a KeyboardInterrupt into status 130)
    except FlowamError as e:
        console.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:  # a stop (stopping.Stopped) or a second signal
        sys.exit(stopping.exit_code())
    except SystemExit as e:
        # a requested stop also where the optimisation ended early and the command finished
        if stopping.requested() is not None and e.code in (None, 0, 130):
            sys.exit(stopping.exit_code())
        raise
