"""Sampling the procedural families into point clouds, and caching the result.

Object ``i`` of class ``c`` in split ``s`` is drawn from
``numpy.random.default_rng([seed, s, c, i])``, so every object depends only on its own
coordinates: enlarging a split or adding classes leaves existing objects unchanged.
Points are sampled uniformly by surface area (so they come in random order), then
centred and scaled into the unit sphere as ModelNet40 loaders do. Objects are generated
in one worker process per CPU core where processes can be forked (Linux), one class at a
time each; the result does not depend on how many.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import trimesh

from flowam import cache, stopping
from flowam.data.dataset import PointCloudDataset
from flowam.data.procedural.catalog import FAMILIES
from flowam.data.procedural.families import Draw
from flowam.data.procedural.primitives import merge
from flowam.data.sampling import normalize
from flowam.errors import DataError
from flowam.progress import bar as progress_bar

VERSION = 6
"""Bumped whenever a family changes shape, so old caches are not reused."""
CHANGED = {
    4: (
        "bed",
        "bookshelf",
        "curtain",
        "desk",
        "dresser",
        "keyboard",
        "lamp",
        "mantel",
        "person",
        "plant",
        "sink",
        "tent",
        "tv_stand",
        "vase",
    ),
    5: (
        "airplane",
        "bathtub",
        "desk",
        "dresser",
        "glass_box",
        "monitor",
        "night_stand",
        "table",
        "toilet",
    ),
    6: ("desk", "dresser", "night_stand", "table", "wardrobe"),
}
"""The classes each version changed (4: ModelNet40's facing and proportions; 5:
proportions and parts measured on genuine ModelNet10 train objects, and straight wings of
a wider span; 6: what separates genuine tables from desks and dressers from night stands,
:mod:`flowam.data.furniture`); the objects of every other class are the same as in the
version before."""


def changed_since(version: int) -> set[str]:
    """The classes whose objects differ from those of dataset ``version``."""
    return {name for v, names in CHANGED.items() if v > version for name in names}


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


def _sample_class(job: tuple[str, str, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Points and normals ``(per_class, num_points, 3)`` of one class's objects."""
    name, split, per_class, num_points, seed = job
    out = [sample_object(name, split, i, num_points, seed) for i in range(per_class)]
    return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])


def _ignore_stops() -> None:
    """Workers leave Ctrl-C and SIGTERM to the parent (:mod:`flowam.stopping`), which stops
    between classes."""
    for signum in stopping.NAMES:
        signal.signal(signum, signal.SIG_IGN)


class _workers:
    """A pool of forked worker processes, one per core (None where forking is unsafe or
    there is one core: the caller then generates in this process)."""

    def __enter__(self) -> ProcessPoolExecutor | None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        fork = (
            sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
        )
        self.pool = None
        if fork and cores > 1:
            context = multiprocessing.get_context("fork")
            self.pool = ProcessPoolExecutor(
                max_workers=cores, mp_context=context, initializer=_ignore_stops
            )
        return self.pool

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


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
        jobs = [(c, split, per_class, num_points, seed) for c in classes]
        bar = progress_bar(
            total=len(jobs) * per_class,
            desc=f"generating procedural {split}",
            progress=progress,
            unit="obj",
            leave=False,
        )
        parts = []
        with _workers() as pool:
            for part in pool.map(_sample_class, jobs) if pool else map(_sample_class, jobs):
                parts.append(part)
                bar.update(per_class)
                stopping.check()
        bar.close()
        labels = np.repeat(np.arange(len(classes)), per_class)
        pts, nrm = (np.concatenate([p[k] for p in parts]) for k in range(2))
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
