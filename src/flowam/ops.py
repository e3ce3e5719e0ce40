"""Geometric operations on batched point sets, written in plain PyTorch (CPU and CUDA).

Every function takes ``(B, N, 3)`` tensors (or ``(B, N, C)`` features), follows the
device and dtype of its input and has a naive reference in ``tests/test_ops.py``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def square_distance(a: Tensor, b: Tensor) -> Tensor:
    """Squared Euclidean distances between two batched point sets.

    Args:
        a: ``(B, N, C)``.
        b: ``(B, M, C)``.

    Returns:
        ``(B, N, M)``, clamped at 0 against rounding.
    """
    d = -2.0 * a @ b.transpose(1, 2)
    d = d + (a * a).sum(-1, keepdim=True) + (b * b).sum(-1).unsqueeze(1)
    return d.clamp_min_(0.0)


def farthest_point_sample(points: Tensor, k: int, start: Tensor | None = None) -> Tensor:
    """Indices of ``k`` points chosen by iterative farthest-point sampling.

    Args:
        points: ``(B, N, C)``.
        k: number of points to keep, ``1 <= k <= N``.
        start: ``(B,)`` long indices of the first point of each set. By default the
            point farthest from the set's centroid, so the result is deterministic and
            does not depend on the order in which points are stored.

    Returns:
        ``(B, k)`` long indices; the first is ``start``.
    """
    b, n, _ = points.shape
    if not 1 <= k <= n:
        raise ValueError(f"farthest_point_sample: k={k} must be between 1 and N={n}")
    if start is None:
        centroid = points.mean(dim=1, keepdim=True)
        start = ((points - centroid) ** 2).sum(-1).argmax(dim=1)
    idx = torch.empty(b, k, dtype=torch.long, device=points.device)
    nearest = torch.full((b, n), float("inf"), dtype=points.dtype, device=points.device)
    rows = torch.arange(b, device=points.device)
    current = start
    for i in range(k):
        idx[:, i] = current
        d = ((points - points[rows, current].unsqueeze(1)) ** 2).sum(-1)
        nearest = torch.minimum(nearest, d)
        current = nearest.argmax(dim=1)
    return idx


def gather_points(points: Tensor, idx: Tensor) -> Tensor:
    """Select points by index per batch element.

    Args:
        points: ``(B, N, C)``.
        idx: ``(B, ...)`` long indices into N.

    Returns:
        ``(B, ..., C)``.
    """
    b = points.shape[0]
    flat = idx.reshape(b, -1)
    out = torch.gather(points, 1, flat.unsqueeze(-1).expand(-1, -1, points.shape[-1]))
    return out.reshape(*idx.shape, points.shape[-1])


def ball_query(radius: float, nsample: int, points: Tensor, centers: Tensor) -> Tensor:
    """Indices of up to ``nsample`` points within ``radius`` of each center.

    As in PointNet++: the neighbours with the lowest indices are taken, and slots left
    empty repeat the first neighbour found (each center is assumed to have at least one
    point within reach, e.g. itself).

    Args:
        radius: ball radius.
        nsample: neighbours per center.
        points: ``(B, N, 3)``.
        centers: ``(B, S, 3)``.

    Returns:
        ``(B, S, nsample)`` long indices into N.
    """
    n = points.shape[1]
    d = square_distance(centers, points)
    idx = torch.arange(n, device=points.device).expand_as(d).clone()
    idx[d > radius**2] = n
    k = min(nsample, n)
    idx = idx.topk(k, dim=-1, largest=False, sorted=True).values
    if k < nsample:
        idx = torch.cat([idx, idx.new_full((*idx.shape[:2], nsample - k), n)], dim=-1)
    first = idx[..., :1].expand_as(idx)
    return torch.where(idx == n, first, idx)


def knn(features: Tensor, k: int) -> Tensor:
    """Indices of the ``k`` nearest neighbours of every point (itself included).

    Args:
        features: ``(B, C, N)`` points or features, channels first (as in DGCNN).
        k: neighbours per point.

    Returns:
        ``(B, N, k)`` long indices, nearest first.
    """
    x = features.transpose(1, 2)
    return (-square_distance(x, x)).topk(k, dim=-1).indices
