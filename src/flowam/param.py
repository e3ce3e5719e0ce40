"""Parameterizations: what the optimiser moves, and how it becomes a cloud.

A parameterization makes, for each chunk of starting clouds, a :class:`Chart`: the
tensor the optimiser moves (``param``) and the differentiable map from it to the clouds
(``cloud()``). Five kinds:

- **Coordinates** (the default, ``None``): the optimiser moves the points themselves.
  The points a max-pooling network's gradient reaches are the few "critical" ones, so
  plain AM drags a handful of points around and leaves the rest.
- :class:`Smooth` preconditions the step instead (after Nicolet et al., "Large Steps in
  Inverse Rendering of Geometry", 2021): the optimiser moves ``u`` and the cloud is
  ``x = (I + λ L)⁻¹ u``, where ``L`` is the graph Laplacian of the k-nearest-neighbour
  graph of the starting cloud (symmetrised, unit weights). A gradient on one point
  spreads over its neighbourhood as a smooth deformation (the inverse is a low-pass
  filter: the Laplacian's eigenvector of eigenvalue ``e`` is damped by ``1 / (1 + λe)``),
  so parts move rather than points, while every deformation stays reachable. ``λ = 0`` is
  the identity. The matrix ``(I + λL)⁻¹`` is dense, ``(B, N, N)``: 1 MiB per 512-point
  cloud in float32.
- :class:`flowam.assembly.Assembly`: the optimiser moves the poses and sizes of cuboids
  hung on a tree, and the cloud is drawn on their surfaces anew at every call.
- :class:`flowam.mesh.Mesh`: the optimiser moves the smoothed vertices of a closed
  triangle mesh (through this module's :func:`smoothing`, over the mesh's edges), and the
  cloud is drawn on its triangles anew at every call.
- :class:`Latent`: the optimiser moves a generator's latent code, starting from the
  encoding of the starting cloud, and the cloud is its decoding (the generative
  baselines' AM: :mod:`flowam.generative`). A code has no inverse image of an arbitrary
  cloud, so step transforms (projection, blur, noise) cannot act on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from flowam.errors import FlowamError
from flowam.ops import knn


def smoothing(adjacency: Tensor, weight: float) -> tuple[Tensor, Tensor]:
    """``I + λL`` and its inverse for ``(..., n, n)`` symmetric 0/1 adjacency matrices, ``L``
    their graph Laplacian (degree minus adjacency) and ``λ = weight``."""
    n = adjacency.shape[-1]
    laplacian = torch.diag_embed(adjacency.sum(-1)) - adjacency
    forward = torch.eye(n, device=adjacency.device, dtype=adjacency.dtype) + weight * laplacian
    # I + λL is symmetric positive definite: invert through its Cholesky factor (the
    # batched LU of torch.linalg.inv fails in MKL with more than one thread)
    return forward, torch.cholesky_inverse(torch.linalg.cholesky(forward))


class Chart:
    """One chunk's parameters (``param``, a leaf tensor) and their clouds: coordinates."""

    def __init__(self, param: Tensor) -> None:
        self.param = param.detach().clone().requires_grad_(True)

    def cloud(self) -> Tensor:
        """``(B, N, 3)`` the clouds the parameters stand for (graph attached)."""
        return self.param

    def held(self, step: int, steps: int) -> Tensor | None:
        """A boolean mask, broadcastable to ``param``, of the entries the update of
        ``step`` (of ``steps``) leaves where they are (a coarse-to-fine schedule); None:
        every entry moves."""
        return None

    @torch.no_grad()
    def set(self, clouds: Tensor) -> None:
        """Make the parameters stand for ``clouds`` (after a step transform)."""
        self.param.copy_(clouds)


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


class LatentChart(Chart):
    """``x = decode(z)``, ``z`` starting at ``encode(start)``."""

    def __init__(self, start: Tensor, autoencoder: nn.Module) -> None:
        self.autoencoder = autoencoder
        with torch.no_grad():
            super().__init__(autoencoder.encode(start))

    def cloud(self) -> Tensor:
        return self.autoencoder.decode(self.param)

    def set(self, clouds: Tensor) -> None:
        raise FlowamError("step transforms cannot act on a latent code (see flowam.param)")


class Parameterization:
    """Base class: :meth:`chart` makes the chart of a chunk of ``(B, N, 3)`` starts."""

    transformable = True  # whether step transforms can act on its clouds

    def chart(self, start: Tensor, seeds: Sequence[int] | None = None) -> Chart:
        """The chart of ``start``; ``seeds`` (one per cloud) seed what a chart draws."""
        return Chart(start)


class Smooth(Parameterization):
    """The Laplacian-smoothed parameterization of weight ``λ`` over ``k`` neighbours."""

    def __init__(self, weight: float, k: int = 8) -> None:
        if weight < 0 or k < 1:
            raise FlowamError(f"smooth={weight} must be >= 0 and smooth_k={k} >= 1")
        self.weight, self.k = weight, k

    def chart(self, start: Tensor, seeds: Sequence[int] | None = None) -> Chart:
        return SmoothChart(start, self.weight, self.k)


class Latent(Parameterization):
    """A generator's latent code (``autoencoder`` has ``encode`` and ``decode``)."""

    transformable = False

    def __init__(self, autoencoder: nn.Module) -> None:
        self.autoencoder = autoencoder

    def chart(self, start: Tensor, seeds: Sequence[int] | None = None) -> Chart:
        return LatentChart(start, self.autoencoder.to(start.device))
