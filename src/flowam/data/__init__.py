"""Point cloud datasets: the built-in procedural shapes and the real formats, behind one call.

>>> train = load_dataset("procedural", "train")             # the default everywhere
>>> test = load_dataset("~/data/modelnet40_normal_resampled", "test", sampling="fps")
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowam.data.dataset import PointCloudDataset, concatenate
from flowam.data.folder import folder_classes, folder_splits, load_folder, load_off_meshes
from flowam.data.loading import LoadOptions
from flowam.data.modelnet import (
    hdf5_classes,
    hdf5_splits,
    load_hdf5,
    load_resampled,
    resampled_classes,
    resampled_splits,
)
from flowam.data.procedural import FAMILIES, load_procedural
from flowam.data.procedural.generate import SPLITS as PROCEDURAL_SPLITS
from flowam.data.shapenet import load_shapenet_part, shapenet_classes, shapenet_splits
from flowam.errors import DataError

PROCEDURAL = "procedural"


@dataclass(frozen=True)
class Format:
    """One file format: how to load a split, and what a root holds, read from its index
    files or folder names alone (no object is read).

    Attributes:
        load: ``(root, split, options) -> PointCloudDataset``.
        classes: ``root -> class names`` in label order.
        splits: ``root -> the splits it holds``.
        up: the files' up axis unless the caller says otherwise (ModelNet's OFF meshes
            are z-up; flowam's clouds are y-up: :class:`LoadOptions`).
    """

    load: Callable[[Path, str, LoadOptions], PointCloudDataset]
    classes: Callable[[Path], list[str]]
    splits: Callable[[Path], list[str]]
    up: str = "y"


FORMATS: dict[str, Format] = {
    "modelnet40_normal_resampled": Format(load_resampled, resampled_classes, resampled_splits),
    "modelnet40_ply_hdf5_2048": Format(load_hdf5, hdf5_classes, hdf5_splits),
    "modelnet_off": Format(
        load_off_meshes, lambda root: folder_classes(root, "modelnet_off"), folder_splits, "z"
    ),
    "shapenet_part": Format(load_shapenet_part, shapenet_classes, shapenet_splits),
    "folder": Format(load_folder, folder_classes, folder_splits),
}
"""File formats by name; :func:`detect_format` picks one from a root's contents."""


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


def format_of(source: str | Path, format: str | None = None) -> Format:
    """The :class:`Format` named, or detected from the root's contents."""
    fmt = format or detect_format(source)
    if fmt not in FORMATS:
        raise DataError(f"unknown dataset format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return FORMATS[fmt]


def class_names(source: str | Path = PROCEDURAL, format: str | None = None) -> list[str]:
    """A dataset's class names in label order, without reading any object."""
    if str(source) == PROCEDURAL:
        return list(FAMILIES)
    return format_of(source, format).classes(Path(source).expanduser())


def split_names(source: str | Path = PROCEDURAL, format: str | None = None) -> list[str]:
    """The splits a dataset holds (a file dataset: those its index files list)."""
    if str(source) == PROCEDURAL:
        return list(PROCEDURAL_SPLITS)
    return format_of(source, format).splits(Path(source).expanduser())


def load_for_model(
    classes: Sequence[str],
    source: str | Path = PROCEDURAL,
    split: str = "test",
    validation: tuple[float, int] | None = None,
    **options: Any,
) -> PointCloudDataset:
    """The objects of ``source`` whose class a model has, labelled by the model's classes.

    Classes are matched by name, so ModelNet10 data serve a ModelNet40 model (its other
    classes then have no objects: :attr:`PointCloudDataset.covered` lists those that
    do), and objects of classes the model lacks are left out. A dataset that shares no
    class with the model is refused from its class list, before any object is read.

    Args:
        classes: the model's class names, in logit order.
        source, split, options: as for :func:`load_dataset`.
        validation: ``(share, seed)``: the validation carve-out of ``split``
            (:meth:`PointCloudDataset.carve`, before the classes are mapped, so it is the
            one a training run with that share and seed evaluated on).
    """
    names = class_names(source, options.get("format"))
    if not set(names) & set(classes):
        raise DataError(
            f"{source}: none of its {len(names)} classes ({preview(names)}) is one of the "
            f"model's {len(classes)} ({preview(classes)})"
        )
    data = load_dataset(source, split, **options)
    if validation is not None:
        data = data.carve(*validation)[1]
    return data.relabel(classes)


def preview(names: Sequence[str], count: int = 4) -> str:
    """The first ``count`` names, comma-separated, with ``...`` where there are more."""
    return ", ".join(names[:count]) + (", ..." if len(names) > count else "")


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
            (:class:`LoadOptions`). Default: the format's (:attr:`Format.up`: ``z`` for
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
    fmt = format_of(root, format)
    options = LoadOptions(
        num_points=num_points,
        sampling=sampling,
        seed=seed,
        use_normals=use_normals,
        normalize=normalize,
        replace=replace,
        up=up or fmt.up,
    )
    data = fmt.load(root, split, options)
    return data if per_class is None else data.first_per_class(per_class)


__all__ = [
    "FORMATS",
    "Format",
    "LoadOptions",
    "PointCloudDataset",
    "class_names",
    "concatenate",
    "detect_format",
    "load_dataset",
    "load_for_model",
    "split_names",
]
