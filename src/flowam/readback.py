"""Reading a run folder back (``flowam evaluate``, ``flowam report``, ``--resume``), every
file checked: its runs and records, their clouds, the method's bound, the nearest
``config.json``.

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


def find_runs(folder: Path) -> list[Path]:
    """Sub-folders (at any depth, and ``folder`` itself) holding explanation records."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FlowamError(f"{folder}: no such folder")
    candidates = [folder, *sorted(p for p in folder.rglob("*") if p.is_dir())]
    return [p for p in candidates if any(records(p))]


def records(run: Path):
    """``(json path, record)`` of every explanation in ``run``, by file name."""
    for path in sorted(run.glob("*.json")):
        if path.with_suffix(".npy").is_file():
            record = read_json(path)
            if (
                isinstance(record, dict)
                and isinstance(record.get("class"), str)
                and "restart" in record
            ):
                yield path, record


def read_run(
    run: Path, classes: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, float] | None:
    """The explanations of one run folder, checked: ``(B, N, 3)`` points, ``(B,)`` target
    indices into ``classes``, the ``(B, N, 3)`` starts (None where ``starts.npz`` lacks
    one) and the legality bound. A cloud with non-finite coordinates is left out with a
    warning naming it; None where none is left."""
    saved = read_arrays(run / "starts.npz")
    found = [(path, record, read_cloud(path.with_suffix(".npy"))) for path, record in records(run)]
    sizes = [cloud.shape[0] for _, _, cloud in found]
    usual = max(set(sizes), key=sizes.count) if sizes else 0
    points, targets, starts = [], [], []
    bound = 1.0
    for path, record, cloud in found:
        if record["class"] not in classes:
            raise FlowamError(f"{path}: class {record['class']!r} is not one of the model's")
        if cloud.shape[0] != usual:
            raise FlowamError(
                f"{path.with_suffix('.npy')}: {cloud.shape[0]} points, where the run's other "
                f"clouds have {usual}"
            )
        if not usable(path.with_suffix(".npy"), cloud):
            continue
        points.append(cloud)
        targets.append(classes.index(record["class"]))
        start = saved.get(path.stem)
        starts.append(start if start is not None and start.shape == cloud.shape else None)
        bound = method_bound(record.get("config"), str(path))
    if not points:
        return None
    start = None if any(s is None for s in starts) else np.stack(starts)
    return np.stack(points), np.array(targets), start, bound


def method_bound(config: Any, where: str = "config") -> float:
    """The legality bound ``C`` of Eq. 5 in a run's ``config`` (``{"method": {"objective":
    {"bound": C}}}``, as :class:`Explanations` and the files flowam writes hold it, or
    ``{"method": {"bound": C}}`` in files written before the method was nested; 1 where it
    does not say), or one line naming ``where`` when it is not a positive number."""
    method = config.get("method") if isinstance(config, dict) else None
    method = method if isinstance(method, dict) else {}
    objective = method.get("objective")
    bound = (objective if isinstance(objective, dict) else method).get("bound", 1.0)
    if isinstance(bound, bool) or not isinstance(bound, int | float) or not bound > 0:
        raise FlowamError(f"{where}: config.method.bound={bound!r} is not a positive number")
    return float(bound)


def nearest_config(folder: Path) -> tuple[dict[str, Any], Path]:
    """The values and path of the nearest ``config.json`` at or above ``folder`` that names
    the model (``{"model": ...}``, as every command writes it), or one line saying there is
    none."""
    for parent in [Path(folder), *Path(folder).resolve().parents]:
        config = parent / "config.json"
        if config.is_file():
            values = read_json(config)
            if isinstance(values, dict) and "model" in values:
                return values, config
    raise FlowamError(f"{folder}: no config.json naming the model was found at or above it")


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
        if record.get("status") != "finished" or not _same(made, wanted, default):
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


def _same(made: Any, wanted: dict[str, Any], default: dict[str, Any]) -> bool:
    """Whether a record's method ``made`` is ``wanted``, section by section and option by
    option (an option the record lacks, newer than the run, must hold its ``default``)."""
    if not isinstance(made, dict):
        return False
    for key, value in wanted.items():
        if isinstance(value, dict) and isinstance(default.get(key), dict) and key != "align":
            if not _same(made.get(key, {}), value, default[key]):
                return False
        elif made.get(key, default.get(key)) != value:
            return False
    return True
