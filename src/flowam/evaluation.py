"""Scoring explanations already on disk (``flowam evaluate DIR``).

Any folder that ``flowam explain``, ``flowam demo`` or an experiment wrote holds one
sub-folder per run with ``<class>_<restart>.npy`` points and ``.json`` records (see
:mod:`flowam.outputs`), and a ``config.json`` naming the model and the real objects. This
module finds the runs, rebuilds the explainer from the nearest ``config.json`` and scores
every run with the same :class:`~flowam.metrics.Evaluator`, so runs written by
different versions or commands are measured alike. ``starts.npz`` (written since the
evaluation suite) gives each explanation's starting cloud for the ``moved`` column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flowam import cache
from flowam.engine import method_bound
from flowam.errors import FlowamError
from flowam.metrics import Scores
from flowam.outputs import SCORE_LEGEND, markdown_table
from flowam.readback import read_arrays, read_cloud, read_json, usable
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
            record = read_json(path)
            if (
                isinstance(record, dict)
                and isinstance(record.get("class"), str)
                and "restart" in record
            ):
                yield path, record


def subject_of(folder: Path, device: str = "cpu", turns: int | None = None) -> Subject:
    """The model and real objects named by the nearest ``config.json`` at or above
    ``folder`` (``turns``: scores allowing that many turns about the up axis, instead of
    what the config or the model's metadata says)."""
    for parent in [Path(folder), *Path(folder).resolve().parents]:
        config = parent / "config.json"
        if config.is_file():
            values = read_json(config)
            if isinstance(values, dict) and "model" in values:
                turned = {"turns": turns} if turns is not None else {}
                return Subject.read(values, str(config), device=device, **turned)
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
        clouds = read_run(run, explainer.classes)
        if clouds is None:
            continue
        points, targets, start, bound = clouds
        scores = explainer.evaluator(seed).score(points, targets, start, bound)
        out[str(run.relative_to(folder)) or "."] = (scores, targets)
    if not out:
        raise FlowamError(f"{folder}: holds no explanation with finite coordinates to score")
    return out


def write_evaluation(
    folder: Path, device: str = "cpu", seed: int = 0, turns: int | None = None
) -> dict[str, dict[str, float]]:
    """Score every run under ``folder`` (:func:`evaluate_folder`) and write
    ``evaluation.json`` and ``evaluation.md`` there; returns ``{run: summary}``."""
    results = evaluate_folder(folder, device=device, seed=seed, turns=turns)
    rows = {run: scores.summary() for run, (scores, _) in results.items()}
    record = {"command": "evaluate", "device": device, "seed": seed, "turns": turns, "runs": rows}
    cache.write_json(Path(folder) / "evaluation.json", record)
    text = f"# Evaluation of `{folder}`\n\n{SCORE_LEGEND}\n\n{markdown_table(rows)}\n"
    cache.write_text(Path(folder) / "evaluation.md", text)
    return rows


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
