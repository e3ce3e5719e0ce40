"""Dataclass fields that say what they mean: the help text a command-line option made
from the field shows (:func:`flowam.cli.options.signature`), kept beside the default so
the Python API and the command line read one declaration."""

from __future__ import annotations

import dataclasses
from typing import Any


def described(default: Any, help: str, **metadata: Any) -> Any:
    """A dataclass field with ``default`` and ``help`` (``metadata``: e.g. ``min``, the
    least value the option accepts)."""
    return dataclasses.field(default=default, metadata={"help": help, **metadata})
