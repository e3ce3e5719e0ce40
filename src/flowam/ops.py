"""Geometric operations on batched point sets, written in plain PyTorch (CPU and CUDA).

Every function takes ``(B, N, 3)`` tensors (or ``(B, N, C)`` features; channels first
where it says so), follows the device and dtype of its input and has a naive reference
in ``tests/test_ops.py``.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import torch
from torch import Tensor

_SOFT_MAX = contextvars.ContextVar[float | None]("soft_max_backward", default=None)
_FIRST_STARTS = contextvars.ContextVar[Tensor | None]("first_point_starts", default=None)


def yaw_matrix(angle: Tensor) -> Tensor:
    """``(..., 3, 3)`` turns about the up axis (``+y``) by ``angle`` radians, for row
    vectors: ``points @ yaw_matrix(a)`` gives ``x' = x cos a + z sin a``, ``y' = y``,
    ``z' = -x sin a + z cos a``."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero, one = torch.zeros_like(cos), torch.ones_like(cos)
    rot = torch.stack([cos, zero, -sin, zero, one, zero, sin, zero, cos], dim=-1)
    return rot.view(*angle.shape, 3, 3)


def turned(points: Tensor, turns: int) -> Tensor:
    """``(turns, *points.shape)``: ``(..., N, 3)`` points turned about the up axis by
    ``360° · j / turns`` for ``j = 0 .. turns - 1`` (the first copy is the points as
    they are)."""
    angles = torch.arange(turns, dtype=points.dtype, device=points.device) * (2 * torch.pi / turns)
    rot = yaw_matrix(angles).view(turns, *([1] * (points.ndim - 2)), 3, 3)
    return points.unsqueeze(0) @ rot


def square_distance(a: Tensor, b: Tensor) -> Tensor:
    """Squared Euclidean distances between two batched point sets.

    Args:
        a: ``(B, N, C)``.
        b: ``(B, M, C)``.

    Returns:
        ``(B, N, M)``, clamped at 0 against rounding: ``‖a‖² + ‖b‖² − 2 a·b`` as one
        batched product of augmented coordinates ``[a, ‖a‖², 1]·[−2b, 1, ‖b‖²]``, so the
        matrix is written once (no passes to add the norms).
    """
    ones_a, ones_b = a.new_ones(*a.shape[:-1], 1), b.new_ones(*b.shape[:-1], 1)
    left = torch.cat([a, (a * a).sum(-1, keepdim=True), ones_a], dim=-1)
    right = torch.cat([-2.0 * b, ones_b, (b * b).sum(-1, keepdim=True)], dim=-1)
    return torch.bmm(left, right.transpose(1, 2)).clamp_min_(0.0)


