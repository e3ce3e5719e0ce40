"""Reading a run folder back (``flowam evaluate``, ``flowam report``), every file checked.

A run folder is written by flowam, but it lives on a user's disk: a file may be truncated
by a full disk, replaced by hand or copied from elsewhere. Each reader here either returns
what the writer (:mod:`flowam.outputs`) wrote or raises one :class:`FlowamError` naming
the file and what is wrong with it; none of them unpickles anything.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from flowam.cache import dumps
from flowam.engine import Explanations
from flowam.errors import FlowamError, FlowamWarning


def read_json(path: Path) -> Any:
    """The JSON value in ``path``."""
    try:
        return json.loads(Path(path).read_text())
    except UnicodeDecodeError:
        raise FlowamError(f"{path}: is not a JSON file (not text)") from None
    except json.JSONDecodeError as e:
        raise FlowamError(f"{path}: malformed JSON ({e.msg}, line {e.lineno})") from None
    except RecursionError:
        raise FlowamError(f"{path}: malformed JSON (nested too deeply)") from None
    except OSError as e:
        raise FlowamError(f"{path}: cannot be read: {e.strerror or e}") from None


def read_cloud(path: Path) -> np.ndarray:
    """The ``(N, 3)`` cloud in ``.npy`` file ``path`` (N ≥ 1), as float32 (non-finite
    coordinates are returned as they are: the caller decides)."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise FlowamError(f"{path}: cannot be read: {e.strerror or e}") from None
    try:
        cloud = np.load(path, allow_pickle=False)
    except Exception as e:  # a damaged header fails in numpy's parser in many ways
        why = "is not a numpy array file"
        if magic == b"\x93NUMPY" and "pickle" in str(e):
            why = "holds Python objects"
        raise FlowamError(f"{path}: {why}; expected an (N, 3) array of floats") from None
    if not isinstance(cloud, np.ndarray):  # an .npz archive under a .npy name
        cloud.close()
        raise FlowamError(f"{path}: is an archive, not one array; expected (N, 3) floats")
    if cloud.dtype.kind not in "iuf":
        raise FlowamError(f"{path}: holds {cloud.dtype} values; expected (N, 3) floats")
    if cloud.ndim != 2 or cloud.shape[1] != 3 or cloud.shape[0] == 0:
        raise FlowamError(f"{path}: holds an array of shape {cloud.shape}; expected (N, 3), N ≥ 1")
    return cloud.astype(np.float32, copy=False)


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of ``.npz`` file ``path`` by name, the file closed (empty where the file is
    missing)."""
    if not Path(path).is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return {k: arrays[k] for k in arrays.files}
    except Exception as e:  # a damaged archive or header fails in many ways
        why = "holds Python objects" if "pickle" in str(e) else "is not a readable .npz file"
        raise FlowamError(f"{path}: {why}") from None


FAR = 1e6
"""Coordinates beyond ±FAR are no point cloud (objects are scaled into the unit sphere)."""


def usable(path: Path, cloud: np.ndarray) -> bool:
    """Whether every coordinate of ``cloud`` (read from ``path``) is finite and within
    ±:data:`FAR`; where not, a warning naming the file says it is left out."""
    if np.isfinite(cloud).all() and np.abs(cloud).max() <= FAR:
        return True
    why = f"non-finite coordinates or coordinates beyond ±{FAR:g}"
    warnings.warn(f"{path}: {why}; left out", FlowamWarning, stacklevel=2)
    return False


def read_result(
    folder: Path,
    classes: list[str],
    targets: list[int],
    method: dict[str, Any],
    defaults: dict[str, Any],
) -> Explanations | None:
    """The finished result that :func:`flowam.outputs.write_clouds` left in ``folder`` for
    ``targets`` (indices into ``classes``, restart 0 each), when every cloud's record is
    there, finished and made by ``method`` (a :meth:`MethodConfig.to_dict`; a field the
    record lacks, newer than the run, must hold its value in ``defaults``); None where any
    is missing, unfinished or made otherwise (an interrupted or different run)."""
    folder = Path(folder)
    names = [f"{classes[t]}_0" for t in targets]
    wanted, default = json.loads(dumps(method)), json.loads(dumps(defaults))
    records = []
    for name in names:
        path = folder / f"{name}.json"
        if not (path.is_file() and (folder / f"{name}.npy").is_file()):
            return None
        record = read_json(path)
        made = record.get("config", {}).get("method", {})
        if record.get("status") != "finished" or any(
            made.get(k, default.get(k)) != v for k, v in wanted.items()
        ):
            return None
        records.append(record)
    starts = read_arrays(folder / "starts.npz")
    if set(names) - set(starts):
        return None
    return Explanations(
        points=np.stack([read_cloud(folder / f"{name}.npy") for name in names]),
        targets=np.array(targets),
        restarts=np.zeros(len(names), dtype=np.int64),
        classes=list(classes),
        start=np.stack([starts[name] for name in names]),
        history=read_arrays(folder / "history.npz"),
        weights={},
        steps_run=np.array([r["steps_run"] for r in records], dtype=np.int64),
        config=records[0]["config"],
    )
