"""A generic folder of one sub-folder per class, for users' own data.

Layout: ``<root>/<class>/*.{txt,xyz,csv,pts,npy,ply,off,obj}``. Where every class folder
has ``train/`` and ``test/`` sub-folders, those are the splits. Otherwise each file goes to
``test`` when the CRC-32 of its name is divisible by 5 (about a fifth, stable when files
are added or removed) and to ``train`` otherwise; the split ``all`` holds every file.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from flowam.data.dataset import PointCloudDataset
from flowam.data.io import SUFFIXES
from flowam.data.loading import Item, LoadOptions, check_root, load_items
from flowam.errors import DataError

SPLITS = ("train", "test", "all")


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def in_split(name: str, split: str) -> bool:
    """Whether a file of that name belongs to ``split`` when no split folders exist."""
    is_test = zlib.crc32(name.encode()) % 5 == 0
    return split == "all" or (split == "test") == is_test


def folder_classes(root: Path, fmt: str = "folder") -> list[str]:
    """The class folders' names, sorted (no file is read)."""
    root = check_root(root, fmt)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{root}: no class folders")
    return classes


def folder_splits(root: Path) -> list[str]:
    """``train`` and ``test`` (folders always have both: by sub-folder or by file name)."""
    check_root(root, "folder")
    return ["train", "test"]


def load_folder(
    root: Path,
    split: str,
    options: LoadOptions,
    suffixes: tuple[str, ...] = SUFFIXES,
    fmt: str = "folder",
) -> PointCloudDataset:
    """Class folders of point or mesh files (see the module docstring).

    Args:
        root: the folder holding one folder per class.
        split: ``train``, ``test`` or ``all``.
        options: sampling options.
        suffixes: the file types to read; others are ignored.
        fmt: the format's name, for messages and the cache.
    """
    if split not in SPLITS:
        raise DataError(f"{fmt}: unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    classes = folder_classes(root, fmt)
    root = Path(root).expanduser()
    has_splits = all(
        (root / c / "train").is_dir() and (root / c / "test").is_dir() for c in classes
    )
    items = []
    for label, cls in enumerate(classes):
        if has_splits:
            parts = ["train", "test"] if split == "all" else [split]
            files = [f for part in parts for f in _files(root / cls / part, suffixes)]
        else:
            files = [f for f in _files(root / cls, suffixes) if in_split(f.name, split)]
        items += [Item(f, label, f"{cls}/{f.stem}") for f in files]
    return load_items(items, classes, split, options, {"format": fmt, "root": str(root.resolve())})


def load_off_meshes(root: Path, split: str, options: LoadOptions) -> PointCloudDataset:
    """Raw ModelNet: ``<class>/{train,test}/<class>_NNNN.off`` meshes, surface-sampled."""
    return load_folder(root, split, options, suffixes=(".off",), fmt="modelnet_off")
