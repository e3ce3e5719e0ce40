"""ShapeNet's part-annotation release, used as 16-category classification.

Layout (``shapenetcore_partanno_segmentation_benchmark_v0_normal``):
``synsetoffset2category.txt`` (``Airplane<TAB>02691156`` per line, giving the class order),
``<synset>/<id>.txt`` with rows ``x y z nx ny nz part``, and
``train_test_split/shuffled_{train,val,test}_file_list.json`` listing
``shape_data/<synset>/<id>``. Splits: ``train``, ``val``, ``test`` and ``trainval``
(train and val together, as part-segmentation training usually does).
"""

from __future__ import annotations

import json
from pathlib import Path

from flowam.data.dataset import PointCloudDataset
from flowam.data.io import read_text_points, split_columns
from flowam.data.loading import Item, LoadOptions, check_root, load_items, read_lines, read_text
from flowam.errors import DataError

SPLITS = {"train": ["train"], "val": ["val"], "test": ["test"], "trainval": ["train", "val"]}


def _categories(root: Path) -> dict[str, str]:
    """``{class name: synset}`` in ``synsetoffset2category.txt``'s order."""
    category_file = root / "synsetoffset2category.txt"
    categories = {}
    for line in read_lines(category_file, "category list"):
        fields = line.split()
        if len(fields) != 2:
            raise DataError(f"{category_file}: line {line!r} is not '<name> <synset>'")
        categories[fields[0]] = fields[1]
    return categories


def shapenet_classes(root: Path) -> list[str]:
    """The 16 category names, from ``synsetoffset2category.txt`` alone."""
    return list(_categories(check_root(root, "shapenet part")))


def shapenet_splits(root: Path) -> list[str]:
    """The splits whose file lists a ShapeNet part root holds (``trainval`` with both)."""
    folder = check_root(root, "shapenet part") / "train_test_split"
    found = [
        s for s in ("train", "val", "test") if (folder / f"shuffled_{s}_file_list.json").is_file()
    ]
    return found + (["trainval"] if {"train", "val"} <= set(found) else [])


def load_shapenet_part(root: Path, split: str, options: LoadOptions) -> PointCloudDataset:
    """The ShapeNet part-annotation layout (see the module docstring)."""
    root = check_root(root, "shapenet part")
    if split not in SPLITS:
        raise DataError(
            f"shapenet part: unknown split {split!r}; choose one of {', '.join(SPLITS)}"
        )
    categories = _categories(root)
    classes = list(categories)
    synsets = {synset: k for k, synset in enumerate(categories.values())}
    index_files, items = [], []
    for part in SPLITS[split]:
        index = root / "train_test_split" / f"shuffled_{part}_file_list.json"
        if not index.is_file():
            raise DataError(f"{index}: split index for {part!r} missing")
        try:
            entries = json.loads(read_text(index, f"split index for {part!r}"))
        except json.JSONDecodeError as e:
            raise DataError(f"{index}: not valid JSON ({e.msg} at line {e.lineno})") from None
        except RecursionError:
            raise DataError(f"{index}: JSON nested too deeply") from None
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise DataError(f"{index}: expected a JSON list of 'shape_data/<synset>/<id>'")
        index_files.append(index)
        for entry in entries:
            if len(Path(entry).parts) < 2:
                raise DataError(f"{index}: {entry!r} is not 'shape_data/<synset>/<id>'")
            synset, shape_id = Path(entry).parts[-2:]
            if synset not in synsets:
                raise DataError(
                    f"{index}: {entry!r} has synset {synset}, "
                    f"which is not in synsetoffset2category.txt"
                )
            items.append(Item(root / synset / f"{shape_id}.txt", synsets[synset], shape_id))

    def reader(item: Item, seed: list[int]):
        return split_columns(read_text_points(item.path, columns=7))

    return load_items(
        items,
        classes,
        split,
        options,
        {"format": "shapenet_part", "root": str(root.resolve())},
        reader,
        index_files,
    )