def farthest_point_sample(
    points: Tensor, k: int, start: Tensor | None = None, planar: bool = True
) -> Tensor:
    """Indices of ``k`` points chosen by iterative farthest-point sampling.

    Indices only: no gradient flows through the choice, and none is recorded.

    Args:
        points: ``(B, N, C)``.
        k: number of points to keep, ``1 <= k <= N``.
        start: ``(B,)`` long indices of the first point of each set. By default the
            point farthest from the set's centroid, so the result is deterministic and
            does not depend on the order in which points are stored.
        planar: hold the coordinates as ``C`` planes of ``(B, N)`` and update the
            distances plane by plane (contiguous, vectorised passes: 1.4-3x faster for
            batches of 8 or more on a 2-core CPU); ``False`` is the reference loop over
            ``(B, N, C)``. Both compute every distance with the same operations in the
            same order, so the indices are identical.

    Returns:
        ``(B, k)`` long indices; the first is ``start``. Inside :func:`first_point_starts`
        the sets it marks start at their first point instead of the default.
    """
    b, n, c = points.shape
    if not 1 <= k <= n:
        raise ValueError(f"farthest_point_sample: k={k} must be between 1 and N={n}")
    points = points.detach()
    if start is None:
        centroid = points.mean(dim=1, keepdim=True)
        start = ((points - centroid) ** 2).sum(-1).argmax(dim=1)
        first = _FIRST_STARTS.get()
        if first is not None and len(first) == b:  # see first_point_starts
            start = torch.where(first.to(start.device), 0, start)
    idx = torch.empty(k, b, dtype=torch.long, device=points.device)
    nearest = torch.full((b, n), float("inf"), dtype=points.dtype, device=points.device)
    current = start
    if planar:
        planes = points.permute(2, 0, 1).contiguous()  # (C, B, N)
        flat = planes.view(c, b * n)
        offsets = torch.arange(b, device=points.device) * n
        d, part = torch.empty_like(nearest), torch.empty_like(nearest)
    else:
        rows = torch.arange(b, device=points.device)
    for i in range(k):
        idx[i] = current
        if planar:  # d = (x - cx)^2 + (y - cy)^2 + ..., summed in coordinate order
            centre = flat.index_select(1, current + offsets)  # (C, B)
            torch.sub(planes[0], centre[0, :, None], out=d)
            d.mul_(d)
            for j in range(1, c):
                torch.sub(planes[j], centre[j, :, None], out=part)
                d.add_(part.mul_(part))
        else:
            d = ((points - points[rows, current].unsqueeze(1)) ** 2).sum(-1)
        torch.minimum(nearest, d, out=nearest)
        current = nearest.argmax(dim=1)
    return idx.t().contiguous()


@contextlib.contextmanager
def first_point_starts(rows: Tensor | None) -> Iterator[None]:
    """Inside the block, :func:`farthest_point_sample` starts the sets that ``rows`` marks
    (a ``(B,)`` boolean mask, for every call on ``B`` sets) at their first point instead
    of the point farthest from the centroid; None changes nothing.

    A model's sampling made random from outside the model (:mod:`flowam.robustness`'s
    ``sampling``): with the points of a set in random order, its first point is a random
    start, as the reference PointNet++ draws at every pass.
    """
    token = _FIRST_STARTS.set(rows)
    try:
        yield
    finally:
        _FIRST_STARTS.reset(token)


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
        ``(B, S, nsample)`` long indices into N (no gradient flows through them).
    """
    n = points.shape[1]
    d = square_distance(centers.detach(), points.detach())
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
        ``(B, N, k)`` long indices, nearest first (no gradient flows through them).
    """
    x = features.detach().transpose(1, 2)
    return square_distance(x, x).topk(k, dim=-1, largest=False).indices


