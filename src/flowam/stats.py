"""Class statistics of real objects: mean activations (Eq. 3's ω_c^l) and initial clouds.

Both are computed from a dataset split (the paper uses the test set) and cached on disk,
keyed by a hash of the model's weights, the dataset's description and the request, so a
retrained model, other data or other layers never reuse a stale entry; an unreadable
entry is recomputed.

Starting clouds, one per class (``start=``):

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
- ``assembly``: the class-agnostic start of :mod:`flowam.assembly` (a cube with small
  cubes hung under its corners and on its faces), one draw of its surface; the start of
  ``assembly = true`` methods, which move the parts rather than these points.
- ``mesh``: the class-agnostic start of :mod:`flowam.mesh` (an icosphere), one draw of
  its surface in the unit sphere; the start of ``mesh = true`` methods.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from torch import Tensor, nn

from flowam import cache, stopping
from flowam.assembly import start_cloud as assembly_start
from flowam.data import PointCloudDataset
from flowam.errors import FlowamError
from flowam.hooks import LayerRecorder
from flowam.mesh import start_cloud as mesh_start
from flowam.seeding import rng
from flowam.speed import DEFAULT, Speed, prepare

START_KINDS = ("mean", "medoid", "sphere", "gaussian", "blobs", "assembly", "mesh")
QUANTILES = "@quantiles"
"""A layer name followed by this and a count reads that layer's :func:`quantiles`."""
SPHERE_RADIUS = 0.5
BLOB_RADIUS, BLOB_CORNER = 0.15, 0.3
GAUSSIAN_STD = 0.3


def model_fingerprint(model: nn.Module) -> str:
    """A short hash of a model's architecture and weights (parameters and buffers)."""
    h = hashlib.sha256(type(model).__name__.encode())
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def quantile_key(layer: str, count: int) -> str:
    """The name under which :func:`record` and :class:`ClassStatistics` hold a layer's
    :func:`quantiles` (``"feat.bn3@quantiles32"``)."""
    return f"{layer}{QUANTILES}{count}"


def _reading(name: str) -> tuple[str, int | None]:
    """The layer a recorded name reads, and its quantile count (None: the activation)."""
    layer, _, count = name.partition(QUANTILES)
    return layer, int(count) if count else None


def quantiles(activation: Tensor, count: int) -> Tensor:
    """``(B, C, count)``: each channel of a ``(B, C, ...)`` activation sorted over all its
    other positions (points, neighbours, balls) and read at ``count`` evenly spaced
    quantiles (the order statistics nearest ``(i + 0.5) / count``)."""
    if activation.dim() < 3:
        raise FlowamError(
            f"quantile alignment needs a per-point layer (B, C, points, ...); this one is "
            f"{tuple(activation.shape)}"
        )
    flat = activation.flatten(2)
    m = flat.shape[-1]
    at = ((torch.arange(count, device=flat.device) + 0.5) * m / count).long().clamp(max=m - 1)
    return flat.sort(dim=-1).values.index_select(-1, at)


@torch.no_grad()
def record(
    model: nn.Module,
    points: np.ndarray | Tensor,
    layers: list[str],
    batch_size: int = 8,
    speed: Speed = DEFAULT,
) -> dict[str, Tensor]:
    """Activations of ``layers`` for every cloud, flattened per cloud.

    Args:
        model: the classifier (put in eval mode here).
        points: ``(M, N, 3)`` clouds.
        layers: layer names (see :mod:`flowam.hooks`), ``"logits"`` for the output, or
            :func:`quantile_key` names for a layer's quantiles.
        batch_size: clouds per forward pass.
        speed: how the model runs (:func:`flowam.speed.prepare`; the recorded layers see
            what they see on the plain path, up to float32 rounding).

    Returns:
        ``{layer: (M, D_l)}`` float32 CPU tensors.
    """
    model.eval()
    device = next(model.parameters()).device
    points = torch.as_tensor(points, dtype=torch.float32)
    hooked = list(dict.fromkeys(_reading(name)[0] for name in layers if name != "logits"))
    run = prepare(model, hooked, speed)
    out: dict[str, list[Tensor]] = {name: [] for name in layers}
    with LayerRecorder(run, hooked, detach=True) as rec:
        for i in range(0, len(points), batch_size):
            stopping.check()
            logits = run(points[i : i + batch_size].to(device))
            for name in layers:
                layer, count = _reading(name)
                act = logits if name == "logits" else rec[layer]
                act = quantiles(act, count) if count else act
                out[name].append(act.flatten(1).float().cpu())
    return {name: torch.cat(acts) for name, acts in out.items()}


