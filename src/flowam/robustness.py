"""Transformation robustness: the model sees randomly transformed copies of each cloud.

Image feature visualization (Lucid's ``transform`` module) evaluates the objective on
randomly jittered, scaled and rotated copies of the image at every step, so that the
optimum must hold under small changes of viewpoint instead of exploiting single pixels.
The point-cloud analogue here draws, for every cloud at every step, ``copies`` copies,
each with

- a rotation about the up axis (``+y``) by an angle uniform in ``±yaw`` degrees;
- a scaling uniform in ``[1 - scale, 1 + scale]`` (one factor per copy);
- a shift uniform in ``±shift`` per axis;
- Gaussian jitter of standard deviation ``jitter`` per coordinate;
- point dropout: each point replaced, with probability ``dropout``, by the cloud's first
  point (how PointNet is trained), so the max-pooled features cannot rest on a few
  critical points;
- with ``sampling``, the model's own sampling made random (He Wang et al. 2020 find
  PointNet++ and DGCNN "sampling-oversensitive": their gradients mostly rearrange the
  sampling): each copy is a re-sampling of the cloud, its ``N`` points drawn with
  replacement in random order (the density changes, so do DGCNN's k-nearest-neighbour
  graphs and PointNet++'s balls, which take the lowest-indexed points within reach),
  and inside :meth:`Robustness.sampling_context` farthest-point sampling starts each
  copy at its first point, a random one (:func:`flowam.ops.first_point_starts`).

Row 0 of each cloud's group is the cloud itself, untransformed, so the engine records the
target logit of the cloud as it is, at no extra cost. Keep the ranges within the
augmentations the model was trained with: the bundled models saw scaling 0.8-1.25,
shifts of ±0.1 and point dropout up to 87.5 %, no rotation.

Every draw comes from a generator seeded by the cloud's seed and the step, so a cloud's
copies do not depend on the other clouds of its batch.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
from torch import Tensor

from flowam.errors import FlowamError
from flowam.ops import first_point_starts, yaw_matrix
from flowam.seeding import generator


@dataclass(frozen=True)
class Robustness:
    """Random transformations under which the objective is evaluated (see above): a
    method's ``[robustness]`` (``robustness.copies``, ...); 0 copies is none."""

    copies: int = 4
    yaw: float = 15.0  # degrees about the up axis
    scale: float = 0.15  # factor in [1 - s, 1 + s]
    shift: float = 0.1
    jitter: float = 0.01
    dropout: float = 0.0  # share of points dropped in each copy
    sampling: bool = False  # copies re-sampled, the model's sampling started at random

    def __post_init__(self) -> None:
        if self.copies < 0:
            raise FlowamError(f"robustness.copies={self.copies} must not be negative")
        for name in ("yaw", "scale", "shift", "jitter"):
            if getattr(self, name) < 0:
                raise FlowamError(f"robustness.{name}={getattr(self, name)} must not be negative")
        if not 0 <= self.scale < 1:
            raise FlowamError(f"robustness.scale={self.scale} must be in [0, 1)")
        if not 0 <= self.dropout < 1:
            raise FlowamError(f"robustness.dropout={self.dropout} must be in [0, 1)")
        if self.sampling and not self.copies:
            raise FlowamError(
                "robustness.sampling re-samples the copies: it needs robustness.copies >= 1"
            )

    @property
    def group(self) -> int:
        """Rows per cloud in the model's batch: the cloud itself and its copies."""
        return self.copies + 1

    def __call__(self, points: Tensor, step: int, seeds: list[int]) -> Tensor:
        """``(B, N, 3)`` clouds to ``(B * group, N, 3)``: each cloud, then its copies.

        Differentiable with respect to ``points``.
        """
        b, n, _ = points.shape
        k = self.copies
        draws = [self._draw(n, step, s) for s in seeds]
        angle, scale, shift, jitter, drop = (
            torch.stack([d[i] for d in draws]).to(points) for i in range(5)
        )
        rot = yaw_matrix(angle)  # (B, k, 3, 3)
        copies = points[:, None].expand(b, k, n, 3)
        if self.sampling:
            picks = torch.stack([self._picks(n, step, s) for s in seeds]).to(points.device)
            copies = torch.gather(copies, 2, picks[..., None].expand(b, k, n, 3))
        if self.dropout:
            first = points[:, None, :1].expand(b, k, n, 3)
            copies = torch.where(drop[..., None] > 0, first, copies)
        copies = copies @ rot * scale[..., None, None] + shift[:, :, None] + jitter
        return torch.cat([points[:, None], copies], 1).reshape(b * self.group, n, 3)

    def sampling_context(self, clouds: int) -> AbstractContextManager[None]:
        """The context of the model's forward pass on ``clouds`` groups of rows: with
        ``sampling``, farthest-point sampling starts every copy at its first point (row 0
        of each group, the cloud itself, keeps the model's own start)."""
        if not self.sampling:
            return nullcontext()
        copies = torch.ones(clouds, self.group, dtype=torch.bool)
        copies[:, 0] = False
        return first_point_starts(copies.flatten())

    def _picks(self, n: int, step: int, seed: int) -> Tensor:
        """``(copies, n)`` one cloud's re-sampling for one step: indices drawn with
        replacement (CPU; a stream of its own, so the other draws stay as they were)."""
        gen = generator(seed, "sampling", step)
        return torch.randint(n, (self.copies, n), generator=gen)

    def _draw(self, n: int, step: int, seed: int) -> tuple[Tensor, ...]:
        """One cloud's random numbers for one step (CPU, float32)."""
        gen = generator(seed, "robustness", step)
        k = self.copies
        angle = (torch.rand(k, generator=gen) * 2 - 1) * math.radians(self.yaw)
        scale = 1 + (torch.rand(k, generator=gen) * 2 - 1) * self.scale
        shift = (torch.rand(k, 3, generator=gen) * 2 - 1) * self.shift
        jitter = torch.randn(k, n, 3, generator=gen) * self.jitter
        drop = (torch.rand(k, n, generator=gen) < self.dropout).float()
        return angle, scale, shift, jitter, drop
