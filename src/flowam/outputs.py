"""Writing explanations to disk: points, pictures, scores, grids, tables and summaries.

Layout of one method's folder (``NAME`` is ``<class>_<restart>``)::

    NAME.npy   (N, 3) float32 points
    NAME.ply   the same points, for any 3-D viewer
    NAME.png   the cloud from four fixed views
    NAME.json  scores (target logit, log-softmax, predicted class, legality, Chamfer
               distance to real objects) and the method's configuration
    history.npz  per-step values of every objective term, (steps + 1, B) each
    starts.npz   the starting cloud of each explanation, by NAME
    snapshots.npz  with ``--snapshots``: the cloud of each explanation at each chosen step,
               by ``NAME@STEP`` (before that step's update; step 0 is the start)

A run stopped by Ctrl-C or SIGTERM (:mod:`flowam.stopping`) writes the clouds it reached,
unscored (``scores`` empty, ``status`` "stopped at step K"); ``flowam evaluate`` scores them.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import trimesh
from rich.table import Table

from flowam import __version__, cache
from flowam.engine import Explanations
from flowam.metrics import Scores
from flowam.ops import yaw_matrix
from flowam.render import render_grid, render_views

COLUMNS = (
    ("target_logit", "logit ↑", "{:.2f}"),
    ("log_softmax", "log-softmax ↑", "{:.2e}"),
    ("chamfer_to_real", "CD ↓", "{:.4f}"),
    ("chamfer_both_ways", "CD⇄ ↓", "{:.4f}"),
    ("recognised_rate", "1-NN ↑", "{:.0%}"),
    ("one_nna", "1-NNA ↓", "{:.0%}"),
    ("coverage", "COV ↑", "{:.0%}"),
    ("mmd", "MMD ↓", "{:.4f}"),
    ("moved_from_start", "moved", "{:.3f}"),
    ("fid", "FID ↓", "{:.3g}"),
    ("m_is", "m-IS ↑", "{:.2f}"),
    ("faithfulness_gap", "gap ↑", "{:+.0%}"),
    ("legal_rate", "legal", "{:.0%}"),
    ("success_rate", "success", "{:.0%}"),
)


SCORE_LEGEND = (
    "Scores: target logit and log-softmax (representativity); CD, the Chamfer distance of "
    "Eq. 7 from the explanation to 5 real objects of the class (lower is closer); CD⇄, the "
    "same both ways, which also penalises points collapsed into clumps; 1-NN, the share of "
    "explanations whose nearest of 20 real test objects per class (symmetric Chamfer) is of "
    "their class; 1-NNA, the two-sample leave-one-out 1-NN accuracy of explanations pooled "
    "with as many real objects of their classes (50 % = indistinguishable from real objects, "
    "100 % = always told apart; per class over restarts; pooled over classes with one "
    "restart, where real objects themselves score near 0 %); COV, the share of those real "
    "objects that are some explanation's nearest; "
    "MMD, the mean distance from each of them to its nearest explanation; by X, the share of "
    "explanations that another classifier X (not optimised against) classifies as the "
    "target; moved, the symmetric Chamfer distance from each explanation to its own "
    "starting cloud; FID on the classifier's global feature, explanations against real "
    "objects of the same classes; m-IS, the point cloud Inception score under the model; "
    "gap, the faithfulness gap: 1-NN for the trained model minus 1-NN for the same method "
    "on the fully randomized model (⚠: the randomized model's explanations are still "
    "recognised at 25 % or more, so their shape does not come from the model); legal = all "
    "coordinates in [-1, 1]; success = classified as the target. Rows `start: ...` score "
    "the starting clouds themselves (their gap is 0 by construction)."
)
"""The Markdown paragraph that explains the columns of :data:`COLUMNS`."""


def write_config(out: Path, command: str, **values: Any) -> None:
    """Store what produced an output folder as ``out/config.json`` (with the version)."""
    config = {"command": command, "flowam_version": __version__, **values}
    cache.write_json(out / "config.json", config)


def explanation_names(result: Explanations) -> list[str]:
    """``<class>_<restart>`` for every explanation of a result."""
    return [
        f"{result.classes[t]}_{r}" for t, r in zip(result.targets, result.restarts, strict=True)
    ]


def write_ply(points: np.ndarray, path: Path) -> None:
    """Write an ``(N, 3)`` cloud as PLY, atomically."""
    with cache.atomic_path(path) as tmp:
        trimesh.PointCloud(np.asarray(points, dtype=np.float32)).export(tmp, file_type="ply")


def folder_name(label: str) -> str:
    """A run label as a folder name (letters, digits, ``-_.``; the rest ``_``)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)


def write_clouds(result: Explanations, folder: Path, scores: Sequence[Mapping[str, Any]]):
    """The points (``.npy``, ``.ply``), a JSON record per explanation with its ``scores``,
    the history and the starts of ``result`` into ``folder`` (layout above)."""
    cache.make_folder(folder)
    names = explanation_names(result)
    for i, name in enumerate(names):
        with cache.atomic_path(folder / f"{name}.npy") as tmp, open(tmp, "wb") as f:
            np.save(f, result.points[i].astype(np.float32))
        write_ply(result.points[i], folder / f"{name}.ply")
        record = {
            "class": result.classes[result.targets[i]],
            "restart": int(result.restarts[i]),
            "scores": dict(scores[i]),
            "steps_run": int(result.steps_run[i]),
            "status": result.status,
            "config": result.config,
        }
        cache.write_json(folder / f"{name}.json", record)
    cache.save_arrays(folder / "history.npz", result.history)
    cache.save_arrays(folder / "starts.npz", dict(zip(names, result.start, strict=True)))
    if result.snapshots:
        cache.save_arrays(
            folder / "snapshots.npz",
            {
                f"{name}@{step}": clouds[i]
                for step, clouds in sorted(result.snapshots.items())
                for i, name in enumerate(names)
            },
        )


