"""Options as the Python API declares them and the command line reads them: dataclass
fields that say what they mean (the help text of the option made from the field,
:func:`flowam.cli.options.signature`, kept beside the default so both read one
declaration), the fewest points per cloud an option accepts, and comma-separated values."""

from __future__ import annotations

import dataclasses
from typing import Any

MIN_POINTS = 32
"""The fewest points per cloud an option accepts (DGCNN's neighbourhoods need 20)."""


def described(default: Any, help: str, **metadata: Any) -> Any:
    """A dataclass field with ``default`` and ``help`` (``metadata``: e.g. ``min``, the
    least value the option accepts)."""
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


def comma_list(text: str | None) -> list[str] | None:
    """The non-empty, stripped entries of a comma-separated value (None stays None)."""
    return None if text is None else [x.strip() for x in text.split(",") if x.strip()]
