"""The one dataset interface every format loads into."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flowam.errors import DataError


@dataclass
class PointCloudDataset:
    """Point clouds of one split, all with the same number of points.

    Attributes:
        points: ``(M, N, 3)`` float32, each cloud centred and scaled into the unit sphere
            unless the loader was asked not to.
        labels: ``(M,)`` int64 indices into ``classes``.
        classes: class names; ``labels`` index this list.
        normals: ``(M, N, 3)`` float32 unit normals, or None where not loaded.
        names: ``M`` object identifiers (usually the file stem).
        split: the split's name (``train``, ``test``, ...).
        description: how the data were made (format, root, sampling, ...), stored with
            checkpoints and outputs so results can be traced back.
    """

    points: np.ndarray
    labels: np.ndarray
    classes: list[str]
    normals: np.ndarray | None = None
    names: list[str] = field(default_factory=list)
    split: str = "train"
    description: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.points.ndim != 3 or self.points.shape[-1] != 3:
            raise ValueError(f"points must be (M, N, 3), got {self.points.shape}")
        if len(self.labels) != len(self.points):
            raise ValueError("points and labels differ in length")
        if not self.names:
            self.names = [f"{self.split}_{i:05d}" for i in range(len(self.points))]

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        return self.points[i], int(self.labels[i])

    @property
    def num_points(self) -> int:
        return self.points.shape[1]

    def class_index(self, name: str) -> int:
        """Index of class ``name``; a DataError listing the valid names otherwise."""
        try:
            return self.classes.index(name)
        except ValueError:
            raise DataError(
                f"unknown class {name!r}; valid classes: {', '.join(self.classes)}"
            ) from None

    def counts(self) -> dict[str, int]:
        """Number of objects per class name."""
        n = np.bincount(self.labels, minlength=len(self.classes))
        return {c: int(k) for c, k in zip(self.classes, n, strict=True)}

    def subset(self, mask: np.ndarray) -> PointCloudDataset:
        """The objects where ``mask`` (boolean or index array) selects."""
        idx = np.arange(len(self))[mask]
        return PointCloudDataset(
            points=self.points[idx],
            labels=self.labels[idx],
            classes=self.classes,
            normals=None if self.normals is None else self.normals[idx],
            names=[self.names[i] for i in idx],
            split=self.split,
            description=self.description,
        )

    def first_per_class(self, k: int) -> PointCloudDataset:
        """At most the first ``k`` objects of every class (in the split's order)."""
        rank = np.zeros(len(self), dtype=np.int64)
        for c in range(len(self.classes)):
            where = np.flatnonzero(self.labels == c)
            rank[where] = np.arange(len(where))
        return self.subset(rank < k)

    @property
    def covered(self) -> list[str]:
        """The classes that have at least one object."""
        n = np.bincount(self.labels, minlength=len(self.classes))
        return [c for c, k in zip(self.classes, n, strict=True) if k]

    def relabel(self, classes: Sequence[str]) -> PointCloudDataset:
        """The objects whose class is among ``classes``, labelled by their index there
        (matched by name; ``classes`` may name classes with no objects here). The
        description records the new class list, so caches keyed by it stay apart."""
        classes = list(classes)
        if classes == self.classes:
            return self
        where = {c: i for i, c in enumerate(classes)}
        mapping = np.array([where.get(c, -1) for c in self.classes], dtype=np.int64)
        labels = mapping[self.labels]
        part = self.subset(labels >= 0)
        part.labels, part.classes = labels[labels >= 0], classes
        part.description = {**self.description, "labelled_as": classes}
        return part

    def carve(self, share: float, seed: int = 0) -> tuple[PointCloudDataset, PointCloudDataset]:
        """Split off a validation set: ``round(share * n)`` objects of every class of
        ``n`` objects (at least one where ``n >= 2``), drawn by a generator seeded with
        ``seed``, independently of the order of the other classes.

        Returns ``(rest, validation)``; their ``split`` names read ``"<split>-rest"`` and
        ``"<split>-validation"`` and their descriptions record the share and seed, so a
        model's metadata says which objects it was selected on.
        """
        if not 0 < share < 1:
            raise DataError(f"validation share {share} must be in (0, 1)")
        held = np.zeros(len(self), dtype=bool)
        for c in range(len(self.classes)):
            where = np.flatnonzero(self.labels == c)
            k = min(max(round(share * len(where)), 1), len(where) - 1) if len(where) > 1 else 0
            rng = np.random.default_rng([seed, c])
            held[rng.permutation(where)[:k]] = True
        carved = {"validation": {"share": share, "seed": seed}}
        parts = []
        for mask, name in ((~held, "rest"), (held, "validation")):
            part = self.subset(mask)
            part.split = f"{self.split}-{name}"
            part.description = {**self.description, **carved, "split": part.split}
            parts.append(part)
        return parts[0], parts[1]

    def of_class(self, name: str) -> PointCloudDataset:
        """The objects of one class."""
        return self.subset(self.labels == self.class_index(name))


def concatenate(parts: list[PointCloudDataset]) -> PointCloudDataset:
    """The objects of several splits of one dataset together (classes must agree)."""
    first = parts[0]
    for other in parts[1:]:
        if other.classes != first.classes or other.num_points != first.num_points:
            raise DataError(f"splits {first.split} and {other.split} differ in classes or size")
    return PointCloudDataset(
        points=np.concatenate([p.points for p in parts]),
        labels=np.concatenate([p.labels for p in parts]),
        classes=first.classes,
        normals=None
        if any(p.normals is None for p in parts)
        else np.concatenate([p.normals for p in parts]),
        names=[n for p in parts for n in p.names],
        split="+".join(p.split for p in parts),
        description=first.description,
    )