class _SoftBackwardMax(torch.autograd.Function):
    """``max`` forward, a softmax-weighted backward; see :func:`max_pool`."""

    @staticmethod
    def forward(ctx, x: Tensor, dim: int, temperature: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.dim, ctx.temperature = dim, temperature
        return x.amax(dim=dim)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        (x,) = ctx.saved_tensors
        dim = ctx.dim
        spread = x.std(dim=dim, keepdim=True).clamp_min(1e-6) * ctx.temperature
        weights = torch.softmax(x / spread, dim=dim)
        return weights * grad.unsqueeze(dim), None, None


def max_pool(x: Tensor, dim: int) -> Tensor:
    """``x.max(dim).values``: the max pooling of every architecture here.

    Inside :func:`soft_max_backward` the forward value is the same and the backward pass
    is soft: the gradient of each pooled value goes to every element it pooled, weighted
    by ``softmax(x / (t · std))`` along ``dim`` (``std`` the elements' spread, so the
    temperature ``t`` is unitless; ``t → 0`` is the hard max), instead of to the argmax
    alone. The weights sum to one, as the hard max's single weight does.
    """
    temperature = _SOFT_MAX.get()
    if temperature is None or not (torch.is_grad_enabled() and x.requires_grad):
        return x.max(dim=dim).values
    return _SoftBackwardMax.apply(x, dim, temperature)


@contextlib.contextmanager
def soft_max_backward(temperature: float) -> Iterator[None]:
    """Inside the block, :func:`max_pool` passes its gradient softly (see there).

    Lucid's redirected ReLU for max pooling: the forward pass is the model's, but the
    points that are not a channel's maximum receive gradient too, so the whole cloud
    moves instead of a few critical points. The fused paths of :mod:`flowam.speed`
    (``fuse_max_pool``) compute their own maximum and ignore this; the engine runs an
    unfused copy of the model while it holds.
    """
    if not temperature > 0:
        raise ValueError(f"soft_max_backward: temperature={temperature} must be above 0")
    token = _SOFT_MAX.set(temperature)
    try:
        yield
    finally:
        _SOFT_MAX.reset(token)


def max_last(y: Tensor, sub: int = 32) -> tuple[Tensor, Tensor]:
    """``y.max(dim=-1)``: values and indices, the first where maxima tie.

    ``max`` with indices does not vectorise on the CPU (ten times slower than ``amax``
    here); this takes ``amax`` over runs of ``sub`` elements, the index of the best run,
    and ``argmax`` within it: the same values and indices (a NaN is a maximum, as in
    ``max``), in a third of the time for PointNet's ``(B, 1024, 256)`` blocks. A last
    dimension that ``sub`` does not divide takes ``max`` itself.
    """
    n = y.shape[-1]
    if n % sub or n == sub:
        return y.max(dim=-1)
    runs = y.unflatten(-1, (n // sub, sub))
    best, run = runs.amax(dim=-1).max(dim=-1)
    inner = runs.gather(-2, run[..., None, None].expand(*run.shape, 1, sub)).squeeze(-2)
    return best, run * sub + inner.argmax(dim=-1)


class _ConvMax(torch.autograd.Function):
    """``max`` over points of a pointwise linear map, in blocks of points; see
    :func:`conv_max`."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor, block: int) -> Tensor:
        w = weight.expand(x.shape[0], -1, -1)
        best = idx = None
        for lo in range(0, x.shape[2], block):  # the bias is added after the maximum
            value, where = max_last(torch.bmm(w, x[:, :, lo : lo + block]))
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


class _GatherMax(torch.autograd.Function):
    """``max`` over gathered rows, one neighbour at a time; see :func:`gather_max`."""

    @staticmethod
    def forward(ctx, features: Tensor, idx: Tensor) -> Tensor:
        b, n, c = features.shape
        k = idx.shape[2]
        flat = features.reshape(b * n, c)
        offsets = torch.arange(b, device=idx.device).view(b, 1, 1) * n
        cols = (idx + offsets).reshape(-1, k).t().contiguous()  # (k, B*M)
        best = flat.new_empty(cols.shape[1], c)
        winner = torch.zeros(best.shape, dtype=torch.int16, device=best.device)
        # on the CPU, blocks of about 512K floats of output: a block's rows gather from its
        # own clouds only, whose features then stay in cache; elsewhere all rows at once
        rows = max(1, 2**19 // c) if features.device.type == "cpu" else cols.shape[1]
        for lo in range(0, cols.shape[1], rows):
            part, won = best[lo : lo + rows], winner[lo : lo + rows]
            torch.index_select(flat, 0, cols[0, lo : lo + rows], out=part)
            for j in range(1, k):  # strictly greater keeps the first maximum, as max() does
                value = flat.index_select(0, cols[j, lo : lo + rows])
                # won += (value > part) * (j - won), in int16 arithmetic: masked_fill_
                # and where() are unvectorised on CPU (ten times slower here)
                won.add_(torch.gt(value, part).to(torch.int16).mul_(j - won))
                torch.maximum(part, value, out=part)  # NaN propagates, as in max()
        ctx.save_for_backward(cols, winner)
        ctx.shape = (b, n, c)
        return best.view(b, idx.shape[1], c)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, None]:
        cols, winner = ctx.saved_tensors
        b, n, c = ctx.shape
        source = cols.t().gather(1, winner.long())  # (B*M, C): the row each maximum came from
        flat = grad.new_zeros(b * n, c).scatter_add_(0, source, grad.reshape(-1, c))
        return flat.view(b, n, c), None


def gather_max(features: Tensor, idx: Tensor) -> Tensor:
    """The maximum, channel by channel, over each point's neighbours' features.

    Equal to ``gather_points(features, idx).max(dim=2).values`` without the
    ``(B, M, k, C)`` gathered tensor: a running maximum over the ``k`` neighbours (each a
    contiguous selection of rows, in blocks that stay in cache), and a backward pass that
    sends each output's gradient to the one row its maximum came from. Where maxima tie,
    the first neighbour wins (as ``max`` gives the gradient to one); NaN propagates.
    This is DGCNN's EdgeConv after its first layer is split (see
    :mod:`flowam.models.dgcnn`).

    Args:
        features: ``(B, N, C)`` per-point features, channels last.
        idx: ``(B, M, k)`` long indices into N, ``k`` at most 32,767.

    Returns:
        ``(B, M, C)``.
    """
    if not 1 <= idx.shape[2] < 2**15:
        raise ValueError(f"gather_max: k={idx.shape[2]} must be between 1 and 32,767")
    return _GatherMax.apply(features, idx)


def _grouped_layers(points, groups, flat_idx, lo, hi, params) -> list[Tensor]:
    """The pre-activations ``[h_0, ..., h_m]`` ``(g, K, C_i)`` of groups ``lo:hi``
    through the ``m`` layers in ``params`` (see :func:`grouped_mlp_max`); the bias of
    the MLP's last layer is not among them (it is added after the maximum)."""
    rows = flat_idx[lo:hi]
    g, k = rows.shape
    layers = [points.index_select(0, rows.reshape(-1)).view(g, k, -1) - groups[lo:hi, None]]
    for weight, bias in zip(params[0::2], params[1::2], strict=True):
        a = layers[-1].relu().reshape(g * k, -1)
        h = a @ weight.T if bias is None else torch.addmm(bias, a, weight.T)
        layers.append(h.view(g, k, -1))
    return layers


class _GroupedMlpMax(torch.autograd.Function):
    """A point MLP over gathered groups, max-pooled, block by block; see
    :func:`grouped_mlp_max`."""

    @staticmethod
    def forward(ctx, per_point, per_group, idx, block, *params):
        b, s, k = idx.shape
        offsets = torch.arange(b, device=idx.device).view(b, 1, 1) * per_point.shape[1]
        flat_idx = (idx + offsets).reshape(b * s, k)
        points = per_point.reshape(-1, per_point.shape[-1])
        groups = per_group.reshape(b * s, -1)
        width = params[-2].shape[0]
        out = points.new_empty(b * s, width)
        where = torch.empty(b * s, width, dtype=torch.long, device=points.device)
        layers = (*params[:-1], None)  # the last bias after the maximum
        for lo in range(0, b * s, block):
            top = _grouped_layers(points, groups, flat_idx, lo, lo + block, layers)[-1]
            torch.max(top, dim=1, out=(out[lo : lo + block], where[lo : lo + block]))
        ctx.save_for_backward(points, groups, flat_idx, where, *params)
        ctx.block, ctx.shape = block, (b, s)
        return (out + params[-1]).view(b, s, -1)

    @staticmethod
    def backward(ctx, grad):
        points, groups, flat_idx, where, *params = ctx.saved_tensors
        grad = grad.reshape(-1, grad.shape[-1])
        grad_points, grad_groups = torch.zeros_like(points), torch.empty_like(groups)
        wanted = ctx.needs_input_grad[4:]
        grads = [torch.zeros_like(p) if w else None for p, w in zip(params, wanted, strict=True)]
        depth = len(params) // 2
        last = params[-2]  # (C_L, C_{L-1})
        for lo in range(0, len(groups), ctx.block):
            hi = lo + ctx.block
            # the layers below the last, recomputed in cache (not stored by the forward)
            layers = _grouped_layers(points, groups, flat_idx, lo, hi, params[:-2])
            below, up = layers[-1], grad[lo:hi]  # (g, K, C_{L-1}), (g, C_L)
            # the last layer's gradient is sparse: each output's goes to the row its maximum
            # came from, so its rows of W_L are added there (C_L rows per group, not a dense
            # product over all K rows: 2-5x faster for PointNet++'s levels)
            g, k = below.shape[:2]
            at = (where[lo:hi] + torch.arange(g, device=where.device)[:, None] * k).view(-1)
            if grads[-2] is not None:
                chosen = (
                    below.relu().reshape(g * k, -1).index_select(0, at).view(g, -1, last.shape[1])
                )
                grads[-2] += torch.einsum("gc,gci->ci", up, chosen)
            rows = (up[:, :, None] * last[None]).reshape(-1, last.shape[1])
            step = below.new_zeros(g * k, last.shape[1]).index_add_(0, at, rows)
            step = step.view(below.shape).mul_(below > 0)
            for i in range(depth - 1, 0, -1):  # layer i: h_i = relu(h_{i-1}) W_iᵀ + b_i
                weight, below = params[2 * i - 2], layers[i - 1]
                flat = step.reshape(-1, step.shape[-1])
                if grads[2 * i - 2] is not None:
                    grads[2 * i - 2] += flat.T @ below.relu().reshape(len(flat), -1)
                if grads[2 * i - 1] is not None:
                    grads[2 * i - 1] += flat.sum(0)
                step = (flat @ weight).view(below.shape).mul_(below > 0)
            rows = flat_idx[lo:hi].reshape(-1)
            grad_points.index_add_(0, rows, step.reshape(len(rows), -1))
            grad_groups[lo:hi] = -step.sum(1)
        if grads[-1] is not None:
            grads[-1] = grad.sum(0)
        b, s = ctx.shape
        grad_points = grad_points.view(b, -1, points.shape[-1])
        return grad_points, grad_groups.view(b, s, -1), None, None, *grads


def grouped_mlp_max(
    per_point: Tensor,
    per_group: Tensor,
    idx: Tensor,
    layers: list[tuple[Tensor, Tensor]],
    block: int | None = None,
) -> Tensor:
    """A point MLP over each group of gathered points, max-pooled over the group, without
    its full-size activations: PointNet++'s set abstraction after its first layer.

    With ``h_0 = per_point[idx] − per_group`` (the first layer's pre-activation, split as
    in :func:`flowam.models.pointnet2._first_layer_terms`) and ``layers`` ``[(W_1, b_1),
    ..., (W_L, b_L)]``, it returns ``max_k (relu(h_{L-1}) W_Lᵀ) + b_L`` where ``h_i =
    relu(h_{i-1}) W_iᵀ + b_i``: the same numbers as the plain MLP followed by
    ``max`` (ReLU after the last layer, applied by the caller, commutes with the max).
    ``block`` groups are computed at a time, so every activation stays in cache; the
    backward pass recomputes a block's activations instead of storing them (on a
    memory-bound CPU, recomputing in cache is faster than reading them back) and sends
    each output's gradient to the point its maximum came from (the first, where maxima
    tie, as ``max``). Differentiable in every tensor but ``idx``.

    Args:
        per_point: ``(B, N, C_0)``.
        per_group: ``(B, S, C_0)``.
        idx: ``(B, S, K)`` long indices into N.
        layers: weights ``(C_i, C_{i-1})`` and biases ``(C_i,)``, at least one layer.
        block: groups per block; default on the CPU ``2048 // K``, about 2,048 rows of
            the MLP at once (measured fastest on a 2-core CPU: 64 groups of 32 for
            PointNet++'s first level, 32 of 64 for its second), elsewhere every group at
            once. Any value gives the same result.

    Returns:
        ``(B, S, C_L)``.
    """
    if not layers:
        raise ValueError("grouped_mlp_max: needs at least one layer after the first")
    if block is None:
        cpu = per_point.device.type == "cpu"
        block = max(1, 2048 // idx.shape[-1]) if cpu else idx.shape[0] * idx.shape[1]
    if block < 1:
        raise ValueError(f"block={block}: must be at least 1")
    params = [t for layer in layers for t in layer]
    return _GroupedMlpMax.apply(per_point, per_group, idx, block, *params)
