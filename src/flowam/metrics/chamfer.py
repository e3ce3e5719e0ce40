"""Chamfer distances: pair by pair, against real objects, and all against all.

Eq. 7 of the paper is the single-directional form: the mean, over the points of the
explanation, of the distance to the nearest point of a real object. The symmetric form
adds the way back (real to explanation), which also asks whether the explanation covers
the real surface, so clouds collapsed into a few clumps score badly.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from flowam.data import PointCloudDataset
from flowam.ops import turned


def _as_batch(x: np.ndarray | Tensor) -> Tensor:
    return torch.as_tensor(x, dtype=torch.float32)


def chamfer_distance(
    x: np.ndarray | Tensor,
    y: np.ndarray | Tensor,
    single_directional: bool = True,
    squared: bool = False,
    block: tuple[int, int] | None = None,
) -> Tensor:
    """Chamfer distance between clouds, pair by pair.

    Args:
        x: ``(B, N, 3)``, e.g. explanations.
        y: ``(B, M, 3)``, e.g. real objects.
        single_directional: only ``x → y`` (Eq. 7: the mean, over the points of ``x``, of
            the distance to the nearest point of ``y``); False adds ``y → x``.
        squared: use squared distances (a common variant) instead of Eq. 7's distances.
        block: ``(pairs, points)`` of the distance matrix computed at once; default on
            the CPU 128 points of as many pairs as keep a block near 2 MB (in the cache:
            8 pairs for M = 512; the 1-NN gallery of 8 × 740 clouds of 512 points 1.5×
            faster than blocks of 2 × 256), everything at once elsewhere. The result does
            not depend on it.

    Returns:
        ``(B,)`` float tensor.
    """
    x, y = _as_batch(x), _as_batch(y)
    if x.ndim != 3 or y.ndim != 3 or x.shape[0] != y.shape[0] or x.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"chamfer_distance: expected (B, N, D) and (B, M, D), got "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )
    if block is None:  # CPU: about 512K floats (2 MB) per block, in cache
        cpu = x.device.type == "cpu"
        block = (max(1, 2**19 // (128 * y.shape[1])), 128) if cpu else (len(x), x.shape[1])
    pairs, points = block
    # squared distances as ‖x‖² + ‖y‖² - 2 x·y, all three terms from one batched matmul of
    # augmented coordinates [x, ‖x‖², 1]·[-2y, 1, ‖y‖²], so that a block is written once and
    # only read by its two minima (no pass to add the norms); the minima are taken before
    # the square root, so only B × (N + M) roots are computed instead of B × N × M
    ones_x, ones_y = x.new_ones(*x.shape[:2], 1), y.new_ones(*y.shape[:2], 1)
    xa = torch.cat([x, (x**2).sum(-1, keepdim=True), ones_x], dim=-1)
    ya = torch.cat([-2 * y, ones_y, (y**2).sum(-1, keepdim=True)], dim=-1).transpose(1, 2)

    def mean_distance(minima: Tensor) -> Tensor:
        m = minima.clamp_min(0)  # out of place: differentiable (generator training)
        return (m if squared else m.sqrt()).mean(dim=1)

    out = []
    for p in range(0, len(x), pairs):
        rows, cols = [], None
        for i in range(0, x.shape[1], points):
            d2 = torch.bmm(xa[p : p + pairs, i : i + points], ya[p : p + pairs])
            rows.append(d2.amin(dim=2))
            if not single_directional:
                m = d2.amin(dim=1)
                cols = m if cols is None else torch.minimum(cols, m)
        d = mean_distance(torch.cat(rows, dim=1))
        out.append(d if cols is None else d + mean_distance(cols))
    return torch.cat(out)


def pairwise_chamfer(
    x: np.ndarray | Tensor,
    y: np.ndarray | Tensor,
    single_directional: bool = False,
    chunk: int | None = None,
    turns: int = 1,
) -> Tensor:
    """Chamfer distance of every cloud of ``x`` to every cloud of ``y``.

    Args:
        x: ``(A, N, 3)``.
        y: ``(R, M, 3)``.
        single_directional: as in :func:`chamfer_distance` (default: symmetric).
        chunk: clouds of ``y`` compared at once; default all of them on the CPU (where
            :func:`chamfer_distance` works in cache-sized blocks anyway), 256 elsewhere
            (memory ``chunk × N × M`` floats).
        turns: the best of this many turns of each cloud of ``x`` about the up axis,
            ``360° / turns`` apart (:func:`turned_chamfer`); 1: the clouds as they are.

    Returns:
        ``(A, R)`` float tensor on ``x``'s device.
    """
    if turns > 1:
        return turned_chamfer(x, y, turns, single_directional, chunk)[0]
    x = _as_batch(x)
    y = _as_batch(y).to(x.device)
    chunk = chunk or (len(y) if x.device.type == "cpu" else 256)
    out = torch.empty(len(x), len(y), device=x.device)
    for a in range(len(x)):
        for r in range(0, len(y), chunk):
            refs = y[r : r + chunk]
            out[a, r : r + len(refs)] = chamfer_distance(
                x[a].expand(len(refs), -1, -1), refs, single_directional
            )
    return out


def turned_chamfer(
    x: np.ndarray | Tensor,
    y: np.ndarray | Tensor,
    turns: int,
    single_directional: bool = False,
    chunk: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Chamfer distances invariant to a turn about the up axis: for every pair, the
    least distance over ``turns`` turns of the cloud of ``x`` by ``360° · j / turns``
    (:func:`flowam.ops.turned`), and the ``j`` that gives it.

    For a model trained with turns about the up axis, which cannot prefer a facing: its
    explanation of a chair may face any way. A turn by a multiple of ``360° / turns``
    is found exactly; others to within half that.

    Returns:
        ``(A, R)`` distances and ``(A, R)`` int64 turn indices, on ``x``'s device.
    """
    if turns < 1:
        raise ValueError(f"turns={turns} must be at least 1")
    x = _as_batch(x)
    stack = turned(x, turns).reshape(turns * len(x), *x.shape[1:])
    d = pairwise_chamfer(stack, y, single_directional, chunk).view(turns, len(x), -1)
    best, turn = d.min(dim=0)
    return best, turn


