"""Assemblies of parts: a cloud as cuboids hanging on a tree, re-sampled every step.

A max-pooling classifier's gradient reaches a few critical points, so coordinate AM moves
points, and a smoothed sphere (``membrane``) moves a membrane. An assembly can express
parts — legs, a top, wings, a back — because the optimiser moves whole cuboids:

- part ``k`` is a box aligned with the axes, of half-size ``h_k = h_min + (h_max - h_min)
  σ(s_k)`` per axis (never thinner than ``h_min``, never larger than the legal cube);
- the parts hang on a fixed tree (:data:`SLOTS`): the root's centre is free; every other
  part touches its parent by construction. Its anchor ``p = c_parent + h_parent ⊙ tanh
  a_k`` lies inside the parent's box, and its centre is ``c_k = p + h_k ⊙ tanh b_k``, so
  the anchor lies inside its own box too: the boxes share a point whatever the optimiser
  does, and the assembly stays one connected solid (the scattered fragments of free
  cuboids cannot happen);
- each call of :meth:`PartsChart.cloud` draws ``N`` points uniformly by area on the
  boxes' surfaces (faces picked by stratified sampling of the area distribution, a point
  uniform on its face), differentiable in every part parameter; the draw changes every
  call, so the optimum must hold under re-sampling (the points are not the parameters);
- with ``bend``, part ``k`` also has a free-form deformation ``D_k`` of its local cube
  (:mod:`flowam.param.deform`: 27 control points of degree 2, starting as the identity), so a
  box can taper, bulge, curve and round (a bowl, a cup, a curved leg). The deformation
  is a map of the whole cube, so attachment survives it: the anchor is the parent's
  deformed point ``p = c_parent + h_parent ⊙ D_parent(tanh a_k)`` and the
  centre ``c_k = p - h_k ⊙ D_k(-tanh b_k)`` puts the part's own deformed point at
  the anchor. The surface is the cube's triangle mesh (:func:`flowam.param.deform.cube_surface`)
  moved by ``D_k``, and the points are drawn on its triangles by area
  (:func:`flowam.param.mesh.sample_triangles`);
- with ``union``, only the surface of the parts' union is drawn: twice the points are
  drawn and those inside another part's box dropped (:func:`outer_surface`), so parts
  piled into a block look like one solid, as a real object's surface does, not like a
  volume filled with the faces buried inside it;
- the points are clamped into ``[-C, C]`` (legal by construction).

The start (:func:`start_parameters`) is class-agnostic: a root cube of half-size
:data:`ROOT_HALF` at the origin with small cubes of half-size :data:`PART_HALF` hung
on it in the order of :data:`SLOTS` (four legs under its corners first, then its
faces, inside the root; with ``union`` on them, outside), the same for every class;
``start = "parts"`` is that start as a cloud of cubes
(in the unit sphere, as ``part_normalize`` sees it).

Parts that turn (a rotation per part), parts mirrored across ``x = 0`` and parts rounded
towards cylinders were measured and did worse (docs/history.md §H15–H16); they were removed
in a redesign that left every number of the presets unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from flowam.errors import FlowamError
from flowam.param.chart import Chart, ParamConfig, Parameterization
from flowam.param.deform import CONTROLS, cube_surface, deform, weights
from flowam.param.mesh import sample_triangles
from flowam.param.surface import into_unit_sphere, stratified_pick, uniforms
from flowam.seeding import generator

ROOT_HALF, PART_HALF = 0.25, 0.06
MAX_HALF = 1.0
TANH_EDGE = 0.9  # tanh of the start's anchors and offsets: near a face, not on it
SLOTS: tuple[tuple[int, tuple[float, float, float], tuple[float, float, float]], ...] = (
    # (parent, anchor in the parent's box, offset of the centre in the part's own box)
    (-1, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),  # the root
    (0, (1, -1, 1), (0, -1, 0)),  # four legs under the root's lower corners
    (0, (-1, -1, 1), (0, -1, 0)),
    (0, (1, -1, -1), (0, -1, 0)),
    (0, (-1, -1, -1), (0, -1, 0)),
    (0, (1, 0, 0), (-1, 0, 0)),  # one part on each face: ±x, ±z, +y, -y
    (0, (-1, 0, 0), (1, 0, 0)),
    (0, (0, 0, 1), (0, 0, -1)),
    (0, (0, 0, -1), (0, 0, 1)),
    (0, (0, 1, 0), (0, -1, 0)),
    (0, (0, -1, 0), (0, 1, 0)),
    (9, (0, 1, 0), (0, -1, 0)),  # one on top of the top part
)
"""The tree of parts: ``parts = K`` uses the first ``K`` slots."""
PARAMS = 9  # per part: anchor (3), offset (3), size (3)
UNION_DRAWS = 2
"""With ``union``, points drawn per point kept (those buried inside other parts go)."""


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def start_parameters(parts: int, min_half: float, outward: bool = False) -> Tensor:
    """``(parts, PARAMS)`` the class-agnostic start (see the module docstring). The parts
    on the root's faces start inside it, their centres offset towards the root's centre;
    ``outward`` offsets them away from it instead, so every part shows (a union draws
    nothing of a part buried inside another, and a buried part would get no gradient)."""
    if not 1 <= parts <= len(SLOTS):
        raise FlowamError(f"parts={parts} must be between 1 and {len(SLOTS)}")
    if not 0 < min_half < PART_HALF:
        raise FlowamError(f"part_min={min_half} must be in (0, {PART_HALF})")
    rows = []
    for k, (_, anchor, offset) in enumerate(SLOTS[:parts]):
        half = ROOT_HALF if k == 0 else PART_HALF
        size = _logit((half - min_half) / (MAX_HALF - min_half))
        a = [math.atanh(TANH_EDGE * v) for v in anchor] if k else [0.0, 0.0, 0.0]
        if outward and any(x * y < 0 for x, y in zip(anchor, offset, strict=True)):
            offset = anchor  # a part offset back into its parent: offset it out instead
        b = [math.atanh(TANH_EDGE * v) for v in offset]
        rows.append([*a, *b, size, size, size])
    return torch.tensor(rows, dtype=torch.float32)


def boxes(param: Tensor, min_half: float, bend: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Centres ``(B, K, 3)`` and half-sizes ``(B, K, 3)`` of the parts of ``(B, K, PARAMS)``
    parameters (parents before children, as in SLOTS).

    ``bend``: ``(B, K, CONTROLS, 3)`` each part's free-form deformation offsets
    (:mod:`flowam.param.deform`). A part's anchor is then its parent's deformed point, and its
    centre is placed so that its own deformed point at the anchor's local position is
    the anchor: every part still touches its parent.
    """
    half = min_half + (MAX_HALF - min_half) * torch.sigmoid(param[..., 6:9])
    k = param.shape[1]
    parents = [max(parent, 0) for parent, _, _ in SLOTS[:k]]  # the root's row is unused
    at_parent, own = torch.tanh(param[..., 0:3]), -torch.tanh(param[..., 3:6])
    if bend is not None:  # each anchor's local position, deformed by its part
        at_parent, own = deform(at_parent, bend[:, parents]), deform(own, bend)
    # the anchor from the parent's centre, and the part's centre from the anchor
    anchor = half[:, parents] * at_parent
    offset = -(half * own)
    centres = [param[:, 0, 0:3]]
    for j in range(1, k):
        centres.append(centres[parents[j]] + anchor[:, j] + offset[:, j])
    return torch.stack(centres, 1), half


