"""Choosing ``num_points`` of an object's points, and normalising into the unit sphere.

Sampling methods (all deterministic for a seed):

- ``first``: the first ``num_points`` rows, as ModelNet40 loaders do by default;
- ``random``: a seeded random subset without replacement;
- ``fps``: farthest-point sampling starting at the point farthest from the centroid.

An object with fewer points than asked for is an error unless ``replace=True``, in which
case the missing points are drawn with replacement from the seeded generator.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from flowam.errors import DataError
from flowam.ops import farthest_point_sample

SamplingMethod = Literal["first", "random", "fps"]
SAMPLING_METHODS: tuple[str, ...] = ("first", "random", "fps")


def normalize(points: np.ndarray) -> np.ndarray:
    """Centre on the centroid and scale so the farthest point lies on the unit sphere.

    The same as ``pc_normalize`` in the common ModelNet40 loaders.

    Args:
        points: ``(N, 3)``.

    Returns:
        ``(N, 3)`` float32 array (computed in float64, so that coordinates near
        float32's limit neither overflow nor lose the cloud's shape).
    """
    points = np.asarray(points, dtype=np.float64)
    centred = points - points.mean(axis=0)
    radius = np.sqrt((centred**2).sum(axis=1)).max()
    return (centred / max(radius, 1e-12)).astype(np.float32)


def choose_indices(
    points: np.ndarray,
    num_points: int,
    method: str = "first",
    seed: int | list[int] = 0,
    replace: bool = False,
    source: str = "points",
) -> np.ndarray:
    """Indices of ``num_points`` rows of ``points`` chosen by ``method``.

    Args:
        points: ``(N, 3)`` (or more columns; the first three are coordinates).
        num_points: how many rows to keep.
        method: ``first``, ``random`` or ``fps``.
        seed: seed of the random generator (``random``, and padding when ``replace``).
        replace: allow fewer than ``num_points`` rows by repeating random rows.
        source: how to name the object in error messages (usually its file).

    Returns:
        ``(num_points,)`` int64 indices.
    """
    if method not in SAMPLING_METHODS:
        raise DataError(
            f"unknown sampling method {method!r}; choose one of {', '.join(SAMPLING_METHODS)}"
        )
    n = len(points)
    if n == 0:
        raise DataError(f"{source}: no points")
    rng = np.random.default_rng(seed)
    if n < num_points:
        if not replace:
            raise DataError(
                f"{source}: has {n} points, fewer than the {num_points} requested "
                "(ask for fewer points, or allow sampling with replacement)"
            )
        extra = rng.integers(0, n, size=num_points - n)
        return np.concatenate([rng.permutation(n), extra])
    if method == "first":
        return np.arange(num_points)
    if method == "random":
        return rng.choice(n, size=num_points, replace=False)
    xyz = torch.from_numpy(np.ascontiguousarray(points[:, :3], dtype=np.float32))[None]
    return farthest_point_sample(xyz, num_points)[0].numpy()


def check_finite(array: np.ndarray, source: str) -> None:
    """Raise a DataError naming ``source`` if ``array`` holds NaN or infinite values."""
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise DataError(f"{source}: NaN or infinite value at row {bad[0] + 1}")
