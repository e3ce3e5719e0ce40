"""Progress bars: one factory, so that every bar honours the same switches.

A bar is off when its caller says so (``progress=False``) or when ``TQDM_DISABLE`` is set
(to anything but ``""``, ``0``, ``false`` or ``no``); where stderr is not a terminal (a
log file, a pipe) it writes a line at most every :data:`LOG_INTERVAL` seconds instead of
redrawing itself many times a second.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm

LOG_INTERVAL = 10.0
"""Seconds between a bar's lines outside a terminal."""


def disabled_by_env() -> bool:
    """Whether ``TQDM_DISABLE`` turns every bar off."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no")


def bar(iterable: Iterable | None = None, *, progress: bool = True, **options: Any) -> tqdm:
    """A tqdm bar over ``iterable`` (or of ``total=...`` updates) with tqdm's ``options``,
    off where ``progress`` is False or the environment says so."""
    if not sys.stderr.isatty():
        options.setdefault("mininterval", LOG_INTERVAL)
        options.setdefault("maxinterval", LOG_INTERVAL * 3)
    return tqdm(iterable, disable=not progress or disabled_by_env(), **options)
