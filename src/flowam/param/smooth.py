"""The Laplacian-smoothed parameterization ``x = (I + λL)⁻¹u`` (after Nicolet et al., "Large
Steps in Inverse Rendering of Geometry", 2021).

The optimiser moves ``u`` and the cloud is ``x = (I + λ L)⁻¹ u``, where ``L`` is the graph
Laplacian of the k-nearest-neighbour graph of the starting cloud (symmetrised, unit
weights). A gradient on one point spreads over its neighbourhood as a smooth deformation
(the inverse is a low-pass filter: the Laplacian's eigenvector of eigenvalue ``e`` is
damped by ``1 / (1 + λe)``), so parts move rather than points, while every deformation
stays reachable. ``λ = 0`` is the identity. The matrix ``(I + λL)⁻¹`` is dense,
``(B, N, N)``: 1 MiB per 512-point cloud in float32. It starts from the points' starts
(:mod:`flowam.param.points`); :func:`smoothing` also smooths a mesh over its edges
(:mod:`flowam.param.mesh`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from flowam.errors import FlowamError
from flowam.ops import knn
from flowam.param.chart import Chart, Parameterization
from flowam.param.points import PointsConfig


def smoothing(adjacency: Tensor, weight: float) -> tuple[Tensor, Tensor]:
    """``I + λL`` and its inverse for ``(..., n, n)`` symmetric 0/1 adjacency matrices, ``L``
    their graph Laplacian (degree minus adjacency) and ``λ = weight``."""
    n = adjacency.shape[-1]
    laplacian = torch.diag_embed(adjacency.sum(-1)) - adjacency
    forward = torch.eye(n, device=adjacency.device, dtype=adjacency.dtype) + weight * laplacian
    # I + λL is symmetric positive definite: invert through its Cholesky factor (the
    # batched LU of torch.linalg.inv fails in MKL with more than one thread)
    return forward, torch.cholesky_inverse(torch.linalg.cholesky(forward))


class SmoothChart(Chart):
    """``x = (I + λL)⁻¹ u`` (see the module docstring)."""

    def __init__(self, start: Tensor, weight: float, k: int) -> None:
        b, n, _ = start.shape
        idx = knn(start.transpose(1, 2), k + 1)[:, :, 1:]  # (B, N, k), self left out
        adjacency = torch.zeros(b, n, n, device=start.device, dtype=start.dtype)
        adjacency.scatter_(2, idx, 1.0)
        adjacency = ((adjacency + adjacency.transpose(1, 2)) > 0).to(start.dtype)
        self.forward, self.inverse = smoothing(adjacency, weight)
        super().__init__(self.forward @ start)

    def cloud(self) -> Tensor:
        return self.inverse @ self.param

    @torch.no_grad()
    def set(self, clouds: Tensor) -> None:
        self.param.copy_(self.forward @ clouds)


class Smooth(Parameterization):
    """The Laplacian-smoothed parameterization of weight ``λ`` over ``k`` neighbours."""

    def __init__(self, weight: float, k: int = 8) -> None:
        if weight < 0 or k < 1:
            raise FlowamError(f"param.smoothing={weight} must be >= 0 and param.k={k} >= 1")
        self.weight, self.k = weight, k

    def chart(self, start: Tensor, seeds: Sequence[int] | None = None) -> Chart:
        return SmoothChart(start, self.weight, self.k)


@dataclass(frozen=True)
class SmoothConfig(PointsConfig):
    """``[param] kind = "smooth"``: a points' start moved through ``(I + λL)⁻¹`` with
    ``λ = smoothing`` over ``k`` neighbours."""

    kind = "smooth"
    smoothing: float = 1.0
    k: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        Smooth(self.smoothing, self.k)

    def build(self, bound: float, generator: Any = None) -> Parameterization | None:
        return Smooth(self.smoothing, self.k)
