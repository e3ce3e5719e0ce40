"""A classifier's accuracy, measured one way everywhere: its logits in batches
(:func:`predict`), and per-class accuracy with the confusion over the classes a dataset
shares with the model (:func:`evaluate`). ``flowam train`` evaluates each epoch with it;
``flowam eval-model`` and ``experiment realism`` measure a model on another dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from flowam.data import PointCloudDataset
from flowam.errors import FlowamError
from flowam.speed import DEFAULT, Speed, prepare


@torch.no_grad()
def predict(
    model: nn.Module,
    points: np.ndarray | Tensor,
    batch_size: int = 16,
    device: str | torch.device | None = None,
    speed: Speed = DEFAULT,
) -> Tensor:
    """Logits ``(M, C)`` of a model in eval mode for ``(M, N, 3)`` clouds, in batches.

    The clouds are moved to ``device``, by default the device of the model's parameters.
    The model runs as ``speed`` says (:func:`flowam.speed.prepare`: by default folded,
    with every fast path; the same logits up to float32 rounding).
    """
    model.eval()
    device = device or next(model.parameters()).device
    run = prepare(model, [], speed)
    points = torch.as_tensor(points)
    out = [
        run(points[i : i + batch_size].to(device)).cpu() for i in range(0, len(points), batch_size)
    ]
    return torch.cat(out)


@dataclass
class Accuracy:
    """Accuracy of a model on the objects of the classes it shares with a dataset.

    Attributes:
        shared: the shared class names, in the dataset's label order (the confusion's rows).
        model_classes: every class of the model (the confusion's columns).
        confusion: ``(len(shared), len(model_classes))`` counts.
        names: the ``M`` real objects' names; ``truth`` and ``predicted``: their true and
            predicted class names.
    """

    shared: list[str]
    model_classes: list[str]
    confusion: np.ndarray
    names: list[str]
    truth: list[str]
    predicted: list[str]

    @property
    def counts(self) -> np.ndarray:
        return self.confusion.sum(1)

    @property
    def per_class(self) -> np.ndarray:
        """Accuracy of each shared class."""
        hits = [self.confusion[i, self.model_classes.index(c)] for i, c in enumerate(self.shared)]
        return np.asarray(hits) / np.maximum(self.counts, 1)

    @property
    def overall(self) -> float:
        """Fraction of all shared-class objects recognised."""
        return float((self.per_class * self.counts).sum() / max(self.counts.sum(), 1))

    @property
    def mean_class(self) -> float:
        return float(self.per_class.mean())

    def rows(self) -> tuple[list[str], list[list[str]]]:
        """The heads and rows of its table: per class the objects, the share recognised
        and what it is most often taken for; then overall and the mean of classes."""
        heads = ["class", "objects", "recognised", "most often taken for"]
        rows = [
            [name, str(row["objects"]), f"{row['accuracy']:.0%}", row["most_often_taken_for"] or ""]
            for name, row in self.to_dict()["per_class"].items()
        ]
        rows.append(["overall", str(int(self.counts.sum())), f"{self.overall:.1%}", ""])
        rows.append(["mean of classes", "", f"{self.mean_class:.1%}", ""])
        return heads, rows

    def to_dict(self) -> dict:
        pairs = list(zip(self.truth, self.predicted, strict=True))
        taken = {c: _most_common([p for t, p in pairs if t == c and p != c]) for c in self.shared}
        return {
            "overall_accuracy": self.overall,
            "mean_class_accuracy": self.mean_class,
            "per_class": {
                c: {"objects": int(n), "accuracy": float(a), "most_often_taken_for": taken[c]}
                for c, n, a in zip(self.shared, self.counts, self.per_class, strict=True)
            },
            "predictions": [
                {"object": n, "class": t, "predicted": p}
                for n, t, p in zip(self.names, self.truth, self.predicted, strict=True)
            ],
            "model_classes": self.model_classes,
            "confusion": self.confusion.tolist(),
        }


def _most_common(names: list[str]) -> str | None:
    if not names:
        return None
    values, counts = np.unique(names, return_counts=True)
    return str(values[np.argmax(counts)])


def _most_common(names: list[str]) -> str | None:
    if not names:
        return None
    values, counts = np.unique(names, return_counts=True)
    return str(values[np.argmax(counts)])


def evaluate(
    model: nn.Module,
    real: PointCloudDataset,
    classes: Sequence[str] | None = None,
    *,
    batch_size: int = 16,
    device: str | torch.device | None = None,
) -> Accuracy:
    """Classify every object of ``real`` whose class the model knows: ``classes`` are the
    model's (default: ``real``'s own, as for a test split or a carve-out), matched by name,
    so a real chair taken for a stool counts as wrong; ``device`` as for :func:`predict`.

    The shared classes are those of the model with at least one object in ``real``.

    Raises:
        FlowamError: the dataset holds no object of a class the model knows.
    """
    model_classes = list(real.classes if classes is None else classes)
    present = np.unique(real.labels)
    shared = [real.classes[k] for k in present if real.classes[k] in model_classes]
    if not shared:
        raise FlowamError(
            f"{real.description.get('root', real.description.get('format', 'dataset'))}: holds "
            f"no object of a class the model knows (its classes: "
            f"{', '.join(real.classes[k] for k in present[:5])}, ...; the model's: "
            f"{', '.join(model_classes[:5])}, ...)"
        )
    keep = np.isin(real.labels, [real.classes.index(c) for c in shared])
    data = real.subset(keep)
    pred = predict(model, data.points, batch_size, device).argmax(1).numpy()
    rows = np.array([shared.index(data.classes[y]) for y in data.labels])
    confusion = np.zeros((len(shared), len(model_classes)), dtype=np.int64)
    np.add.at(confusion, (rows, pred), 1)
    truth = [data.classes[y] for y in data.labels]
    predicted = [model_classes[p] for p in pred]
    return Accuracy(shared, list(model_classes), confusion, list(data.names), truth, predicted)
