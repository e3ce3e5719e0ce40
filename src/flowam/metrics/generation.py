"""How explanations compare with real objects as a *set*: 1-NNA, coverage and MMD.

The measures of point cloud generators, applied to explanations, all by symmetric Chamfer
distance:

- **1-NNA** (two-sample 1-nearest-neighbour accuracy; Lopez-Paz & Oquab 2017, used for
  point clouds by PointFlow, Yang et al. 2019): explanations and as many real objects are
  pooled, and each cloud is classified leave-one-out by its nearest neighbour in the pool
  (an explanation counts as right when its nearest neighbour is an explanation, a real
  object when its nearest is real). 50 % = explanations cannot be told from real objects;
  100 % = always told apart (explanations nearer each other than to any real object).
  Ties of distance go to the real side.
- **Coverage** (COV; Achlioptas et al. 2018): the share of the real objects that are the
  nearest real object of at least one explanation. Explanations collapsed onto one shape
  cover few.
- **MMD** (minimum matching distance, MMD-CD; Achlioptas et al. 2018): the mean, over the
  real objects, of the distance to the nearest explanation. Low when every real object
  has an explanation close to it.

:func:`set_scores` applies them per class when classes hold several explanations
(restarts), each class against as many real objects of the class as it has explanations
(:func:`~flowam.metrics.chamfer.reference_indices`' draw), and over all classes pooled
when a class holds one explanation (each against one real object of its class).

Pooled over classes, 50 % is not the mark of real-looking explanations: with one cloud of
each class on each side, a cloud's nearest neighbour is its class partner on the other
side when both look like the class, so real objects scored as explanations reach nearly
0 %, and an explanation unlike every real object pushes towards 100 %. Compare a pooled
1-NNA with that of real objects drawn the same way (``flowam experiment faithful``'s
``real objects`` row), not with 50 %.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

import numpy as np
import torch
from torch import Tensor

from flowam.data import PointCloudDataset
from flowam.metrics.chamfer import pairwise_chamfer, reference_indices


@dataclass(frozen=True)
class SetScores:
    """1-NNA, coverage and MMD of one set of explanations against one of real objects."""

    one_nna: float
    coverage: float
    mmd: float


def _distances(
    x: np.ndarray | Tensor, y: np.ndarray | Tensor, device: str | None, turns: int = 1
) -> Tensor:
    x = torch.as_tensor(x, dtype=torch.float32)
    return pairwise_chamfer(x.to(device) if device else x, y, turns=turns).double().cpu()


def one_nn_accuracy(between: Tensor, within_x: Tensor, within_y: Tensor) -> float:
    """Two-sample leave-one-out 1-NN accuracy from the distance matrices.

    Args:
        between: ``(A, R)`` distances from each cloud of the first set to each of the
            second.
        within_x: ``(A, A)`` distances within the first set.
        within_y: ``(R, R)`` distances within the second set.

    Returns:
        the share of the ``A + R`` clouds whose nearest other cloud is from their own set
        (ties count as the second set's); NaN when either set has fewer than one cloud or
        the pool fewer than two.
    """
    a, r = between.shape
    if a < 1 or r < 1:
        return float("nan")
    inf = torch.tensor(float("inf"), dtype=between.dtype)
    own_x = within_x.clone().fill_diagonal_(inf).amin(dim=1) if a > 1 else inf.expand(1)
    own_y = within_y.clone().fill_diagonal_(inf).amin(dim=1) if r > 1 else inf.expand(1)
    right_x = own_x < between.amin(dim=1)  # an explanation's nearest is an explanation
    right_y = own_y <= between.amin(dim=0)  # a real object's nearest is real
    return float((right_x.sum() + right_y.sum()) / (a + r))


def coverage_and_mmd(between: Tensor) -> tuple[float, float]:
    """COV and MMD from the ``(A, R)`` distances of explanations to real objects."""
    matched = np.unique(between.argmin(dim=1).numpy())
    return len(matched) / between.shape[1], float(between.amin(dim=0).mean())


def compare_sets(
    explanations: np.ndarray | Tensor,
    real: np.ndarray | Tensor,
    device: str | None = None,
    turns: int = 1,
) -> SetScores:
    """1-NNA, COV and MMD of ``(A, N, 3)`` explanations against ``(R, M, 3)`` real
    objects (distances on ``device``, default the explanations' own; every distance,
    those within each set too, the best of ``turns`` turns about the up axis)."""
    between = _distances(explanations, real, device, turns)
    nna = one_nn_accuracy(
        between,
        _distances(explanations, explanations, device, turns),
        _distances(real, real, device, turns),
    )
    cov, mmd = coverage_and_mmd(between)
    return SetScores(one_nna=nna, coverage=cov, mmd=mmd)


def set_scores(
    points: np.ndarray | Tensor,
    targets: np.ndarray,
    real: PointCloudDataset,
    seed: int = 0,
    device: str | None = None,
    turns: int = 1,
) -> SetScores:
    """1-NNA, COV and MMD of explanations against real objects of their classes.

    Args:
        points: ``(B, N, 3)`` explanations.
        targets: ``(B,)`` their classes.
        real: real objects (test split), labels in the same class order.
        seed: the draw of the real objects.
        turns: distances the best of this many turns about the up axis (1: none).

    Returns:
        when every class holds one explanation: the three scores over all classes pooled
        (every explanation against one real object of its class); otherwise their means
        over the classes with at least two explanations, each class against as many real
        objects of the class.
    """
    points = np.asarray(points, dtype=np.float32)
    targets = np.asarray(targets)
    classes, counts = np.unique(targets, return_counts=True)
    if counts.max() == 1:
        chosen = reference_indices(real.labels, classes, 1, seed)
        index = np.concatenate([chosen[int(c)] for c in classes])
        return compare_sets(points, real.points[index], device, turns)
    per_class = []
    for c, n in zip(classes, counts, strict=True):
        if n < 2:
            continue
        index = reference_indices(real.labels, [c], int(n), seed)[int(c)]
        per_class.append(compare_sets(points[targets == c], real.points[index], device, turns))
    return SetScores(*(float(m) for m in np.mean([astuple(s) for s in per_class], axis=0)))
