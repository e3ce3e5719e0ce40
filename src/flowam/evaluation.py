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
from flowam.errors import FlowamError
from flowam.metrics import Scores
from flowam.outputs import SCORE_LEGEND, markdown_table
from flowam.readback import find_runs, read_run
from flowam.subject import Subject


def evaluate_folder(
    folder: Path, device: str = "cpu", seed: int = 0, turns: int | None = None
) -> dict[str, tuple[Scores, np.ndarray]]:
    """Score every run under ``folder`` (``turns``: see :meth:`Subject.of_folder`).

    Returns:
        ``{run folder relative to folder: (scores, targets)}``.
    """
    folder = Path(folder)
    runs = find_runs(folder)
    if not runs:
        raise FlowamError(f"{folder}: holds no explanations (<class>_<restart>.npy + .json)")
    explainer, _ = Subject.of_folder(runs[0], device=device, turns=turns).load(seed)
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
