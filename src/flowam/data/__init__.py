"""Point cloud datasets: the built-in procedural shapes and the real formats, behind one call.

>>> train = load_dataset("procedural", "train")             # the default everywhere
>>> test = load_dataset("~/data/modelnet40_normal_resampled", "test", sampling="fps")
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flowam.data.dataset import PointCloudDataset, concatenate
from flowam.data.folder import load_folder, load_off_meshes
from flowam.data.loading import LoadOptions
from flowam.data.modelnet import load_hdf5, load_resampled
from flowam.data.procedural import load_procedural
from flowam.data.shapenet import load_shapenet_part
from flowam.errors import DataError

PROCEDURAL = "procedural"

FORMATS: dict[str, Callable[[Path, str, LoadOptions], PointCloudDataset]] = {
    "modelnet40_normal_resampled": load_resampled,
    "modelnet40_ply_hdf5_2048": load_hdf5,
    "modelnet_off": load_off_meshes,
    "shapenet_part": load_shapenet_part,
    "folder": load_folder,
}
"""File formats by name; :func:`detect_format` picks one from a root's contents."""

UP_DEFAULTS = {"modelnet_off": "z"}
"""The files' up axis of formats that are not y-up (ModelNet's OFF meshes are z-up)."""


def detect_format(root: str | Path) -> str:
    """The format of the dataset under ``root``, told by its index files and layout."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: dataset root folder does not exist")
    if any(root.glob("modelnet*_shape_names.txt")):
        return "modelnet40_normal_resampled"
    if (root / "shape_names.txt").is_file() and any(root.glob("*.h5")):
        return "modelnet40_ply_hdf5_2048"
    if (root / "synsetoffset2category.txt").is_file():
        return "shapenet_part"
    in_train = {p.suffix.lower() for p in root.glob("*/train/*")}
    if in_train == {".off"}:
        return "modelnet_off"
    if any(p.is_dir() for p in root.iterdir()):
        return "folder"
    raise DataError(f"{root}: cannot tell the dataset format; name one of {', '.join(FORMATS)}")


def load_dataset(
    source: str | Path = PROCEDURAL,
    split: str = "train",
    *,
    format: str | None = None,
    num_points: int = 1024,
    sampling: str = "first",
    seed: int = 0,
    use_normals: bool = False,
    normalize: bool = True,
    replace: bool = False,
    per_class: int | None = None,
    progress: bool = True,
    up: str | None = None,
) -> PointCloudDataset:
    """Load one split of a dataset as a :class:`PointCloudDataset`.

    Args:
        source: ``"procedural"`` (the built-in shapes) or the root folder of a dataset.
        split: ``train`` or ``test`` (ShapeNet also ``val``/``trainval``; folders ``all``).
        format: one of :data:`FORMATS`; detected from the folder when None.
        num_points: points per cloud.
        sampling: ``first``, ``random`` or ``fps`` for file datasets. Procedural clouds
            are drawn uniformly by area already, so only ``first`` applies to them.
        seed: for files, the seed of random sampling; for ``procedural``, the dataset seed.
        use_normals: also load normals.
        normalize: centre and scale into the unit sphere (always done for procedural).
        replace: sample with replacement from objects with too few points.
        per_class: at most this many objects per class (the first ones); for
            ``procedural``, the number generated (default 150 train, 50 test).
        progress: show progress bars while reading or generating.
        up: the files' up axis, ``y`` or ``z``; the clouds come out y-up either way
            (:class:`LoadOptions`). Default: the format's (:data:`UP_DEFAULTS`: ``z`` for
            ModelNet's OFF meshes, ``y`` for the rest).
    """
    if str(source) == PROCEDURAL:
        if sampling != "first" or not normalize or replace or up not in (None, "y"):
            raise DataError(
                "procedural: clouds are y-up, sampled uniformly by area and normalised "
                "already; sampling, normalize, replace and up apply to file datasets only"
            )
        return load_procedural(
            split,
            num_points,
            per_class=per_class,
            seed=seed,
            use_normals=use_normals,
            progress=progress,
        )
    root = Path(source).expanduser()
    fmt = format or detect_format(root)
    if fmt not in FORMATS:
        raise DataError(f"unknown dataset format {fmt!r}; choose one of {', '.join(FORMATS)}")
    options = LoadOptions(
        num_points=num_points,
        sampling=sampling,
        seed=seed,
        use_normals=use_normals,
        normalize=normalize,
        replace=replace,
        up=up or UP_DEFAULTS.get(fmt, "y"),
    )
    data = FORMATS[fmt](root, split, options)
    return data if per_class is None else data.first_per_class(per_class)


__all__ = [
    "FORMATS",
    "LoadOptions",
    "PointCloudDataset",
    "concatenate",
    "detect_format",
    "load_dataset",
]
