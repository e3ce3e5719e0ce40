"""Clouds drawn on surfaces: the steps that assemblies of parts and meshes share.

A parameterization that owns a surface (:mod:`flowam.param.parts`'s cuboids,
:mod:`flowam.param.mesh`'s triangles) makes its cloud anew at every call in three steps:

1. pick, for each of the ``n`` points, the surface element (a face, a triangle) it lies
   on, by **stratified inverse-CDF sampling of the elements' areas**
   (:func:`stratified_pick`): point ``i`` takes the element whose cumulative area holds
   ``(i + u_i) / n`` of the total, ``u_i`` uniform in ``[0, 1)``, so every element gets
   its area's share of the points up to one (plain multinomial draws scatter by
   ``sqrt(n)``);
2. put the point uniformly on its element (the parameterization's own geometry); the
   point is differentiable in the element's parameters, not in the choice of element;
3. centre the cloud and scale it so its farthest point lies on the unit sphere, as every
   real object is (:func:`into_unit_sphere`), then clamp into ``[-bound, bound]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def uniforms(generators: Sequence[torch.Generator], n: int, k: int, like: Tensor) -> Tensor:
    """``(B, n, k)`` uniform numbers in ``[0, 1)``, cloud ``b`` from ``generators[b]``
    (CPU generators, so a cloud's draws do not depend on the other clouds of its batch),
    in ``like``'s dtype and device."""
    return torch.stack([torch.rand(n, k, generator=g) for g in generators]).to(like)


def stratified_pick(areas: Tensor, u: Tensor) -> Tensor:
    """``(B, n)`` the element each point lies on, for ``(B, E)`` element areas (no
    gradient is taken through them) and ``(B, n)`` uniforms: point ``i`` of ``n`` takes the
    element whose cumulative area first reaches ``(i + u_i) / n`` of the total."""
    cdf = torch.cumsum(areas.detach(), 1)
    n = u.shape[1]
    strata = (torch.arange(n, device=u.device, dtype=cdf.dtype) + u.to(cdf)) / n * cdf[:, -1:]
    return torch.searchsorted(cdf, strata.contiguous()).clamp(max=areas.shape[1] - 1)


def into_unit_sphere(points: Tensor, bound: float) -> Tensor:
    """``(B, N, 3)`` clouds centred on their centroid and scaled so the farthest point lies
    on the unit sphere, then clamped into ``[-bound, bound]``."""
    points = points - points.mean(1, keepdim=True)
    points = points / points.norm(dim=-1).amax(1).clamp_min(1e-12)[:, None, None]
    return points.clamp(-bound, bound)
