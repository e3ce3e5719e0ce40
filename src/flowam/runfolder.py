"""The life of a run folder: one run per folder, one process at a time, and a record of
how the run ended.

Every command that writes a folder of results claims it first (:func:`claim`):

- a folder that is absent or empty is taken;
- a folder that holds a flowam run (its ``run.json`` or ``config.json``) is refused
  unless ``overwrite`` (every file in it is removed first) or ``resume`` (``train
  --resume``: a run of the same command is continued in place);
- a folder that holds anything else is refused even with ``overwrite``: flowam deletes
  no file it did not write;
- while the command runs, the lock file ``.flowam.lock`` (the process id) keeps every
  other flowam process out; a lock whose process is gone is taken over;
- temporary files a killed process left (``.flowam-tmp.*``, :func:`flowam.cache.atomic_path`)
  are removed.

``run.json`` records the command, the process and how the run ended: ``running``, then
``complete``, ``stopped (Ctrl-C)`` / ``stopped (SIGTERM)`` (every file finished before the
stop is complete; explanations stopped mid-way say at which step) or ``failed: <error>``.
A command that fails on its input before writing any result leaves no folder behind (or
an emptied one, where it existed).

``shared=True`` (``flowam sweep``, whose workers join one study in one folder) takes no
lock and writes no ``run.json``; it refuses only a folder that holds another command's
run or files that are not flowam's.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from flowam import cache, stopping
from flowam.errors import FlowamError

LOCK = ".flowam.lock"
RECORD = "run.json"
MARKERS = (RECORD, "config.json")
"""Files whose presence marks a folder as a flowam run."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


FRESH = 10.0
"""Seconds during which a lock without a readable process id counts as held (its process
may not have written the id yet)."""


def _held_by(path: Path) -> int | str | None:
    """The live process holding ``path``'s lock ("?" for a fresh lock that does not say
    yet), or None (no lock, or a stale one)."""
    lock = path / LOCK
    try:
        pid = int(lock.read_text().split()[0])
    except (ValueError, IndexError):
        try:
            return "?" if time.time() - lock.stat().st_mtime < FRESH else None
        except OSError:
            return None
    except OSError:
        return None
    return pid if pid != os.getpid() and _alive(pid) else None


def _lock(path: Path) -> None:
    """Take ``path``'s lock (a one-line error where a live process holds it)."""
    lock = path / LOCK
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid = _held_by(path)
            if pid is not None:
                raise FlowamError(
                    f"{path}: another flowam process (pid {pid}) is writing into it; wait for "
                    "it to end or choose another --out"
                ) from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        except OSError as e:
            raise FlowamError(f"{lock}: cannot be written: {e.strerror or e}") from None
        try:
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()}\n")
        except OSError as e:
            lock.unlink(missing_ok=True)
            raise FlowamError(f"{lock}: cannot be written: {e.strerror or e}") from None
        return
    raise FlowamError(f"{path}: cannot take its lock file {LOCK}")


def contents(path: Path) -> list[Path]:
    """What ``path`` holds besides the lock and temporary files."""
    if not path.is_dir():
        return []
    return [p for p in path.iterdir() if p.name != LOCK and not cache.is_temporary(p)]


def previous_command(path: Path) -> str | None:
    """The command of the flowam run ``path`` holds, ``"?"`` for a run that does not say,
    or None where it holds no flowam run."""
    for name in MARKERS:
        try:
            record = json.loads((path / name).read_text())
        except FileNotFoundError:
            continue
        except (OSError, ValueError):
            return "?"
        return str(record.get("command", "?")) if isinstance(record, dict) else "?"
    return None


def _empty(path: Path) -> None:
    for p in path.iterdir():
        if p.name == LOCK:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def write_record(path: Path, command: str, status: str, started: float) -> None:
    """Write ``run.json``: the command, the process, when it started and its status."""
    record = {
        "command": command,
        "status": status,
        "pid": os.getpid(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
    }
    cache.write_json(path / RECORD, record)


def check(path: Path, command: str, *, overwrite: bool = False, resume: bool = False) -> bool:
    """Whether ``path`` may hold a new run of ``command`` (True: it holds an old run that
    ``overwrite`` will remove); a one-line error where it may not. Creates nothing."""
    problem = cache.folder_problem(path)
    if problem:
        raise FlowamError(f"--out {path}: {problem}")
    held = contents(path)
    if not held:
        return False
    previous = previous_command(path)
    if previous is None:
        raise FlowamError(
            f"--out {path}: holds files that are not a flowam run ({held[0].name}, ...); "
            "choose an empty or new folder"
        )
    if resume and previous == command:
        return False
    if overwrite:
        return True
    raise FlowamError(
        f"--out {path}: holds an earlier run ({previous}); pass --overwrite to replace it, "
        "or choose another --out"
    )


def _final_record(path: Path, command: str, status: str, started: float) -> None:
    """:func:`write_record` at the end of a run that already has an error to report (a
    record that cannot be written, as on a full disk, must not hide it)."""
    with suppress(FlowamError):
        write_record(path, command, status, started)


def _say_stopped(path: Path) -> None:
    print(f"stopped: what was finished is in {path} (run.json says so)", file=sys.stderr)


def _missing(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, deepest first: what a
    claim creates."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first) while they are empty: a refused run leaves none
    of the folders its claim made."""
    for folder in folders:
        if not folder.is_dir() or any(folder.iterdir()):
            return
        folder.rmdir()


@contextmanager
def claim(
    path: Path,
    command: str,
    *,
    overwrite: bool = False,
    resume: bool = False,
    shared: bool = False,
) -> Iterator[Path]:
    """Hold ``path`` for one run of ``command`` while the block runs (rules above)."""
    path = Path(path)
    made = _missing(path)
    if shared:
        check(path, command, overwrite=overwrite, resume=True)
        cache.make_folder(path)
        try:
            yield path
        except FlowamError:
            if made and {p.name for p in contents(path)} <= set(MARKERS):
                shutil.rmtree(path)  # refused before any result: as if never begun
                _remove_empty(made[1:])
            raise
        return
    started = time.time()
    check(path, command, overwrite=overwrite, resume=resume)  # before the lock: a clear line
    cache.make_folder(path)
    _lock(path)
    try:
        replace = check(path, command, overwrite=overwrite, resume=resume)
        if replace:
            _empty(path)
        cache.remove_temporary(path)
        was_empty = not contents(path)
        write_record(path, command, "running", started)
        try:
            yield path
        except FlowamError as e:
            left = {p.name for p in contents(path)}
            if was_empty and left <= set(MARKERS):
                for name in left:
                    (path / name).unlink()
            else:
                _final_record(path, command, f"failed: {e}", started)
            raise
        except KeyboardInterrupt:
            name = stopping.NAMES.get(stopping.requested() or 0, "Ctrl-C")
            _final_record(path, command, f"stopped ({name})", started)
            _say_stopped(path)
            raise
        except Exception as e:
            _final_record(path, command, f"failed: {type(e).__name__}: {e}", started)
            raise
        else:
            if stopping.requested() is not None:
                name = stopping.NAMES.get(stopping.requested(), "a signal")
                write_record(path, command, f"stopped ({name})", started)
                _say_stopped(path)
            else:
                write_record(path, command, "complete", started)
    finally:
        (path / LOCK).unlink(missing_ok=True)
        _remove_empty(made)
