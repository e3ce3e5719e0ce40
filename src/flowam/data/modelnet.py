"""The three ModelNet layouts in circulation.

- ``modelnet40_normal_resampled``: ``<class>/<class>_NNNN.txt`` with rows
  ``x,y,z,nx,ny,nz`` (10,000 per object), ``modelnet40_shape_names.txt``,
  ``modelnet40_train.txt`` and ``modelnet40_test.txt`` (ModelNet10's ``modelnet10_*``
  files work the same way);
- ``modelnet40_ply_hdf5_2048``: ``ply_data_{train,test}K.h5`` holding ``data``
  ``(B, 2048, 3)``, ``label`` ``(B, 1)`` and optionally ``normal``, listed in
  ``train_files.txt`` / ``test_files.txt``, with ``shape_names.txt``;
- raw ModelNet meshes, ``<class>/{train,test}/<class>_NNNN.off``, are the generic folder
  layout restricted to ``.off`` files: see :func:`flowam.data.folder.load_off_meshes`.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from flowam.data.dataset import PointCloudDataset
from flowam.data.io import read_text_points, split_columns
from flowam.data.loading import Item, LoadOptions, check_root, load_items, read_lines
from flowam.data.sampling import check_finite
from flowam.errors import DataError

MODELNET40_CLASSES = (
    "airplane bathtub bed bench bookshelf bottle bowl car chair cone cup curtain desk door "
    "dresser flower_pot glass_box guitar keyboard lamp laptop mantel monitor night_stand "
    "person piano plant radio range_hood sink sofa stairs stool table tent toilet tv_stand "
    "vase wardrobe xbox"
).split()
"""ModelNet40's 40 class names in label order (``modelnet40_shape_names.txt``)."""


def _prefix(root: Path) -> str:
    names = sorted(root.glob("modelnet*_shape_names.txt"))
    if not names:
        raise DataError(f"{root / 'modelnet40_shape_names.txt'}: class list missing")
    return names[0].name.removesuffix("_shape_names.txt")


def resampled_classes(root: Path) -> list[str]:
    """The class list of a ``modelnet40_normal_resampled`` root (no object is read)."""
    root = check_root(root, "modelnet40_normal_resampled")
    return read_lines(root / f"{_prefix(root)}_shape_names.txt", "class list")


def hdf5_classes(root: Path) -> list[str]:
    """The class list of a ``modelnet40_ply_hdf5_2048`` root (no object is read)."""
    root = check_root(root, "modelnet40_ply_hdf5_2048")
    return read_lines(root / "shape_names.txt", "class list")


def resampled_splits(root: Path) -> list[str]:
    """The splits whose index (``<prefix>_<split>.txt``) a resampled root holds."""
    prefix = _prefix(check_root(root, "modelnet40_normal_resampled"))
    return [s for s in ("train", "test") if (Path(root) / f"{prefix}_{s}.txt").is_file()]


def hdf5_splits(root: Path) -> list[str]:
    """The splits whose index (``<split>_files.txt``) an HDF5 root holds."""
    root = check_root(root, "modelnet40_ply_hdf5_2048")
    return [s for s in ("train", "test") if (root / f"{s}_files.txt").is_file()]


def load_resampled(root: Path, split: str, options: LoadOptions) -> PointCloudDataset:
    """``modelnet40_normal_resampled`` (see the module docstring)."""
    classes = resampled_classes(root)
    root = Path(root).expanduser()
    prefix = _prefix(root)
    index = root / f"{prefix}_{split}.txt"
    items = []
    for name in read_lines(index, f"split index for {split!r}"):
        cls = name.rsplit("_", 1)[0]
        if cls not in classes:
            raise DataError(
                f"{index}: object {name!r} has class {cls!r}, "
                f"which is not in {prefix}_shape_names.txt"
            )
        items.append(Item(root / cls / f"{name}.txt", classes.index(cls), name))

    def reader(item: Item, seed: list[int]):
        return split_columns(read_text_points(item.path, columns=6))

    return load_items(
        items,
        classes,
        split,
        options,
        {"format": "modelnet40_normal_resampled", "root": str(root.resolve())},
        reader,
        [index],
    )


def load_hdf5(root: Path, split: str, options: LoadOptions) -> PointCloudDataset:
    """``modelnet40_ply_hdf5_2048`` (see the module docstring)."""
    classes = hdf5_classes(root)
    root = Path(root).expanduser()
    index = root / f"{split}_files.txt"
    items = []
    for line in read_lines(index, f"split index for {split!r}"):
        path = root / Path(line).name
        if not path.is_file():
            raise DataError(f"{path}: listed in {index.name} but missing")
        labels = _H5(path).labels(len(classes))
        items += [Item(path, int(y), f"{path.stem}_{i:04d}", i) for i, y in enumerate(labels)]
    files: dict[Path, _H5] = {}

    def reader(item: Item, seed: list[int]):
        if item.path not in files:
            files.clear()  # one file's arrays in memory at a time
            files[item.path] = _H5(item.path)
        return files[item.path].cloud(item.key)

    return load_items(
        items,
        classes,
        split,
        options,
        {"format": "modelnet40_ply_hdf5_2048", "root": str(root.resolve())},
        reader,
        [index],
    )


class _H5:
    """One ``ply_data_*.h5`` file, validated, read as a whole on first access."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._arrays: tuple[np.ndarray, np.ndarray | None] | None = None

    def _open(self, required: str, optional: str | None = None) -> dict[str, np.ndarray]:
        try:
            with h5py.File(self.path, "r") as h5:
                if required not in h5:
                    found = ", ".join(h5.keys()) or "nothing"
                    raise DataError(f"{self.path}: no {required!r} dataset (found {found})")
                arrays = {k: np.asarray(h5[k]) for k in (required, optional) if k and k in h5}
        except (OSError, RuntimeError, KeyError, ValueError, TypeError) as e:  # h5py's kinds
            raise DataError(f"{self.path}: not a readable HDF5 file ({e})") from None
        for name, array in arrays.items():
            if array.dtype.kind not in "iuf":
                raise DataError(f"{self.path}: {name!r} holds {array.dtype}, not numbers")
        return arrays

    def labels(self, n_classes: int) -> np.ndarray:
        label = self._open("label")["label"].reshape(-1)
        if not np.isfinite(label).all() or (label != np.round(label)).any():
            raise DataError(f"{self.path}: 'label' holds values that are not class indices")
        bad = label[(label < 0) | (label >= n_classes)]
        if len(bad):
            raise DataError(f"{self.path}: label {int(bad[0])} outside 0..{n_classes - 1}")
        return label.astype(np.int64)

    def cloud(self, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        if self._arrays is None:
            arrays = self._open("data", "normal")
            data = arrays["data"].astype(np.float32)
            if data.ndim != 3 or data.shape[-1] != 3:
                raise DataError(f"{self.path}: 'data' has shape {data.shape}, expected (B, N, 3)")
            check_finite(data.reshape(-1, 3), str(self.path))
            normal = arrays.get("normal")
            self._arrays = (data, None if normal is None else normal.astype(np.float32))
        data, normal = self._arrays
        if i >= len(data):
            raise DataError(
                f"{self.path}: 'label' lists more clouds than the {len(data)} in 'data'"
            )
        return data[i], None if normal is None else normal[i]
