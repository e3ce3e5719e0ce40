"""Geometric operations on batched point sets, written in plain PyTorch (CPU and CUDA).

Every function takes ``(B, N, 3)`` tensors (or ``(B, N, C)`` features; channels first
where it says so), follows the device and dtype of its input and has a naive reference
in ``tests/test_ops.py``.
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


class _ConvMax(torch.autograd.Function):
    """``max`` over points of a pointwise linear map, in blocks of points; see
    :func:`conv_max`."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor, block: int) -> Tensor:
        w = weight.expand(x.shape[0], -1, -1)
        best = idx = None
        for lo in range(0, x.shape[2], block):  # the bias is added after the maximum
            value, where = torch.bmm(w, x[:, :, lo : lo + block]).max(dim=2)
            if best is None:
                best, idx = value, where
            else:  # strictly greater keeps the first maximum; NaN wins and stays
                better = (value > best) | value.isnan()
                best = torch.where(better, value, best)
                idx = torch.where(better, where + lo, idx)
        ctx.save_for_backward(x, weight, idx)
        ctx.bias_dtype = bias.dtype
        return best + bias

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, weight, idx = ctx.saved_tensors
        b, c_in, _ = x.shape
        at = idx[:, None, :].expand(b, c_in, -1)  # (B, Cin, Cout): the argmax of each output
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:  # each output's gradient goes to its argmax point
            rows = (grad[:, :, None] * weight[None]).transpose(1, 2).to(x.dtype)
            grad_x = torch.zeros_like(x).scatter_add_(2, at, rows)
        if ctx.needs_input_grad[1]:
            grad_w = torch.einsum("bo,bio->oi", grad, x.gather(2, at).to(grad.dtype))
            grad_w = grad_w.to(weight.dtype)
        if ctx.needs_input_grad[2]:
            grad_b = grad.sum(0).to(ctx.bias_dtype)
        return grad_x, grad_w, grad_b, None


def conv_max(x: Tensor, weight: Tensor, bias: Tensor, block: int = 256) -> Tensor:
    """``max`` over points of a 1×1 convolution, without the convolution's full output.

    Equal to ``conv1d(x, weight[..., None], bias).max(dim=2).values`` (the global max
    pooling after PointNet's widest layer), computed over ``block`` points at a time with
    a running maximum, so the ``(B, Cout, N)`` activation is never stored: the forward
    pass stays in cache and the backward pass sends each output's gradient to its argmax
    point only (``Cout`` rows of the weight per cloud instead of a dense convolution).
    Differentiable in all three tensors. Where maxima tie, the first point wins (as
    ``max`` gives the gradient to one point); a NaN anywhere makes its channel NaN.

    Args:
        x: ``(B, Cin, N)`` features, channels first.
        weight: ``(Cout, Cin)``.
        bias: ``(Cout,)``.
        block: points per block (256 measured fastest on a 2-core CPU for 128 → 1,024
            channels; any value gives the same result).

    Returns:
        ``(B, Cout)``.
    """
    if block < 1:
        raise ValueError(f"block={block}: must be at least 1")
    return _ConvMax.apply(x, weight, bias, block)
