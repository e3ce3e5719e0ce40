"""A deformable mesh: a cloud drawn anew each step on a closed surface that moves smoothly.

Coordinate AM moves the few points a max-pooling classifier's gradient reaches; a smoothed
cloud (``membrane``) moves neighbourhoods of a fixed set of points, which thin
out where the surface stretches; an assembly of cuboids (``parts-boxes``) can only draw
boxes. A mesh keeps a surface and its sampling apart:

- the surface is a closed triangle mesh, an icosphere (an icosahedron whose triangles are
  split ``subdivisions`` times: 642 vertices and 1,280 triangles at 3) of radius
  :data:`START_RADIUS`, the same for every class;
- the optimiser moves ``u`` and the vertices are ``v = (I + λL)⁻¹ u``, where ``L`` is the
  graph Laplacian of the mesh's edges (the smoothed parameterization of
  :mod:`flowam.param`, on the mesh's own graph, one matrix for every cloud): a gradient
  on one vertex moves its neighbourhood, so the surface bends, stretches into legs or
  flattens into a top rather than sending single vertices out; ``λ = 0`` moves the
  vertices themselves;
- each call of :meth:`MeshChart.cloud` draws ``N`` points uniformly by area on the
  triangles (:func:`flowam.param.surface.stratified_pick`, then a uniform point of the
  triangle: ``(1 - √r₁) a + √r₁ (1 - r₂) b + √r₁ r₂ c``, Osada et al., "Shape
  Distributions", 2002), differentiable in the vertices; where the surface stretches
  it gets more points, so it stays covered, and the optimum must hold under re-sampling;
- the cloud is centred and scaled into the unit sphere, as the data are, and clamped
  into ``[-C, C]`` (:func:`flowam.param.surface.into_unit_sphere`).

``start = "mesh"`` is the start as a cloud (one draw of the icosphere, in the unit sphere).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import trimesh
from torch import Tensor

from flowam.errors import FlowamError
from flowam.param.chart import Chart, ParamConfig, Parameterization
from flowam.param.smooth import smoothing
from flowam.param.surface import into_unit_sphere, stratified_pick, uniforms
from flowam.seeding import generator

START_RADIUS = 0.5
MAX_SUBDIVISIONS = 4  # 2,562 vertices: a 26 MB dense inverse, 4x the cost of 3 per step


def check_subdivisions(subdivisions: int) -> None:
    """Refuse an icosphere split fewer than 0 or more than :data:`MAX_SUBDIVISIONS` times."""
    if not 0 <= subdivisions <= MAX_SUBDIVISIONS:
        raise FlowamError(f"param.subdivisions={subdivisions} must be in 0..{MAX_SUBDIVISIONS}")


def icosphere(subdivisions: int) -> tuple[Tensor, Tensor]:
    """Vertices ``(V, 3)`` on the unit sphere and triangles ``(F, 3)`` (vertex indices,
    outward winding) of an icosahedron split ``subdivisions`` times."""
    check_subdivisions(subdivisions)
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions)
    verts = torch.tensor(np.asarray(sphere.vertices), dtype=torch.float32)
    return verts, torch.tensor(np.asarray(sphere.faces), dtype=torch.long)


def edge_adjacency(faces: Tensor, num_vertices: int) -> Tensor:
    """``(V, V)`` the symmetric 0/1 adjacency of the edges of ``(F, 3)`` triangles."""
    adjacency = torch.zeros(num_vertices, num_vertices)
    for i, j in ((0, 1), (1, 2), (2, 0)):
        adjacency[faces[:, i], faces[:, j]] = 1.0
        adjacency[faces[:, j], faces[:, i]] = 1.0
    return adjacency


def triangle_areas(verts: Tensor, faces: Tensor) -> Tensor:
    """``(B, F)`` areas of the triangles ``(F, 3)`` of meshes with vertices ``(B, V, 3)``."""
    a, b, c = (verts[:, faces[:, k]] for k in range(3))
    return 0.5 * torch.linalg.cross(b - a, c - a).norm(dim=-1)


def sample_triangles(
    verts: Tensor,
    faces: Tensor,
    n: int,
    generators: Sequence[torch.Generator],
    elements: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """``(B, n, 3)`` points uniform by area on the meshes of vertices ``(B, V, 3)`` and
    triangles ``(F, 3)``; differentiable in ``verts``, not in the choice of triangles.
    ``generators``: one per cloud (CPU). With ``elements``, also ``(B, n)`` the triangle
    each point lies on."""
    u = uniforms(generators, n, 3, verts)
    tri = stratified_pick(triangle_areas(verts.detach(), faces), u[..., 0])  # (B, n)
    root, t = u[..., 1].sqrt(), u[..., 2]
    weights = torch.stack([1 - root, root * (1 - t), root * t], -1)  # (B, n, 3)
    b = verts.shape[0]
    index = faces[tri].reshape(b, n * 3, 1).expand(b, n * 3, 3)  # each point's corners
    corners = torch.gather(verts, 1, index).reshape(b, n, 3, 3)
    points = (weights[..., None] * corners).sum(2)
    return (points, tri) if elements else points


class MeshChart(Chart):
    """``(B, V, 3)`` smoothed vertex parameters ``u`` and their clouds of ``n`` points."""

    def __init__(self, n: int, seeds: Sequence[int], mesh: Mesh, like: Tensor) -> None:
        self.n, self.bound = n, mesh.bound
        self.faces = mesh.faces.to(like.device)
        self.inverse = mesh.inverse.to(like)
        self.generators = [generator(s, "mesh") for s in seeds]
        start = mesh.start.to(like)[None].expand(len(self.generators), -1, -1)
        super().__init__(mesh.forward.to(like) @ start)

    def vertices(self) -> Tensor:
        """``(B, V, 3)`` the mesh vertices the parameters stand for (graph attached)."""
        return self.inverse @ self.param

    def cloud(self) -> Tensor:
        points = sample_triangles(self.vertices(), self.faces, self.n, self.generators)
        return into_unit_sphere(points, self.bound)

    def set(self, clouds: Tensor) -> None:
        raise FlowamError("step transforms cannot act on a mesh (see flowam.param.mesh)")


class Mesh(Parameterization):
    """An icosphere of ``subdivisions`` moved through ``(I + smooth · L)⁻¹`` over its edges,
    re-sampled by area at every step, in the unit sphere, its points clamped into
    ``[-bound, bound]`` (see the module docstring)."""

    transformable = False

    def __init__(self, subdivisions: int = 3, smooth: float = 3.0, bound: float = 1.0) -> None:
        if smooth < 0:
            raise FlowamError(f"param.smoothing={smooth} must be >= 0")
        unit, self.faces = icosphere(subdivisions)
        self.start = START_RADIUS * unit
        self.forward, self.inverse = smoothing(edge_adjacency(self.faces, len(unit)), smooth)
        self.bound = bound

    def chart(self, start: Tensor, seeds: Sequence[int] | None = None) -> Chart:
        b = start.shape[0]
        seeds = list(seeds) if seeds is not None else list(range(b))
        return MeshChart(start.shape[1], seeds, self, start)


@dataclass(frozen=True)
class MeshConfig(ParamConfig):
    """``[param] kind = "mesh"``: an icosphere of ``subdivisions`` smoothed by ``smoothing``
    over its edges; it starts from its own icosphere (``start = "mesh"``)."""

    kind = "mesh"
    drawn = "its icosphere"
    subdivisions: int = 3  # the icosphere's: 642 vertices at 3
    smoothing: float = 0.0

    def __post_init__(self) -> None:
        check_subdivisions(self.subdivisions)
        if self.smoothing < 0:
            raise FlowamError(f"param.smoothing={self.smoothing} must be >= 0")

    def build(self, bound: float, generator: Any = None) -> Mesh:
        return Mesh(self.subdivisions, self.smoothing, bound)


def start_cloud(n: int, subdivisions: int = 3) -> np.ndarray:
    """``(n, 3)`` the start as a cloud (one draw, seed 0, in the unit sphere): ``start =
    "mesh"``."""
    chart = Mesh(subdivisions, smooth=0.0).chart(torch.zeros(1, n, 3), seeds=[0])
    with torch.no_grad():
        return chart.cloud()[0].numpy()
