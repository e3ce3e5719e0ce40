"""The on-disk cache: where it lives, how entries are keyed, and atomic writes.

Entries are files named by a hash of the parameters that produced them. They are
written to a temporary file in the same folder and renamed into place, so a reader never
sees half an entry; an entry that cannot be read is treated as absent and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from flowam.errors import FlowamError, FlowamWarning

_UMASK = os.umask(0)
os.umask(_UMASK)


def cache_dir() -> Path:
    """The cache root: ``$FLOWAM_CACHE_DIR`` if set, else ``~/.cache/flowam``."""
    env = os.environ.get("FLOWAM_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "flowam"


def key(params: dict[str, Any]) -> str:
    """A short stable hash of JSON-serialisable parameters."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def folder_problem(path: Path) -> str | None:
    """Why folder ``path`` can neither be used nor created, or None (nothing is created):
    it is a file, or its nearest existing ancestor is a file or cannot be written."""
    if path.exists():
        return None if path.is_dir() else "is a file"
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"cannot be created: {ancestor} is a file"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"cannot be created: {ancestor} is not writable"
    return None


def make_folder(path: Path) -> Path:
    """Create folder ``path`` and its parents (a one-line :class:`FlowamError` where that
    cannot be done)."""
    problem = folder_problem(path)
    if problem is None:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            problem = f"cannot be created: {e.strerror or e}"
    if problem is not None:
        raise FlowamError(f"{path}: {problem}")
    return path


TEMPORARY = ".flowam-tmp."
"""Prefix of the temporary files :func:`atomic_path` writes (a killed process leaves them)."""


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is a temporary file of :func:`atomic_path`."""
    return path.name.startswith(TEMPORARY)


def remove_temporary(folder: Path) -> None:
    """Remove the temporary files a killed process left in ``folder`` (not below it)."""
    for p in folder.glob(f"{TEMPORARY}*"):
        p.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    The temporary file keeps ``path``'s suffix so that writers which append one (numpy)
    write exactly where they are told. An operating-system error while writing (a full
    disk, a read-only folder) becomes one :class:`FlowamError` naming ``path``, and the
    temporary file is removed: ``path`` is either the old file or the whole new one.
    """
    make_folder(path.parent)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(
            dir=path.parent, prefix=f"{TEMPORARY}{path.stem}.", suffix=path.suffix
        )
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give what open() would
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as e:
        raise FlowamError(f"{path}: cannot be written: {e.strerror or e}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def finite(value: Any) -> Any:
    """``value`` with every non-finite number (NaN, ±inf) replaced by None, through dicts,
    lists and tuples; numpy scalars become Python numbers. Strict JSON has no NaN."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any, indent: int | None = 2) -> str:
    """``value`` as strict JSON (:func:`finite`; what JSON cannot hold as its text)."""
    return json.dumps(finite(value), indent=indent, default=str, allow_nan=False)


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` to ``path`` as strict JSON (:func:`dumps`), atomically."""
    write_text(path, dumps(value) + "\n")


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Save arrays as an uncompressed ``.npz`` atomically (uncompressed loads fastest)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


_READING = threading.Lock()
"""One ``np.load`` at a time: numpy parses each array header with ``ast.literal_eval``,
and CPython 3.11's parser is not thread-safe (concurrent calls, as from the threads that
build class starts, fail with "AST constructor recursion depth mismatch")."""


def load_arrays(path: Path, names: list[str]) -> dict[str, np.ndarray] | None:
    """Load the named arrays from ``path``; None if the file is absent, corrupt or partial.
    Safe to call from several threads."""
    try:
        with _READING, np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in names}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


_unwritable: list[str] = []
"""The first cache write that failed in this process (it is warned about once)."""


def keep(path: Path, value: Any, write: Callable[[Path, Any], None] = save_arrays) -> None:
    """Store a cache entry with ``write``. The cache is optional: where the entry cannot be
    written (no space, no permission), warn once per process and go on without it."""
    try:
        write(path, value)
    except FlowamError as e:
        if not _unwritable:
            _unwritable.append(str(e))
            warnings.warn(
                f"the cache is not written ({e}); going on without it (set FLOWAM_CACHE_DIR "
                "to a writable folder with space to keep generated data between runs)",
                FlowamWarning,
                stacklevel=2,
            )


def cached_arrays(
    path: Path, names: list[str], build: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Return the arrays stored at ``path``, building and keeping them (:func:`keep`) when
    unreadable."""
    arrays = load_arrays(path, names)
    if arrays is None:
        arrays = build()
        keep(path, arrays)
    return arrays
