"""How faithful and how recognisable explanations are.

- Representativity (Sec. IV-B): the target's logit and log-softmax, the predicted class
  and the success rate (explanations classified as their target).
- Point-wise perceptibility: the Chamfer distance of Eq. 7 from an explanation to real
  objects of its class, averaged over ``k`` real objects (the paper uses five), and the
  same both ways (explanation to real plus real to explanation), which also penalises
  points that collapse into clumps.
- Legality: whether every coordinate lies in ``[-C, C]`` (ModelNet40's legal interval).

Functions take ``(B, N, 3)`` arrays or tensors and return one value per cloud.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowam.data import PointCloudDataset
from flowam.train import predict


def chamfer_distance(
    x: np.ndarray | Tensor,
    y: np.ndarray | Tensor,
    single_directional: bool = True,
    squared: bool = False,
) -> Tensor:
    """Chamfer distance between clouds, pair by pair.

    Args:
        x: ``(B, N, 3)``, e.g. explanations.
        y: ``(B, M, 3)``, e.g. real objects.
        single_directional: only ``x → y`` (Eq. 7: the mean, over the points of ``x``, of
            the distance to the nearest point of ``y``); False adds ``y → x``.
        squared: use squared distances (a common variant) instead of Eq. 7's distances.

    Returns:
        ``(B,)`` float tensor.
    """
    x = torch.as_tensor(x, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.float32)
    if x.ndim != 3 or y.ndim != 3 or x.shape[0] != y.shape[0] or x.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"chamfer_distance: expected (B, N, D) and (B, M, D), got "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )
    d = torch.cdist(x, y)
    if squared:
        d = d**2
    forward = d.min(dim=2).values.mean(dim=1)
    if single_directional:
        return forward
    return forward + d.min(dim=1).values.mean(dim=1)


def chamfer_to_real(
    points: np.ndarray,
    targets: np.ndarray,
    real: PointCloudDataset,
    k: int = 5,
    seed: int = 0,
    single_directional: bool = True,
) -> np.ndarray:
    """Eq. 7 from each explanation to ``k`` randomly chosen real objects of its class, averaged.

    The ``k`` objects of a class are drawn once per class from ``[seed, class]``, so
    every method is measured against the same objects. Eq. 7 only asks whether the
    explanation's points lie near the real surface, so points collapsed into a few clumps
    on it score well; ``single_directional=False`` adds the real-to-explanation term,
    which also asks whether the explanation covers the real surface.
    """
    out = np.empty(len(points))
    for c in np.unique(targets):
        pool = np.flatnonzero(real.labels == c)
        chosen = np.random.default_rng([seed, int(c)]).choice(
            pool, size=min(k, len(pool)), replace=False
        )
        refs = torch.from_numpy(real.points[chosen])
        for i in np.flatnonzero(targets == c):
            x = torch.as_tensor(points[i], dtype=torch.float32)[None].expand(len(refs), -1, -1)
            out[i] = float(chamfer_distance(x, refs, single_directional).mean())
    return out


def legal(points: np.ndarray | Tensor, bound: float = 1.0) -> np.ndarray:
    """``(B,)`` True where every coordinate of the cloud lies in ``[-bound, bound]``."""
    p = np.asarray(points)
    return np.abs(p).max(axis=(1, 2)) <= bound


@dataclass
class Scores:
    """Per-explanation scores (arrays of length ``B``)."""

    logit: np.ndarray
    log_prob: np.ndarray
    predicted: np.ndarray
    success: np.ndarray
    chamfer: np.ndarray
    chamfer_both: np.ndarray
    legal: np.ndarray

    def row(self, i: int, classes: list[str]) -> dict:
        """Scores of explanation ``i`` as plain JSON-ready values."""
        return {
            "target_logit": float(self.logit[i]),
            "log_softmax": float(self.log_prob[i]),
            "predicted": classes[int(self.predicted[i])],
            "success": bool(self.success[i]),
            "chamfer_to_real": float(self.chamfer[i]),
            "chamfer_both_ways": float(self.chamfer_both[i]),
            "legal": bool(self.legal[i]),
        }

    def summary(self) -> dict[str, float]:
        """Means over explanations (rates for success and legality)."""
        return {
            "target_logit": float(self.logit.mean()),
            "log_softmax": float(self.log_prob.mean()),
            "chamfer_to_real": float(self.chamfer.mean()),
            "chamfer_both_ways": float(self.chamfer_both.mean()),
            "legal_rate": float(self.legal.mean()),
            "success_rate": float(self.success.mean()),
        }


def score(
    model: nn.Module,
    points: np.ndarray,
    targets: np.ndarray,
    real: PointCloudDataset,
    bound: float = 1.0,
    k: int = 5,
    seed: int = 0,
) -> Scores:
    """Every score of a set of explanations (or of any clouds with intended classes)."""
    device = next(model.parameters()).device
    logits = predict(model, np.asarray(points, dtype=np.float32), device=device)
    t = torch.as_tensor(targets, dtype=torch.long)
    log_prob = F.log_softmax(logits, dim=1).gather(1, t[:, None])[:, 0]
    predicted = logits.argmax(dim=1).numpy()
    return Scores(
        logit=logits.gather(1, t[:, None])[:, 0].numpy(),
        log_prob=log_prob.numpy(),
        predicted=predicted,
        success=predicted == np.asarray(targets),
        chamfer=chamfer_to_real(points, np.asarray(targets), real, k, seed),
        chamfer_both=chamfer_to_real(points, np.asarray(targets), real, k, seed, False),
        legal=legal(points, bound),
    )
