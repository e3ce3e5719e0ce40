"""Scoring explanations already on disk (``flowam evaluate DIR``).

Any folder that ``flowam explain``, ``flowam demo`` or an experiment wrote holds one
sub-folder per run with ``<class>_<restart>.npy`` points and ``.json`` records (see
:mod:`flowam.report`), and a ``config.json`` naming the model and the real objects. This
module finds the runs, rebuilds the explainer from the nearest ``config.json`` and scores
every run with the same :class:`~flowam.metrics.Evaluator`, so runs written by
different versions or commands are measured alike. ``starts.npz`` (written since the
evaluation suite) gives each explanation's starting cloud for the ``moved`` column.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from flowam.errors import FlowamError
from flowam.metrics import Scores
from flowam.subject import Subject


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
            record = json.loads(path.read_text())
            if isinstance(record, dict) and "class" in record and "restart" in record:
                yield path, record


def subject_of(folder: Path, device: str = "cpu", turns: int | None = None) -> Subject:
    """The model and real objects named by the nearest ``config.json`` at or above
    ``folder`` (``turns``: scores allowing that many turns about the up axis, instead of
    what the config or the model's metadata says)."""
    for parent in [Path(folder), *Path(folder).resolve().parents]:
        config = parent / "config.json"
        if config.is_file():
            values = json.loads(config.read_text())
            if "model" in values:
                names = {f.name for f in dataclasses.fields(Subject)}
                fields = {k: v for k, v in values.items() if k in names and v is not None}
                turned = {"turns": turns} if turns is not None else {}
                return Subject(**{**fields, "device": device, **turned})
    raise FlowamError(f"{folder}: no config.json naming the model was found at or above it")


def evaluate_folder(
    folder: Path, device: str = "cpu", seed: int = 0, turns: int | None = None
) -> dict[str, tuple[Scores, np.ndarray]]:
    """Score every run under ``folder`` (``turns``: see :func:`subject_of`).

    Returns:
        ``{run folder relative to folder: (scores, targets)}``.
    """
    folder = Path(folder)
    runs = find_runs(folder)
    if not runs:
        raise FlowamError(f"{folder}: holds no explanations (<class>_<restart>.npy + .json)")
    explainer, _ = subject_of(runs[0], device, turns).load(seed)
    out = {}
    for run in runs:
        points, targets, starts = [], [], []
        saved = np.load(run / "starts.npz") if (run / "starts.npz").is_file() else {}
        for path, record in records(run):
            if record["class"] not in explainer.classes:
                raise FlowamError(f"{path}: class {record['class']!r} is not one of the model's")
            points.append(np.load(path.with_suffix(".npy")))
            targets.append(explainer.classes.index(record["class"]))
            starts.append(saved.get(path.stem))
            bound = record.get("config", {}).get("method", {}).get("bound", 1.0)
        start = None if any(s is None for s in starts) else np.stack(starts)
        scores = explainer.evaluator(seed).score(np.stack(points), np.array(targets), start, bound)
        out[str(run.relative_to(folder)) or "."] = (scores, np.array(targets))
    return out
