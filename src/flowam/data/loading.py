"""Turning a list of object files into a cached :class:`PointCloudDataset`.

Every file-based format lists its objects as :class:`Item` s and hands them to
:func:`load_items`, which reads each file, picks ``num_points`` points, normalises, stacks
and caches the result. The cache key holds the options, the format's description and a
fingerprint (count, sizes and modification times) of the listed files, so editing or
replacing a file invalidates the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flowam import cache, stopping
from flowam.data.dataset import PointCloudDataset
from flowam.data.io import Cloud, read_object
from flowam.data.sampling import choose_indices, normalize
from flowam.errors import DataError
from flowam.progress import bar as progress_bar

MAX_POINTS = 100_000
UP_AXES = ("y", "z")
"""The up axes files may have; flowam's clouds are y-up."""


@dataclass(frozen=True)
class LoadOptions:
    """How each object becomes a fixed-size cloud.

    Attributes:
        num_points: points per object.
        sampling: ``first``, ``random`` or ``fps`` (see :mod:`flowam.data.sampling`).
        seed: seed of random sampling (combined with each object's position in the split).
        use_normals: also load normals (an error for files that have none).
        normalize: centre and scale each cloud into the unit sphere (ModelNet40 style).
        replace: sample with replacement when an object has fewer than ``num_points``.
        mesh_samples: points drawn from a mesh's surface before sampling.
        up: the files' up axis, ``"y"`` or ``"z"``. Loaded clouds are always y-up:
            z-up files (ModelNet's OFF meshes) are turned by the swap
            ``(x, y, z) = (x, z, y)_file``, a reflection, not a rotation: it is the
            relation between ModelNet's OFF files and ``modelnet40_normal_resampled``,
            under which chair, bed and toilet backs lie towards +z and sofa backs towards
            +x in 89–100 % of 4,827 ModelNet10 objects, as in genuine resampled ones (a
            rotation ``(x, z, -y)`` turns the chairs to face the other way).
    """

    num_points: int = 1024
    sampling: str = "first"
    seed: int = 0
    use_normals: bool = False
    normalize: bool = True
    replace: bool = False
    mesh_samples: int = 10_000
    up: str = "y"

    def __post_init__(self) -> None:
        if self.up not in UP_AXES:
            raise DataError(f"up axis {self.up!r}: choose one of {', '.join(UP_AXES)}")
        if not 1 <= self.num_points <= MAX_POINTS:
            raise DataError(f"num_points={self.num_points} must be between 1 and {MAX_POINTS}")
        choose_indices(np.zeros((1, 3)), 1, self.sampling)  # validates the method name


@dataclass(frozen=True)
class Item:
    """One object of a split: its file, label, identifier and place in a multi-object file."""

    path: Path
    label: int
    name: str
    key: int = 0


Reader = Callable[[Item, list[int]], Cloud]


def prepare(
    points: np.ndarray,
    normals: np.ndarray | None,
    options: LoadOptions,
    seed: list[int],
    source: str,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Sample and normalise one object's ``(P, 3)`` points (and normals) to ``num_points``."""
    if options.use_normals and normals is None:
        raise DataError(f"{source}: has no normals, but normals were asked for")
    idx = choose_indices(
        points, options.num_points, options.sampling, seed, options.replace, source
    )
    pts = to_y_up(points[idx], options.up)
    pts = normalize(pts) if options.normalize else pts.astype(np.float32)
    nrm = to_y_up(normals[idx], options.up).astype(np.float32) if options.use_normals else None
    return pts, nrm


def to_y_up(points: np.ndarray, up: str) -> np.ndarray:
    """``(P, 3)`` points (or normals) of files whose up axis is ``up``, y-up: z-up rows
    have their y and z swapped (see :class:`LoadOptions`)."""
    return points[:, [0, 2, 1]] if up == "z" else points


def fingerprint(items: list[Item], index_files: list[Path]) -> dict[str, Any]:
    """Count, total size and newest modification time of the files; errors for missing ones."""
    size, newest = 0, 0
    for path in dict.fromkeys([*index_files, *(item.path for item in items)]):
        try:
            st = path.stat()
        except OSError:
            raise DataError(f"{path}: listed in the split index but missing") from None
        size, newest = size + st.st_size, max(newest, st.st_mtime_ns)
    return {"count": len(items), "bytes": size, "mtime_ns": newest}


def load_items(
    items: list[Item],
    classes: list[str],
    split: str,
    options: LoadOptions,
    description: dict[str, Any],
    reader: Reader | None = None,
    index_files: list[Path] | None = None,
    progress: bool = True,
) -> PointCloudDataset:
    """Read, sample, normalise and stack the objects of one split, through the cache.

    Args:
        items: the split's objects.
        classes: class names that labels index.
        split: the split's name.
        options: sampling options.
        description: the format, root and anything else that identifies the data.
        reader: ``(item, seed) -> (points, normals)``; default :func:`read_object` of the
            item's file.
        index_files: files whose change must invalidate the cache (split lists).
        progress: show a progress bar while reading.
    """
    if not items:
        raise DataError(f"{description.get('root', '?')}: split {split!r} has no objects")
    if reader is None:

        def reader(item: Item, seed: list[int]) -> Cloud:
            return read_object(item.path, options.mesh_samples, seed)

    description = {**description, "split": split, **asdict(options)}
    params = {**description, "files": fingerprint(items, index_files or [])}
    path = cache.cache_dir() / "datasets" / f"{description['format']}-{cache.key(params)}.npz"

    def build() -> dict[str, np.ndarray]:
        pts = np.empty((len(items), options.num_points, 3), np.float32)
        nrm = np.zeros_like(pts) if options.use_normals else np.zeros((0, 0, 3), np.float32)
        bar = progress_bar(
            items, desc=f"reading {split}", unit="obj", progress=progress, leave=False
        )
        for k, item in enumerate(bar):
            stopping.check()
            seed = [options.seed, k]
            source = f"{item.path}[{item.key}]" if item.key else str(item.path)
            p, n = prepare(*reader(item, seed), options, seed, source)
            pts[k] = p
            if n is not None:
                nrm[k] = n
        labels = np.array([item.label for item in items], dtype=np.int64)
        return {"points": pts, "normals": nrm, "labels": labels}

    arrays = cache.cached_arrays(path, ["points", "normals", "labels"], build)
    return PointCloudDataset(
        points=arrays["points"],
        labels=arrays["labels"],
        classes=classes,
        normals=arrays["normals"] if options.use_normals else None,
        names=[item.name for item in items],
        split=split,
        description=description,
    )


def read_lines(path: Path, what: str) -> list[str]:
    """Non-empty stripped lines of an index file; a DataError naming it if absent."""
    if not path.is_file():
        raise DataError(f"{path}: {what} missing")
    return [s for line in read_text(path, what).splitlines() if (s := line.strip())]


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of an index or list file, or a DataError naming it (not text, or
    holding NUL bytes, which no path may contain)."""
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise DataError(f"{path}: {what} is not UTF-8 text") from None
    if "\x00" in text:
        raise DataError(f"{path}: {what} holds NUL bytes")
    return text


def check_root(root: Path, fmt: str) -> Path:
    """``root`` as an existing folder, or a DataError naming the format."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: {fmt} root folder does not exist")
    return root