def reference_indices(
    labels: np.ndarray, classes: np.ndarray | list[int], k: int, seed: int
) -> dict[int, np.ndarray]:
    """``k`` objects per class drawn without replacement from ``[seed, class]``.

    Every method is measured against the same objects: the draw depends only on the
    seed and the class (all of a class's objects when it has fewer than ``k``).
    """
    out = {}
    for c in classes:
        pool = np.flatnonzero(labels == c)
        rng = np.random.default_rng([seed, int(c)])
        out[int(c)] = rng.choice(pool, size=min(k, len(pool)), replace=False)
    return out


def chamfer_to_real(
    points: np.ndarray,
    targets: np.ndarray,
    real: PointCloudDataset,
    k: int = 5,
    seed: int = 0,
    single_directional: bool = True,
    turns: int = 1,
) -> np.ndarray:
    """Eq. 7 from each explanation to ``k`` real objects of its class, averaged.

    The objects are :func:`reference_indices`' draw. Eq. 7 only asks whether the
    explanation's points lie near the real surface, so points collapsed into a few clumps
    on it score well; ``single_directional=False`` adds the real-to-explanation term.
    ``turns``: each distance the best of that many turns about the up axis
    (:func:`turned_chamfer`).

    Returns:
        ``(B,)`` float64 array.
    """
    targets = np.asarray(targets)
    chosen = reference_indices(real.labels, np.unique(targets), k, seed)
    out = np.empty(len(points))
    for c, idx in chosen.items():
        rows = np.flatnonzero(targets == c)
        d = pairwise_chamfer(
            np.asarray(points)[rows], real.points[idx], single_directional, turns=turns
        )
        out[rows] = d.mean(dim=1).double().numpy()
    return out