def face_areas(half: Tensor) -> Tensor:
    """``(B, K, 6)`` areas of the faces normal to ``+x, -x, +y, -y, +z, -z`` of boxes of
    half-sizes ``(B, K, 3)``."""
    hx, hy, hz = half.unbind(-1)
    return (torch.stack([hy * hz, hx * hz, hx * hy], -1) * 4).repeat_interleave(2, dim=-1)


def sample_surface(
    centres: Tensor,
    half: Tensor,
    n: int,
    generators: Sequence[torch.Generator],
    elements: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """``(B, n, 3)`` points uniform by area on the surfaces of ``K`` boxes per cloud.

    Faces are picked by stratified sampling of their areas
    (:func:`flowam.param.surface.stratified_pick`), the point uniform on its face;
    differentiable in ``centres`` and ``half``, not in the choice of faces.
    ``generators``: one per cloud (CPU). With ``elements``, also ``(B, n)`` the part each
    point lies on.
    """
    b, k, _ = centres.shape
    u = uniforms(generators, n, 3, centres)
    face = stratified_pick(face_areas(half.detach()).reshape(b, 6 * k), u[..., 0])
    part, side = face // 6, face % 6
    axis, sign = side // 2, 1.0 - 2.0 * (side % 2).to(centres.dtype)
    local = torch.cat([u[..., 1:] * 2 - 1, sign[..., None]], -1)  # (B, n, 3): s, t, ±1
    # put ±1 on the face's axis and (s, t) on the other two, in axis order
    order = torch.stack([(axis + 1) % 3, (axis + 2) % 3, axis], -1)
    local = torch.zeros_like(local).scatter(-1, order, local)
    pick = part[..., None].expand(b, n, 3)
    points = torch.gather(centres, 1, pick) + torch.gather(half, 1, pick) * local
    return (points, part) if elements else points


def outer_surface(
    points: Tensor, part: Tensor, centres: Tensor, half: Tensor, n: int, gens
) -> Tensor:
    """``(B, n, 3)`` of ``(B, M, 3)`` surface points (``part`` ``(B, M)`` the part each
    lies on): those outside every other part's box, ``n`` of them in random order (kept
    ones repeated where fewer than ``n`` are left) — the surface of the parts' union, as
    a solid object's is, without the faces buried inside other parts.

    A point is inside part ``j`` when its offset from ``c_j`` is within ``h_j`` on every
    axis (the part's box; a bent part is tested by its box, undeformed). The choice is
    not differentiated; the kept points are, in their own part's parameters.
    """
    b, m, _ = points.shape
    with torch.no_grad():
        local = (points.detach()[:, :, None] - centres.detach()[:, None]) / half.detach()[:, None]
        inside = (local.abs() < 1 - 1e-4).all(-1)  # (B, M, K)
        own = torch.nn.functional.one_hot(part, centres.shape[1]).bool()
        kept = ~(inside & ~own).any(-1)  # (B, M)
        noise = uniforms(gens, m, 1, points)[..., 0]
        order = torch.argsort(kept.to(noise) + noise * 0.5, dim=1, descending=True)
        count = kept.sum(1, keepdim=True).clamp_min(1)
        chosen = order.gather(1, torch.arange(n, device=points.device)[None] % count)
    return torch.gather(points, 1, chosen[..., None].expand(b, n, 3))


class PartsChart(Chart):
    """``(B, K, PARAMS)`` part parameters (``PARAMS + 3 CONTROLS`` with ``bend``: the
    deformation offsets follow) and their clouds of ``n`` points."""

    def __init__(self, n: int, start: Tensor, seeds: Sequence[int], assembly: Parts) -> None:
        self.n, self.assembly = n, assembly
        self.generators = [generator(s, "parts") for s in seeds]
        super().__init__(start)

    def cloud(self) -> Tensor:
        a = self.assembly
        drawn = self.n * UNION_DRAWS if a.union else self.n
        if a.bend:
            points, part, centres, half = self._bent(drawn)
        else:
            centres, half = boxes(self.param, a.min_half)
            points, part = sample_surface(centres, half, drawn, self.generators, elements=True)
        if a.union:
            points = outer_surface(points, part, centres, half, self.n, self.generators)
        if a.normalize:  # into the unit sphere, as the data are
            return into_unit_sphere(points, a.bound)
        return points.clamp(-a.bound, a.bound)

    def _bent(self, n: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(B, n, 3)`` points uniform by area on the deformed parts (each part's cube
        surface mesh moved by its deformation, sized and placed), ``(B, n)`` the part each
        lies on, and the parts' centres and half-sizes ``(B, K, 3)``."""
        a, b, k = self.assembly, *self.param.shape[:2]
        offsets = self.param[..., PARAMS:].reshape(b, k, CONTROLS, 3)
        centres, half = boxes(self.param[..., :PARAMS], a.min_half, offsets)
        cube, w = a.cube.to(centres), a.cube_weights.to(centres)
        verts = centres[:, :, None] + half[:, :, None] * (cube + w @ offsets)  # (B, K, V, 3)
        faces = a.cube_faces.to(centres.device)
        points, tri = sample_triangles(
            verts.reshape(b, -1, 3), faces, n, self.generators, elements=True
        )
        return points, tri // (len(faces) // k), centres, half

    def held(self, step: int, steps: int) -> Tensor | None:
        """The deformation offsets, for the first ``bend_after`` share of the steps: the
        parts stay boxes until then (coarse to fine)."""
        if not self.assembly.bend or step >= self.assembly.bend_after * steps:
            return None
        mask = torch.zeros(self.param.shape[-1], dtype=torch.bool, device=self.param.device)
        mask[PARAMS:] = True
        return mask

    def set(self, clouds: Tensor) -> None:
        raise FlowamError(
            "step transforms cannot act on an assembly of parts (see flowam.param.parts)"
        )


class Parts(Parameterization):
    """``parts`` boxes on the tree of :data:`SLOTS`, no thinner than ``min_half``, with
    ``bend`` each bent by a free-form deformation of its own (:mod:`flowam.param.deform`) from
    the ``bend_after`` share of the steps on, with ``normalize`` centred on their centroid
    and scaled so the farthest point lies on the unit sphere (as every real object is: a
    part cannot shrink the whole), with ``union`` drawn on the surface of their union
    only, their points clamped into ``[-bound, bound]``; ``start_noise`` adds Gaussian
    noise of that standard deviation to each cloud's start parameters (anchors, offsets
    and sizes, before their tanh and sigmoid), drawn from the cloud's seed: restarts that
    begin apart, from a start that still carries no class."""

    transformable = False

    def __init__(
        self,
        parts: int = len(SLOTS),
        min_half: float = 0.02,
        bound: float = 1.0,
        normalize: bool = False,
        bend: bool = False,
        bend_after: float = 0.0,
        union: bool = False,
        start_noise: float = 0.0,
    ) -> None:
        if bend_after and not bend:
            raise FlowamError(f"param.bend_after={bend_after} needs param.bend=true")
        if not 0.0 <= bend_after < 1.0:
            raise FlowamError(
                f"param.bend_after={bend_after} must be a share of the steps in [0, 1)"
            )
        self.start = start_parameters(parts, min_half, outward=union)
        if bend:  # the deformations start as the identity
            self.start = torch.cat([self.start, torch.zeros(parts, CONTROLS * 3)], 1)
            self.cube, faces = cube_surface()
            self.cube_weights = weights(self.cube)  # (V, CONTROLS)
            # every part's triangles, indexing the parts' vertices stacked part after part
            self.cube_faces = torch.cat([faces + k * len(self.cube) for k in range(parts)])
        self.min_half, self.bound = min_half, bound
        self.normalize, self.bend, self.bend_after = normalize, bend, bend_after
        self.union = union
        if start_noise < 0:
            raise FlowamError(f"param.start_noise={start_noise} must not be negative")
        self.start_noise = start_noise

    def chart(self, start: Tensor, seeds: Sequence[int] | None = None) -> Chart:
        b, n, _ = start.shape
        seeds = list(seeds) if seeds is not None else list(range(b))
        param = self.start.to(start)[None].repeat(b, 1, 1)
        if self.start_noise:  # each cloud's own draw of the start's anchors, offsets and sizes
            noise = [
                torch.randn(self.start[:, :PARAMS].shape, generator=generator(s, "start"))
                for s in seeds
            ]
            param[..., :PARAMS] += self.start_noise * torch.stack(noise).to(param)
        return PartsChart(n, param, seeds, self)


@dataclass(frozen=True)
class PartsConfig(ParamConfig):
    """``[param] kind = "parts"``: the options of :class:`Parts`; it starts from its own
    cubes (``start = "parts"``)."""

    kind = "parts"
    drawn = "its cubes"
    min_half: float = 0.02  # the parts' smallest half-size
    normalize: bool = False  # the parts centred and scaled into the unit sphere
    bend: bool = False  # each part bent by a free-form deformation (flowam.param.deform)
    bend_after: float = 0.0  # share of the steps the parts stay boxes (coarse to fine)
    union: bool = False  # draw only the surface of the parts' union (none buried inside)
    start_noise: float = 0.0  # noise on each cloud's start parameters (restarts apart)

    def __post_init__(self) -> None:
        if not 0 < self.min_half < MAX_HALF:
            raise FlowamError(f"param.min_half={self.min_half} must be in (0, {MAX_HALF})")
        self.build(1.0)  # the parts check their own options

    def build(self, bound: float, generator: Any = None) -> Parts:
        return Parts(
            min_half=self.min_half,
            bound=bound,
            normalize=self.normalize,
            bend=self.bend,
            bend_after=self.bend_after,
            union=self.union,
            start_noise=self.start_noise,
        )


def start_cloud(n: int, normalize: bool = True) -> np.ndarray:
    """``(n, 3)`` the start as a cloud (one draw, seed 0): ``start = "parts"``.

    Normalised into the unit sphere, as the ``parts`` preset (``param.normalize``) starts; without
    normalisation an assembly starts from the same shape at 0.48 times the size."""
    chart = Parts(normalize=normalize).chart(torch.zeros(1, n, 3), seeds=[0])
    with torch.no_grad():
        return chart.cloud()[0].numpy()
