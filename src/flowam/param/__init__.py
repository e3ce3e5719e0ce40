"""Parameterizations: what the optimiser moves, how it becomes a cloud, and where it starts.

A parameterization makes, for each chunk of starting clouds, a
:class:`~flowam.param.chart.Chart`: the tensor the optimiser moves (``param``) and the
differentiable map from it to the clouds (``cloud()``). One module per kind, each owning
its start:

- :mod:`~flowam.param.points` (``points``, the default): the coordinates themselves;
  starts ``mean``, ``medoid``, ``sphere``, ``gaussian``, ``blobs``.
- :mod:`~flowam.param.smooth` (``smooth``): a Laplacian-smoothed cloud
  ``x = (I + λL)⁻¹u``; the points' starts.
- :mod:`~flowam.param.parts` (``parts``, the recommended one): the poses and sizes of
  cuboids hung on a tree (bent by :mod:`~flowam.param.deform` where asked), the cloud drawn
  on their surfaces anew at every call; start ``parts``.
- :mod:`~flowam.param.mesh` (``mesh``): the smoothed vertices of a closed triangle mesh,
  the cloud drawn on its triangles anew at every call; start ``mesh``.
- :mod:`~flowam.param.latent` (``latent``): a generator's latent code, starting from the
  encoding of a points' start.

:mod:`~flowam.param.surface` holds what drawing on a surface needs (stratified picks by
area, scaling into the unit sphere); :func:`start_clouds` gives any start by name.
"""

from __future__ import annotations

import warnings

import numpy as np

from flowam.data import PointCloudDataset
from flowam.errors import FlowamError, FlowamWarning
from flowam.param import mesh, parts, points
from flowam.param.chart import Chart, Parameterization
from flowam.param.latent import Latent
from flowam.param.mesh import Mesh
from flowam.param.parts import Parts
from flowam.param.smooth import Smooth

DRAWN_STARTS = {"parts": parts.start_cloud, "mesh": mesh.start_cloud}
"""The starts of the parameterizations that draw their cloud on a surface of their own:
one class-agnostic cloud of ``n`` points each."""
START_KINDS = (*points.STARTS, *DRAWN_STARTS)
RENAMED_STARTS = {"assembly": "parts"}
"""Starts with a new name (one name for the parts idea): the old one still works, warned."""

__all__ = [
    "START_KINDS",
    "Chart",
    "Latent",
    "Mesh",
    "Parameterization",
    "Parts",
    "Smooth",
    "start_clouds",
    "start_kind",
]


def start_clouds(
    kind: str,
    num_points: int,
    data: PointCloudDataset | None,
    targets: list[int],
    seeds: list[int] | None = None,
) -> np.ndarray:
    """The starting cloud of each target class, ``(T, num_points, 3)``: a points' start
    (:func:`flowam.param.points.start_clouds`, whose arguments these are), or the
    class-agnostic start of ``parts`` or ``mesh`` (``data`` unused)."""
    kind = start_kind(kind, "start")
    if kind in DRAWN_STARTS:
        return np.repeat(DRAWN_STARTS[kind](num_points)[None], len(targets), axis=0)
    if kind not in points.STARTS:
        raise FlowamError(f"unknown start {kind!r}; choose one of {', '.join(START_KINDS)}")
    return points.start_clouds(kind, num_points, data, targets, seeds)


def start_kind(kind: str, source: str) -> str:
    """The start's name now: ``kind`` itself, or its new name (:data:`RENAMED_STARTS`),
    warned in one line naming ``source``."""
    if kind not in RENAMED_STARTS:
        return kind
    new = RENAMED_STARTS[kind]
    warnings.warn(
        f"{source}: start {kind!r} is now called {new!r}; the old name will stop working",
        FlowamWarning,
        stacklevel=3,
    )
    return new