@dataclass
class ClassStatistics:
    """Per-class mean activations of real objects.

    Attributes:
        classes: class names (rows of every mean).
        means: ``{layer: (C, D_l)}`` mean flattened activation per class (ω_c^l).
        counts: ``(C,)`` objects per class that entered the means.
    """

    classes: list[str]
    means: dict[str, Tensor]
    counts: np.ndarray

    def target(self, layer: str, labels: Tensor) -> Tensor:
        """``(B, D_l)`` mean activations of the classes in ``labels``."""
        return self.means[layer].to(labels.device)[labels]


def class_means(
    model: nn.Module,
    data: PointCloudDataset,
    layers: list[str],
    batch_size: int = 8,
    classes: Sequence[int] | None = None,
) -> ClassStatistics:
    """Mean activation of each class at each layer (Eq. 3's ω_c^l), cached on disk.

    Args:
        classes: class indices whose means are needed (default all); only their objects
            are passed through the model, and the other rows stay zero with count 0.
    """
    wanted = sorted(set(range(len(data.classes)) if classes is None else map(int, classes)))
    key = cache.key(
        {
            "model": model_fingerprint(model),
            "data": data.description,
            "n": len(data),
            "layers": sorted(layers),
            "what": "means",
            **({"classes": wanted} if classes is not None else {}),
        }
    )
    path = cache.cache_dir() / "stats" / f"means-{key}.npz"
    names = [f"layer{i}" for i in range(len(layers))] + ["counts"]

    def build() -> dict[str, np.ndarray]:
        c = len(data.classes)
        rows = np.flatnonzero(np.isin(data.labels, wanted))
        counts = np.bincount(data.labels[rows], minlength=c)
        if (counts[wanted] == 0).any():
            missing = data.classes[wanted[int(np.argmin(counts[wanted]))]]
            raise FlowamError(f"class {missing!r} has no objects in the {data.split} split")
        sums: dict[str, Tensor] = {}
        for i in range(0, len(rows), 256):
            part = rows[i : i + 256]
            acts = record(model, data.points[part], layers, batch_size)
            onehot = torch.nn.functional.one_hot(torch.as_tensor(data.labels[part]), c)
            for name, act in acts.items():
                sums[name] = sums.get(name, 0) + onehot.T.float() @ act
        denom = torch.as_tensor(np.maximum(counts, 1), dtype=torch.float32)[:, None]
        arrays = {f"layer{i}": (sums[n] / denom).numpy() for i, n in enumerate(layers)}
        return {**arrays, "counts": counts}

    arrays = cache.cached_arrays(path, names, build)
    means = {n: torch.from_numpy(arrays[f"layer{i}"]) for i, n in enumerate(layers)}
    return ClassStatistics(list(data.classes), means, arrays["counts"])


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
        kind: the start, one of :data:`START_KINDS`.
        num_points: points per cloud (must equal the data's for ``mean``/``medoid``).
        data: the real objects of the classes.
        targets: class indices, one cloud each (repeats allowed).
        seeds: one seed per cloud for ``gaussian`` noise (default: the class index), so
            restarts of a class start from different noise.
        max_objects: objects per class entering ``mean``/``medoid`` (the first ones).

    ``mean`` and ``medoid`` clouds are cached per class.
    """
    if kind not in START_KINDS:
        raise FlowamError(f"unknown start {kind!r}; choose one of {', '.join(START_KINDS)}")
    shapes = {
        "sphere": fibonacci_sphere,
        "blobs": blobs,
        "assembly": assembly_start,
        "mesh": mesh_start,
    }
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
