"""Operations applied to the clouds after each optimiser step (no gradient flows through).

- :class:`GaussianBlur` (supplement S1-A, Eq. S2): images are blurred by convolving each
  channel with a Gaussian kernel every few steps. A point set has no grid to convolve
  over; its analogue replaces every point by the Gaussian-weighted mean of itself and its
  ``k`` nearest neighbours, ``p_i ← Σ_j w_ij p_j / Σ_j w_ij`` with
  ``w_ij = exp(-‖p_i - p_j‖² / 2σ²)``. ``σ`` is ``sigma`` times the cloud's median
  nearest-neighbour distance, so the blur adapts to the cloud's density.
- :class:`IterationNoise` (supplement S1-D, "each iteration"): adds Gaussian noise of
  ``amplitude`` times the cloud's coordinate standard deviation after every step.
- :class:`LegalProjection`: clamps every coordinate into ``[-C, C]``, the legal interval,
  after every step. Eq. 5 only discourages illegal points; the legal set is a box, a
  convex set, and projecting onto it after each step (projected gradient ascent) keeps
  every explanation legal by construction.
"""

from __future__ import annotations

import torch
from torch import Tensor

from flowam.errors import FlowamError
from flowam.ops import gather_points, knn
from flowam.seeding import generator


class Transform:
    """Base class: ``apply(points, step, seeds) -> points`` on ``(B, N, 3)`` detached clouds."""

    name = "transform"

    def apply(self, points: Tensor, step: int, seeds: list[int]) -> Tensor:
        raise NotImplementedError


class GaussianBlur(Transform):
    """Gaussian smoothing over k nearest neighbours, every ``every`` steps (see above)."""

    name = "blur"

    def __init__(self, k: int = 8, sigma: float = 1.0, every: int = 1) -> None:
        if k < 1 or every < 1 or sigma <= 0:
            raise FlowamError("blur needs k >= 1, every >= 1 and sigma > 0")
        self.k, self.sigma, self.every = k, sigma, every

    def apply(self, points: Tensor, step: int, seeds: list[int]) -> Tensor:
        if (step + 1) % self.every:
            return points
        idx = knn(points.transpose(1, 2), self.k + 1)  # self first
        neighbours = gather_points(points, idx)  # (B, N, k+1, 3)
        d2 = ((neighbours - points[:, :, None]) ** 2).sum(-1)
        scale = d2[:, :, 1].clamp_min(1e-12).sqrt().median(dim=1, keepdim=True).values
        w = torch.exp(-d2 / (2 * (self.sigma * scale[..., None]) ** 2))
        return (w[..., None] * neighbours).sum(2) / w.sum(2, keepdim=True)


class IterationNoise(Transform):
    """Gaussian noise after every step, drawn per cloud from ``[seed, step]``."""

    name = "step_noise"

    def __init__(self, amplitude: float) -> None:
        self.amplitude = amplitude

    def apply(self, points: Tensor, step: int, seeds: list[int]) -> Tensor:
        gens = [generator(s, "step_noise", step) for s in seeds]
        noise = torch.stack([torch.randn(points.shape[1:], generator=g) for g in gens]).to(points)
        return points + self.amplitude * points.std(dim=(1, 2), keepdim=True) * noise


class LegalProjection(Transform):
    """Clamp coordinates into ``[-bound, bound]`` after every step (see above)."""

    name = "projection"

    def __init__(self, bound: float = 1.0) -> None:
        if bound <= 0:
            raise FlowamError(f"the legal bound must be positive, got {bound}")
        self.bound = bound

    def apply(self, points: Tensor, step: int, seeds: list[int]) -> Tensor:
        return points.clamp(-self.bound, self.bound)
