"""Measures of furniture shape on point clouds: what tells a table from a desk and a
dresser from a night stand or a wardrobe.

Every measure reads one cloud in ModelNet's frame (``+y`` up, standing on its lowest
point) after centring and scaling into the unit sphere, so it compares genuine and
procedural objects alike. The procedural families are drawn to match the genuine medians
(``tests/test_furniture.py`` checks them, and the genuine figures where ``../shared``
is at hand).

Drawers are not among the measures: the gaps between drawer fronts are millimetres and a
1,024-point cloud of a unit-sphere dresser samples about one point per 7 cm, so what
drawers do to a cloud is the closed front of the body, which ``box_share`` and
``under_fill`` measure.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from flowam.data.procedural import sample_object
from flowam.data.sampling import choose_indices, normalize

MEASURES = {
    "height_to_width": "height over the longer horizontal extent",
    "depth_to_width": "the shorter horizontal extent over the longer",
    "top_thickness": "over the middle of the footprint, the drop from the highest points to "
    "the next ones below them, as a share of the height (NaN where nothing lies below the "
    "top in the upper half: a closed box)",
    "legs": "separate feet: groups of points (linked within 15 % of the width, 2 points at "
    "least) in the lowest 8 % of the height",
    "leg_inset": "how far the feet stand in from the footprint's edge: each group's centre's "
    "distance to the nearest edge, as a share of the footprint (0 at the edge, 0.5 at the "
    "centre), their mean",
    "foot_fill": "the share of an 8 x 8 grid over the footprint that the lowest 8 % of the "
    "height touches (legs a few cells, a plinth or a closed bottom most)",
    "under_fill": "the share of points between 20 % and 60 % of the height (a top on legs "
    "little, a closed cabinet about 40 %)",
    "box_share": "the share of points within 3 % of the width of the bounding box's faces "
    "(a closed box nearly all)",
}
"""Each measure's name and what it is."""

_FOOT_BAND, _GRID, _LAYER = 0.08, 8, 0.01


def measure(cloud: np.ndarray) -> dict[str, float]:
    """The :data:`MEASURES` of one cloud ``(N, 3)``, y up."""
    lo, hi = cloud.min(0), cloud.max(0)
    size = hi - lo
    width, depth = max(size[0], size[2]), min(size[0], size[2])
    rel = (cloud - lo) / np.maximum(size, 1e-9)  # every axis in [0, 1]
    low = rel[:, 1] <= _FOOT_BAND
    footprint = rel[low][:, [0, 2]]  # the lowest band, in the footprint's [0, 1]²
    feet = _groups(cloud[low][:, [0, 2]], 0.15 * width)
    centres = [footprint[g].mean(0) for g in feet]
    faces = np.minimum(cloud - lo, hi - cloud) / max(width, 1e-9)
    return {
        "height_to_width": float(size[1] / width),
        "depth_to_width": float(depth / width),
        "top_thickness": _top_thickness(rel),
        "legs": float(len(feet)),
        "leg_inset": float(np.mean([np.minimum(c, 1 - c).min() for c in centres]))
        if centres
        else float("nan"),
        "foot_fill": _fill(footprint),
        "under_fill": float(np.mean((rel[:, 1] >= 0.2) & (rel[:, 1] <= 0.6))),
        "box_share": float(np.mean(faces.min(1) <= 0.03)),
    }


def like_genuine(name: str, split: str, index: int) -> np.ndarray:
    """Procedural object ``index`` of class ``name`` in ``split``, ``(1024, 3)``, sampled
    as the genuine ModelNet10 files were made: 10,000 points by area, farthest-point
    sampled to 1,024 (which evens the density out), centred and scaled again. The
    measures of density (feet, the fills, box share) compare with genuine objects only
    so sampled."""
    points = sample_object(name, split, index, 10_000)[0]
    return normalize(points[choose_indices(points, 1024, "fps")])


def measure_all(clouds: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`measure` of every cloud of ``clouds`` ``(B, N, 3)``: each measure ``(B,)``."""
    rows = [measure(c) for c in clouds]
    return {name: np.array([r[name] for r in rows]) for name in MEASURES}


def _top_thickness(rel: np.ndarray) -> float:
    """Over the footprint's middle half, the drop from the top layer to the next points."""
    middle = (np.abs(rel[:, 0] - 0.5) <= 0.25) & (np.abs(rel[:, 2] - 0.5) <= 0.25)
    heights = np.sort(rel[middle & (rel[:, 1] >= 0.5), 1])[::-1]
    if len(heights) < 2:
        return float("nan")
    below = heights[heights < heights[0] - _LAYER]
    return float(heights[0] - below[0]) if len(below) else float("nan")


def _groups(points: np.ndarray, radius: float, least: int = 2) -> list[np.ndarray]:
    """The indices of each connected group of at least ``least`` points ``(M, 2)`` linked
    within ``radius``."""
    if len(points) < least:
        return []
    pairs = cKDTree(points).query_pairs(radius, output_type="ndarray")
    graph = coo_matrix(
        (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(points), len(points))
    )
    _, labels = connected_components(graph, directed=False)
    return [np.flatnonzero(labels == k) for k in np.flatnonzero(np.bincount(labels) >= least)]


def _fill(points: np.ndarray) -> float:
    """The share of a ``_GRID`` x ``_GRID`` grid over [0, 1]² that ``points`` ``(M, 2)`` touch."""
    if not len(points):
        return 0.0
    cells = np.minimum((points * _GRID).astype(int), _GRID - 1)
    return len({(a, b) for a, b in cells}) / _GRID**2
