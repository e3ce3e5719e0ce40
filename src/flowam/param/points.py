"""The coordinates as the parameterization (``points``, the default) and its starts.

The optimiser moves the points themselves. The points a max-pooling network's gradient
reaches are the few "critical" ones, so plain AM drags a handful of points around and
leaves the rest. Its starts, one cloud per class (``start=``), are shared by the smoothed
and the latent parameterizations (:mod:`flowam.param.smooth`, :mod:`flowam.param.latent`):

- ``mean``: the class-mean cloud ("the average of the points in the test set by
  category", Sec. III-C). Points of different objects have no natural correspondence (in
  ModelNet40 and the procedural data they come in random order, so an index-by-index
  average collapses to a blob at the centroid). Correspondence is therefore found by
  optimal assignment: starting from the class medoid as template, every object's points
  are matched one-to-one to the template's by minimum total squared distance
  (``scipy.optimize.linear_sum_assignment``, the correspondence of the Earth Mover's
  Distance), the matched points are averaged into a new template, and this repeats
  ``iterations`` times: an approximate Wasserstein barycenter of the class.
- ``medoid``: the real object with the smallest mean Chamfer distance to the others.
- ``sphere``: points spread evenly on a sphere (Fibonacci lattice) of radius 0.5.
- ``gaussian``: isotropic Gaussian noise of standard deviation 0.3, seeded.
- ``blobs``: eight small spheres (radius 0.15, the points shared out evenly) at the
  corners of a cube of half-side 0.3: class-agnostic like ``sphere``, but made of parts
  that can move apart (legs, wings, a top), since a k-nearest-neighbour graph of the
  start links points within a blob only.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from flowam import cache
from flowam.data import PointCloudDataset
from flowam.errors import FlowamError
from flowam.param.chart import ParamConfig, Parameterization
from flowam.seeding import rng

STARTS = ("mean", "medoid", "sphere", "gaussian", "blobs")
"""The points' starts."""
SPHERE_RADIUS = 0.5
BLOB_RADIUS, BLOB_CORNER = 0.15, 0.3
GAUSSIAN_STD = 0.3


@dataclass(frozen=True)
class PointsConfig(ParamConfig):
    """``[param] kind = "points"``: the coordinates, from ``start`` (one of :data:`STARTS`),
    noised by ``start_noise`` (supplement S1-D: that times the cloud's coordinate standard
    deviation, or ``"low"``/``"high"``)."""

    kind = "points"
    start: str = "gaussian"  # type: ignore[assignment]  (a field here, fixed in drawn kinds)
    start_noise: float = 0.0

    def __post_init__(self) -> None:
        if self.start not in STARTS:
            raise FlowamError(
                f"param.start={self.start!r}: a {self.kind} parameterization starts from one "
                f"of {', '.join(STARTS)}"
            )
        if self.start_noise < 0:
            raise FlowamError(f"param.start_noise={self.start_noise} must not be negative")

    def build(self, bound: float, generator: Any = None) -> Parameterization | None:
        return None


def medoid(clouds: np.ndarray) -> int:
    """Index of the ``(K, N, 3)`` cloud with the smallest mean Chamfer distance to the rest."""
    x = torch.as_tensor(clouds, dtype=torch.float32)
    k = len(x)
    total = torch.zeros(k)
    for i in range(k):
        d = torch.cdist(x[i : i + 1].expand(k, -1, -1), x)
        total[i] = (d.min(2).values.mean(1) + d.min(1).values.mean(1)).sum()
    return int(total.argmin())


def barycenter(clouds: np.ndarray, iterations: int = 2) -> np.ndarray:
    """Mean of ``(K, N, 3)`` clouds with points matched by optimal assignment (see above)."""
    template = clouds[medoid(clouds)].astype(np.float64)
    for _ in range(iterations):
        matched = []
        for cloud in clouds:
            _, cols = linear_sum_assignment(cdist(template, cloud, "sqeuclidean"))
            matched.append(cloud[cols])
        template = np.mean(matched, axis=0)
    return template.astype(np.float32)


def fibonacci_sphere(n: int, radius: float = SPHERE_RADIUS) -> np.ndarray:
    """``(n, 3)`` points spread evenly on a sphere."""
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5**0.5) * i
    xyz = np.stack([np.cos(theta) * np.sin(phi), np.cos(phi), np.sin(theta) * np.sin(phi)], 1)
    return (radius * xyz).astype(np.float32)


def blobs(n: int, radius: float = BLOB_RADIUS, corner: float = BLOB_CORNER) -> np.ndarray:
    """``(n, 3)`` points on eight spheres of ``radius`` centred at ``(±corner, ±corner,
    ±corner)``; the first ``n mod 8`` spheres take one point more."""
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * corner
    sizes = [n // 8 + (i < n % 8) for i in range(8)]
    parts = [fibonacci_sphere(m, radius) + c for m, c in zip(sizes, corners, strict=True) if m]
    return np.concatenate(parts).astype(np.float32)


def start_clouds(
    kind: str,
    num_points: int,
    data: PointCloudDataset,
    targets: list[int],
    seeds: list[int] | None = None,
    max_objects: int = 24,
) -> np.ndarray:
    """The initial cloud of each target class, ``(T, num_points, 3)`` (see the module docstring).

    Args:
        kind: the start, one of :data:`STARTS`.
        num_points: points per cloud (must equal the data's for ``mean``/``medoid``).
        data: the real objects of the classes.
        targets: class indices, one cloud each (repeats allowed).
        seeds: one seed per cloud for ``gaussian`` noise (default: the class index), so
            restarts of a class start from different noise.
        max_objects: objects per class entering ``mean``/``medoid`` (the first ones).

    ``mean`` and ``medoid`` clouds are cached per class.
    """
    if kind not in STARTS:
        raise FlowamError(f"unknown points start {kind!r}; choose one of {', '.join(STARTS)}")
    shapes = {"sphere": fibonacci_sphere, "blobs": blobs}
    if kind in shapes:
        return np.repeat(shapes[kind](num_points)[None], len(targets), axis=0)
    if kind == "gaussian":
        seeds = list(seeds) if seeds is not None else [int(k) for k in targets]
        noise = [rng(s, "start").normal(0, GAUSSIAN_STD, (num_points, 3)) for s in seeds]
        return np.stack(noise).astype(np.float32)
    if data.num_points != num_points:
        raise FlowamError(
            f"start {kind!r}: the data have {data.num_points} points per cloud, not {num_points}"
        )
    wanted = sorted(set(targets))
    # the assignments run in scipy's C++ code, which releases the GIL: threads overlap them
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        found = pool.map(lambda k: _class_start(kind, data, k, max_objects), wanted)
        clouds = dict(zip(wanted, found, strict=True))
    return np.stack([clouds[k] for k in targets])


def _class_start(kind: str, data: PointCloudDataset, k: int, max_objects: int) -> np.ndarray:
    """The ``mean`` or ``medoid`` cloud of class ``k``, through the cache."""
    key = cache.key(
        {
            "data": data.description,
            "n": len(data),
            "init": kind,
            "class": k,
            "max_objects": max_objects,
            "what": "init",
        }
    )
    path = cache.cache_dir() / "stats" / f"init-{key}.npz"

    def build() -> dict[str, np.ndarray]:
        clouds = data.points[data.labels == k][:max_objects]
        if len(clouds) == 0:
            raise FlowamError(f"class {data.classes[k]!r} has no objects in the {data.split} split")
        return {"cloud": barycenter(clouds) if kind == "mean" else clouds[medoid(clouds)]}

    return cache.cached_arrays(path, ["cloud"], build)["cloud"]
