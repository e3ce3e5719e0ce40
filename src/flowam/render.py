"""Pictures of point clouds: one cloud from fixed views, and labelled grids of clouds.

Every cloud is drawn by orthographic projection onto 2-D axes with equal scale and fixed
limits ``[-1, 1]`` (the unit sphere every cloud lives in), so sizes are comparable between
pictures. Colour follows height (``y``), which reads parts such as seats, backs and tops
at a glance; depth is shown by shading (far points darker), by size (near points larger)
and by drawing near points last. Views are ``(elevation, azimuth)`` in degrees; azimuth 0 looks from
``+x`` (the front), positive azimuth turns towards ``+z``; ``+y`` is up.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from flowam import cache

View = tuple[float, float]
DEFAULT_VIEW: View = (25.0, 50.0)
VIEWS: dict[str, View] = {
    "3/4": DEFAULT_VIEW,
    "front": (0.0, 0.0),
    "side": (0.0, 90.0),
    "top": (89.0, 0.0),
}
CMAP = "plasma"
FAR_SHADE = 0.6
"""Brightness of the farthest point relative to the nearest."""


def project(points: np.ndarray, view: View = DEFAULT_VIEW) -> np.ndarray:
    """Screen coordinates and depth of points seen from ``view``.

    Args:
        points: ``(N, 3)``.
        view: ``(elevation, azimuth)`` in degrees.

    Returns:
        ``(N, 3)``: horizontal, vertical screen coordinates and depth (larger is nearer).
    """
    elev, azim = np.radians(view)
    toward_camera = np.array(
        [np.cos(elev) * np.cos(azim), np.sin(elev), np.cos(elev) * np.sin(azim)]
    )
    right = np.cross(np.array([0.0, 1.0, 0.0]), toward_camera)
    right /= np.linalg.norm(right)
    up = np.cross(toward_camera, right)
    return np.asarray(points, dtype=float) @ np.stack([right, up, toward_camera], axis=1)


def draw_cloud(
    ax: plt.Axes,
    points: np.ndarray,
    view: View = DEFAULT_VIEW,
    size: float | None = None,
    title: str | None = None,
    limit: float = 1.0,
) -> None:
    """Draw one cloud into ``ax`` (see the module docstring for the conventions).

    Points outside the ``±limit`` square are still drawn, clipped at the frame.
    """
    points = np.asarray(points, dtype=float)
    uvw = project(points, view)
    order = np.argsort(uvw[:, 2])
    uvw, height = uvw[order], points[order, 1]
    near = (uvw[:, 2] - uvw[:, 2].min()) / (np.ptp(uvw[:, 2]) or 1.0)
    colour = plt.get_cmap(CMAP)(np.clip((height + 1.0) / 2.0, 0.0, 1.0) * 0.9)[:, :3]
    colour *= (FAR_SHADE + (1.0 - FAR_SHADE) * near)[:, None]
    if size is None:
        size = float(np.clip(6000.0 / max(len(points), 1), 0.5, 12.0))
    ax.scatter(
        uvw[:, 0], uvw[:, 1], c=colour, s=size * (0.7 + 0.6 * near), linewidths=0, rasterized=True
    )
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("0.85")
    if title:
        ax.set_title(title, fontsize=9)


def save_figure(fig: plt.Figure, path: str | Path, dpi: int = 110) -> Path:
    """Save ``fig`` to ``path`` atomically and close it."""
    path = Path(path)
    with cache.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return path


def render_views(
    points: np.ndarray,
    path: str | Path,
    views: Sequence[str] = ("3/4", "front", "side", "top"),
    title: str | None = None,
) -> Path:
    """A PNG of one ``(N, 3)`` cloud seen from several named views side by side."""
    fig, axes = plt.subplots(1, len(views), figsize=(2.4 * len(views), 2.6))
    for ax, name in zip(np.atleast_1d(axes), views, strict=True):
        draw_cloud(ax, points, VIEWS[name], title=name)
    if title:
        fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


def render_grid(
    cells: Sequence[Sequence[np.ndarray | None]],
    path: str | Path,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    titles: Sequence[Sequence[str]] | None = None,
    view: View | Sequence[View] = DEFAULT_VIEW,
    cell_inches: float = 1.6,
) -> Path:
    """A PNG grid of clouds: ``cells[r][c]`` is an ``(N, 3)`` array or None (left blank).

    Args:
        cells: rows of clouds.
        path: where to write the PNG.
        row_labels: written left of each row (e.g. class names).
        col_labels: written above each column (e.g. method names).
        titles: a small title per cell (e.g. a score), same shape as ``cells``.
        view: the one view every cell is drawn from, or one view per column.
        cell_inches: size of a cell.
    """
    n_rows, n_cols = len(cells), max(len(r) for r in cells)
    views = [view] * n_cols if isinstance(view[0], (int, float)) else list(view)
    if len(views) != n_cols:
        raise ValueError(f"{len(views)} views for {n_cols} columns")
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(cell_inches * n_cols, cell_inches * n_rows), squeeze=False
    )
    for r in range(n_rows):
        for c in range(n_cols):
            ax = axes[r][c]
            cloud = cells[r][c] if c < len(cells[r]) else None
            if cloud is None:
                ax.axis("off")
                continue
            title = titles[r][c] if titles is not None else None
            draw_cloud(ax, cloud, views[c], title=title)
            if c == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[r], fontsize=11)
            if r == 0 and col_labels is not None:  # wrapped to the cell's width
                label = "\n".join(textwrap.wrap(col_labels[c], width=int(cell_inches * 11)))
                ax.set_title(label + (f"\n{title}" if title else ""), fontsize=11)
    fig.tight_layout(pad=0.3)
    return save_figure(fig, path)


def render_gallery(
    points: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    path: str | Path,
    per_class: int = 4,
    blocks: int = 2,
    view: View = DEFAULT_VIEW,
) -> Path:
    """A gallery of the first ``per_class`` objects of every class.

    Classes are laid out in ``blocks`` side-by-side column groups so the picture stays
    roughly square; each cell is titled with its class.

    Args:
        points: ``(M, N, 3)`` clouds.
        labels: ``(M,)`` class indices.
        classes: class names.
        path: where to write the PNG.
        per_class: objects shown per class.
        blocks: classes side by side in one row of the picture.
        view: the view every cell is drawn from.
    """
    rows_needed = -(-len(classes) // blocks)
    cells: list[list[np.ndarray | None]] = [[] for _ in range(rows_needed)]
    titles: list[list[str]] = [[] for _ in range(rows_needed)]
    for k, name in enumerate(classes):
        chosen = np.flatnonzero(labels == k)[:per_class]
        row = k % rows_needed
        cells[row] += [points[i] for i in chosen] + [None] * (per_class - len(chosen))
        titles[row] += [name] * per_class
    return render_grid(cells, path, titles=titles, view=view)


def render_confusion(
    confusion: np.ndarray,
    classes: Sequence[str],
    path: str | Path,
    title: str = "",
    predicted: Sequence[str] | None = None,
) -> Path:
    """A confusion-matrix picture: rows true classes, columns predictions, counts written.

    Cells are coloured by the fraction of their row, so classes of different sizes compare.
    ``predicted`` names the columns where they differ from the rows (a model explained on
    a dataset that shares only some of its classes).
    """
    confusion = np.asarray(confusion)
    predicted = list(classes) if predicted is None else list(predicted)
    rows = confusion.sum(axis=1, keepdims=True)
    share = np.divide(confusion, rows, out=np.zeros(confusion.shape), where=rows > 0)
    n, m = len(classes), len(predicted)
    fig, ax = plt.subplots(figsize=(1.6 + 0.42 * m, 1.4 + 0.42 * n))
    ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(n):
        for j in range(m):
            if confusion[i, j]:
                ax.text(
                    j,
                    i,
                    str(confusion[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if share[i, j] > 0.6 else "black",
                )
    ax.set_xticks(range(m), predicted, rotation=90, fontsize=8)
    ax.set_yticks(range(n), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
