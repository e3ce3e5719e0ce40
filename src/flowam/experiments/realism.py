"""Realism: does a classifier trained on one dataset recognise another's objects?

The bundled models learn from procedural shapes; this measures them on a real dataset
(e.g. genuine ModelNet40 files) over the classes the two share by name. The model
predicts among all of its own classes, so a real chair taken for a stool counts as
wrong. Output folder: ``realism.json`` (per-class accuracy and the confusion),
``confusion.png`` (rows the shared classes, columns every class of the model) and
``config.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from flowam import cache
from flowam.data import PointCloudDataset
from flowam.errors import FlowamError
from flowam.fields import comma_list
from flowam.render import render_confusion
from flowam.train import predict


@dataclass
class Realism:
    """Accuracy of a model on the real objects of the classes it shares with a dataset.

    Attributes:
        shared: the shared class names, in the dataset's label order.
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


def measure_realism(
    model: nn.Module, model_classes: list[str], real: PointCloudDataset, device: str = "cpu"
) -> Realism:
    """Classify every object of ``real`` whose class the model knows.

    The shared classes are those of the model with at least one object in ``real``.

    Raises:
        FlowamError: the dataset holds no object of a class the model knows.
    """
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
    pred = predict(model, data.points, device=device).argmax(1).numpy()
    rows = np.array([shared.index(data.classes[y]) for y in data.labels])
    confusion = np.zeros((len(shared), len(model_classes)), dtype=np.int64)
    np.add.at(confusion, (rows, pred), 1)
    truth = [data.classes[y] for y in data.labels]
    predicted = [model_classes[p] for p in pred]
    return Realism(shared, list(model_classes), confusion, list(data.names), truth, predicted)


def write_realism(result: Realism, out: Path, title: str, name: str = "realism.json") -> None:
    """``name`` (every prediction, per-class accuracy, the confusion) and
    ``confusion.png`` into ``out``."""
    cache.write_json(out / name, result.to_dict())
    render_confusion(
        result.confusion,
        result.shared,
        out / "confusion.png",
        title,
        predicted=result.model_classes,
    )


def measure_accuracy(
    out: Path,
    command: str,
    summary: str,
    *,
    model: str,
    data: str,
    split: str,
    format: str | None = None,
    num_points: int | None = None,
    sampling: str = "first",
    arch: str | None = None,
    num_classes: int | None = None,
    device: str = "cpu",
    seed: int = 0,
) -> tuple[Realism, str]:
    """Per-class accuracy of ``model`` on the objects of the comma-separated ``split`` of
    ``data`` whose classes it has (labelled by the model's classes:
    :func:`flowam.data.load_for_model`); writes ``summary`` (JSON), ``confusion.png``
    and ``config.json`` (of ``command``) into ``out``. ``flowam eval-model`` and
    ``experiment realism``. Returns the result and its title."""
    from flowam.data import concatenate, load_for_model
    from flowam.models import load_classifier
    from flowam.outputs import write_config

    net, info = load_classifier(model, arch=arch, num_classes=num_classes, device=device)
    info.check_convention(data)
    points = num_points or info.num_points
    options = dict(format=format, num_points=points, sampling=sampling, seed=seed)
    real = concatenate(
        [load_for_model(info.classes, data, s, **options) for s in comma_list(split)]
    )
    result = measure_realism(net, info.classes, real, device=device)
    title = f"{info.architecture} on {Path(data).name}: {result.overall:.0%} of its objects"
    write_realism(result, out, title, summary)
    record = dict(model=model, data=data, split=split, format=format, sampling=sampling, seed=seed)
    write_config(out, command, **record, num_points=points, arch=info.architecture)
    return result, f"{info.source} ({info.architecture}) on {data} ({split}, {points} points)"
