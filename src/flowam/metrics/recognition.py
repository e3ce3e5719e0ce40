"""Whether explanations look like their class: 1-NN recognition, m-IS and diversity.

- **Recognisability**: a 1-nearest-neighbour classifier by symmetric Chamfer distance
  against ``k`` real test objects of every class (drawn with
  :func:`~flowam.metrics.chamfer.reference_indices`, so the same for every method). It
  asks a question no classifier's logits can answer: does the explanation's *shape*
  resemble real objects of its class more than those of any other class? It does not
  consult the model, so it can be asked of a damaged model's explanations too.
- **m-IS**, the point cloud variant of the Inception score (Shu et al., 2019): ``exp``
  of the mean KL divergence between each cloud's class distribution ``p(y|x)`` under a
  classifier and their marginal ``p(y)``. High when each cloud is confidently one class
  and the classes vary; at most the number of classes.
- **Diversity**: mean pairwise symmetric Chamfer distance between the explanations
  (restarts) of one class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from flowam.data import PointCloudDataset
from flowam.metrics.chamfer import pairwise_chamfer, reference_indices, turned_chamfer


@dataclass
class Recognition:
    """1-NN recognition of a set of clouds.

    Attributes:
        taken_for: ``(B,)`` class of each cloud's nearest real object.
        distance: ``(B,)`` symmetric Chamfer distance to it.
        targets: ``(B,)`` intended classes.
        num_classes: classes of the reference set.
        facing: ``(B,)`` degrees about the up axis by which each cloud, turned, is
            nearest that object (0 unless the gallery allows turns).
    """

    taken_for: np.ndarray
    distance: np.ndarray
    targets: np.ndarray
    num_classes: int
    facing: np.ndarray

    @property
    def recognised(self) -> np.ndarray:
        """``(B,)`` True where the nearest real object is of the intended class."""
        return self.taken_for == self.targets

    @property
    def rate(self) -> float:
        """Fraction of clouds recognised as their class."""
        return float(self.recognised.mean()) if len(self.targets) else float("nan")

    @property
    def confusion(self) -> np.ndarray:
        """``(C, C)`` counts: rows intended classes, columns the classes taken for."""
        out = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        np.add.at(out, (self.targets, self.taken_for), 1)
        return out


class ReferenceSet:
    """``k`` real objects of every class, the gallery of the 1-NN recognition.

    Args:
        real: real objects (test split), labels in the model's class order.
        k: objects per class (all of a class when it has fewer).
        seed: the draw's seed.
        turns: each distance the best of this many turns of the cloud about the up
            axis (:func:`~flowam.metrics.chamfer.turned_chamfer`); 1: as it is.
    """

    def __init__(self, real: PointCloudDataset, k: int = 20, seed: int = 0, turns: int = 1) -> None:
        chosen = reference_indices(real.labels, np.unique(real.labels), k, seed)
        index = np.concatenate(list(chosen.values()))
        self.index = index  # rows of ``real`` in the gallery
        self.points = torch.from_numpy(np.asarray(real.points[index], dtype=np.float32))
        self.labels = np.asarray(real.labels)[index]
        self.num_classes = len(real.classes)
        self.k, self.seed, self.turns = k, seed, turns

    def recognise(
        self, points: np.ndarray | Tensor, targets: np.ndarray, device: str | None = None
    ) -> Recognition:
        """The nearest real object of each ``(B, N, 3)`` cloud, by symmetric Chamfer
        (computed on ``device``, default the points' own; allowing :attr:`turns`)."""
        points = torch.as_tensor(points, dtype=torch.float32)
        d, turn = turned_chamfer(points.to(device) if device else points, self.points, self.turns)
        d, turn = d.cpu(), turn.cpu()
        nearest = d.argmin(dim=1)
        return Recognition(
            taken_for=self.labels[nearest.numpy()],
            distance=d.min(dim=1).values.double().numpy(),
            targets=np.asarray(targets),
            num_classes=self.num_classes,
            facing=turn.gather(1, nearest[:, None])[:, 0].numpy() * (360.0 / self.turns),
        )


def inception_score(logits: np.ndarray | Tensor) -> float:
    """m-IS of clouds from a classifier's ``(B, C)`` logits: ``exp E_x KL(p(y|x) ‖ p(y))``."""
    log_p = F.log_softmax(torch.as_tensor(logits, dtype=torch.float64), dim=1)
    log_marginal = torch.logsumexp(log_p, dim=0) - np.log(len(log_p))
    kl = (log_p.exp() * (log_p - log_marginal)).sum(dim=1)
    return float(kl.mean().exp())


def diversity(points: np.ndarray | Tensor, targets: np.ndarray) -> float:
    """Mean pairwise symmetric Chamfer distance between clouds of the same target.

    Averaged over the pairs of each class, then over classes with at least two clouds;
    NaN when no class has two.
    """
    targets = np.asarray(targets)
    per_class = []
    for c in np.unique(targets):
        rows = np.flatnonzero(targets == c)
        if len(rows) < 2:
            continue
        d = pairwise_chamfer(np.asarray(points)[rows], np.asarray(points)[rows])
        upper = torch.triu_indices(len(rows), len(rows), offset=1)
        per_class.append(float(d[upper[0], upper[1]].mean()))
    return float(np.mean(per_class)) if per_class else float("nan")
