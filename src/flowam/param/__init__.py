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

import dataclasses
import warnings
from typing import Any

import numpy as np

from flowam.data import PointCloudDataset
from flowam.errors import FlowamError, FlowamWarning
from flowam.param import mesh, parts, points
from flowam.param.chart import Chart, ParamConfig, Parameterization
from flowam.param.latent import Latent, LatentConfig
from flowam.param.mesh import Mesh, MeshConfig
from flowam.param.parts import Parts, PartsConfig
from flowam.param.points import PointsConfig
from flowam.param.smooth import Smooth, SmoothConfig

DRAWN_STARTS = {"parts": parts.start_cloud, "mesh": mesh.start_cloud}
"""The starts of the parameterizations that draw their cloud on a surface of their own:
one class-agnostic cloud of ``n`` points each."""
START_KINDS = (*points.STARTS, *DRAWN_STARTS)
KINDS: dict[str, type[ParamConfig]] = {
    c.kind: c for c in (PointsConfig, SmoothConfig, PartsConfig, MeshConfig, LatentConfig)
}
"""Every kind of ``[param]`` by its name."""
RENAMED_STARTS = {"assembly": "parts"}
"""Starts with a new name (one name for the parts idea): the old one still works, warned."""

__all__ = [
    "KINDS",
    "START_KINDS",
    "Chart",
    "Latent",
    "LatentConfig",
    "Mesh",
    "MeshConfig",
    "ParamConfig",
    "Parameterization",
    "Parts",
    "PartsConfig",
    "PointsConfig",
    "Smooth",
    "SmoothConfig",
    "param_config",
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


def param_config(kind: str, options: dict[str, Any], source: str = "param") -> ParamConfig:
    """The ``[param]`` of ``kind`` with ``options`` (the rest at their defaults); one line
    naming ``source`` for an unknown kind or an option the kind does not have."""
    if kind not in KINDS:
        raise FlowamError(f"{source}: kind={kind!r}; choose one of {', '.join(KINDS)}")
    made = KINDS[kind]
    if made.drawn and "start" in options:
        options = dict(options)
        start = start_kind(str(options.pop("start")), source)
        if start != made.kind:
            raise FlowamError(
                f"{source}: a {kind} parameterization starts from {made.drawn} (start "
                f"{made.kind!r}), not {start!r}"
            )
    known = [f.name for f in dataclasses.fields(made)]
    unknown = [k for k in options if k not in known]
    if unknown:
        raise FlowamError(
            f"{source}: a parameterization of kind {kind} has no option {unknown[0]!r}; its "
            f"options: {', '.join(known) or 'none'}"
        )
    return made(**options)