def facing(points: np.ndarray, degrees: np.ndarray | None) -> np.ndarray:
    """``(B, N, 3)`` clouds turned about the up axis by ``degrees`` ``(B,)`` each (as
    :attr:`Scores.facing` says: to face their nearest real object, for scores that allow
    turns); unchanged where ``degrees`` is None or zero."""
    if degrees is None or not np.any(degrees):
        return points
    rot = yaw_matrix(torch.as_tensor(np.deg2rad(degrees), dtype=torch.float64)).numpy()
    return (points.astype(np.float64) @ rot).astype(np.float32)


def write_explanations(result: Explanations, scores: Scores, folder: Path, pictures: bool = True):
    """Every explanation of ``result`` with all its scores into ``folder`` (layout above),
    and a picture of each, turned to face its nearest real object where the scores
    allow turns (the saved points are as made)."""
    write_clouds(result, folder, [scores.row(i, result.classes) for i in range(len(result))])
    if pictures:
        shown = facing(result.points, scores.facing)
        for i, name in enumerate(explanation_names(result)):
            title = f"{name}: logit {scores.logit[i]:.1f}, CD {scores.chamfer[i]:.3f}"
            render_views(shown[i], folder / f"{name}.png", title=title)


def write_grid(
    columns: Mapping[str, Explanations],
    path: Path,
    classes: list[str],
    turns: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """A picture like the paper's Fig. 1/5: rows are classes, columns methods (restart 0),
    each cloud turned by ``turns[column]`` degrees where given (:func:`facing`)."""
    cells = []
    for name in classes:
        row = []
        for label, result in columns.items():
            shown = facing(result.points, (turns or {}).get(label))
            hits = [
                i
                for i, (t, r) in enumerate(zip(result.targets, result.restarts, strict=True))
                if result.classes[t] == name and r == 0
            ]
            row.append(shown[hits[0]] if hits else None)
        cells.append(row)
    return render_grid(cells, path, row_labels=classes, col_labels=list(columns))


def cell(summary: Mapping[str, float], key: str, fmt: str) -> str:
    """One formatted value; "–" where the score is absent, undefined (NaN) or not a
    number (a hand-edited summary)."""
    value = summary.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return "–"
    return fmt.format(value)


JUDGED = "recognised_by_"
"""Prefix of the cross-architecture recognition scores (one per judge)."""


def with_judges(
    summaries: Mapping[str, Mapping[str, float]],
    columns: Sequence[tuple[str, str, str]] = COLUMNS,
) -> tuple[tuple[str, str, str], ...]:
    """``columns`` and, after 1-NN's, a column for every judge found in the summaries."""
    judged = sorted({k for s in summaries.values() for k in s if k.startswith(JUDGED)})
    extra = [(k, f"by {k.removeprefix(JUDGED)} ↑", "{:.0%}") for k in judged]
    keys = [key for key, _, _ in columns]
    at = keys.index("recognised_rate") + 1 if "recognised_rate" in keys else len(keys)
    return (*columns[:at], *extra, *columns[at:])


def summary_table(summaries: Mapping[str, Mapping[str, float]], title: str) -> Table:
    """A rich table: one row per method (or start), one column per score."""
    return rich_table(title, *summary_rows(summaries))


def markdown_table(
    summaries: Mapping[str, Mapping[str, float]],
    columns: Sequence[tuple[str, str, str]] = COLUMNS,
) -> str:
    """The same table as Markdown (``columns``: ``(key, header, format)`` triples; a
    column is added for every judge found in the summaries)."""
    return "\n".join(pipe_table(*summary_rows(summaries, columns)))


def summary_rows(
    summaries: Mapping[str, Mapping[str, float]],
    columns: Sequence[tuple[str, str, str]] = COLUMNS,
) -> tuple[list[str], list[list[str]]]:
    """The heads and rows of :func:`summary_table` and :func:`markdown_table`."""
    columns = with_judges(summaries, columns)
    rows = [
        [label, *(cell(s, key, fmt) for key, _, fmt in columns)] for label, s in summaries.items()
    ]
    return ["method", *(h for _, h, _ in columns)], rows


def rich_table(
    title: str, heads: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1
) -> Table:
    """A rich table of text cells: the first ``left`` columns aligned left, the rest right."""
    table = Table(title=title)
    for k, head in enumerate(heads):
        table.add_column(head, justify="left" if k < left else "right")
    for row in rows:
        table.add_row(*row)
    return table


def pipe_table(
    heads: Sequence[str], rows: Iterable[Sequence[str]], first: str = "---"
) -> list[str]:
    """The lines of a Markdown pipe table: ``heads``, the rule (the first column aligned
    as ``first`` says, the others right), a line per row of cells. Every table flowam
    writes comes from here."""
    lines = ["| " + " | ".join(heads) + " |", f"|{first}|" + "---:|" * (len(heads) - 1)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows of one dict each (same keys) as CSV, atomically."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    cache.write_text(path, buffer.getvalue())
