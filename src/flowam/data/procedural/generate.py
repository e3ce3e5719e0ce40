"""Sampling the procedural families into point clouds, and caching the result.

Object ``i`` of class ``c`` in split ``s`` is drawn from
``numpy.random.default_rng([seed, s, c, i])``, so every object depends only on its own
coordinates: enlarging a split or adding classes leaves existing objects unchanged.
Points are sampled uniformly by surface area (so they come in random order), then
centred and scaled into the unit sphere as ModelNet40 loaders do.
"""

from __future__ import annotations

import numpy as np
import trimesh
from tqdm import tqdm

from flowam import cache
from flowam.data.dataset import PointCloudDataset
from flowam.data.procedural.catalog import FAMILIES
from flowam.data.procedural.families import Draw
from flowam.data.procedural.parts import merge
from flowam.data.sampling import normalize
from flowam.errors import DataError

VERSION = 3
"""Bumped whenever a family changes shape, so old caches are not reused."""

SPLITS = ("train", "test")
MAX_POINTS = 10_000
DEFAULTS = {"num_points": 1024, "train_per_class": 150, "test_per_class": 50, "seed": 0}


def object_mesh(name: str, split: str, index: int, seed: int = 0) -> trimesh.Trimesh:
    """The mesh of one object, before sampling (see the module docstring for seeding)."""
    return merge(FAMILIES[name](Draw(_rng(name, split, index, seed))))


def _rng(name: str, split: str, index: int, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, SPLITS.index(split), list(FAMILIES).index(name), index])


def sample_object(
    name: str, split: str, index: int, num_points: int = 1024, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Points and normals of one object.

    Returns:
        ``(num_points, 3)`` float32 points in the unit sphere and ``(num_points, 3)`` float32
        unit normals of the faces they were drawn from.
    """
    rng = _rng(name, split, index, seed)
    mesh = merge(FAMILIES[name](Draw(rng)))
    points, faces = trimesh.sample.sample_surface(mesh, num_points, seed=rng)
    return normalize(points), mesh.face_normals[faces].astype(np.float32)


def _check(split: str, num_points: int, classes: list[str]) -> None:
    if split not in SPLITS:
        raise DataError(f"procedural: unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if not 1 <= num_points <= MAX_POINTS:
        raise DataError(f"procedural: num_points={num_points} must be between 1 and {MAX_POINTS}")
    unknown = [c for c in classes if c not in FAMILIES]
    if unknown:
        raise DataError(
            f"procedural: unknown class {unknown[0]!r}; valid classes: {', '.join(FAMILIES)}"
        )


def load_procedural(
    split: str = "train",
    num_points: int = DEFAULTS["num_points"],
    per_class: int | None = None,
    seed: int = DEFAULTS["seed"],
    classes: list[str] | None = None,
    use_normals: bool = False,
    progress: bool = True,
) -> PointCloudDataset:
    """The built-in procedural dataset, generated once and then read from the cache.

    Args:
        split: ``train`` or ``test``.
        num_points: points per object (1 to 10,000).
        per_class: objects per class (default 150 for train, 50 for test).
        seed: dataset seed; different seeds give different objects.
        classes: a subset of the class names (default: all, in label order).
        use_normals: also return normals.
        progress: show a progress bar while generating.
    """
    classes = list(FAMILIES) if classes is None else list(classes)
    _check(split, num_points, classes)
    if per_class is None:
        per_class = DEFAULTS[f"{split}_per_class"]
    params = {
        "version": VERSION,
        "split": split,
        "num_points": num_points,
        "per_class": per_class,
        "seed": seed,
        "classes": classes,
    }
    path = cache.cache_dir() / "procedural" / f"{split}-{cache.key(params)}.npz"

    def build() -> dict[str, np.ndarray]:
        jobs = [(c, i) for c in classes for i in range(per_class)]
        pts = np.empty((len(jobs), num_points, 3), np.float32)
        nrm = np.empty_like(pts)
        bar = tqdm(
            jobs,
            desc=f"generating procedural {split}",
            disable=not progress,
            unit="obj",
            leave=False,
        )
        for k, (c, i) in enumerate(bar):
            pts[k], nrm[k] = sample_object(c, split, i, num_points, seed)
        labels = np.repeat(np.arange(len(classes)), per_class)
        return {"points": pts, "normals": nrm, "labels": labels}

    names = ["points", "labels"] + (["normals"] if use_normals else [])
    arrays = cache.cached_arrays(path, names, build)
    return PointCloudDataset(
        points=arrays["points"],
        labels=arrays["labels"].astype(np.int64),
        classes=classes,
        normals=arrays.get("normals"),
        names=[f"{c}_{i:04d}" for c in classes for i in range(per_class)],
        split=split,
        description={"format": "procedural", **params},
    )
