"""Every score of a set of explanations, with the real objects they are measured against.

Per explanation: the target's logit and log-softmax, the predicted class and success
(representativity, Sec. IV-B); the Chamfer distance of Eq. 7 to real objects of the
class and the same both ways (point-wise perceptibility); the 1-NN recognition (which
class's real object it is nearest to); how far it moved from its starting cloud
(symmetric Chamfer); legality (every coordinate in ``[-C, C]``). Over the set: FID on
the classifier's global feature and on ``fc2`` (latent perceptibility), m-IS, the
diversity of restarts, 1-NNA, coverage and MMD against real objects
(:mod:`~flowam.metrics.generation`) and, given other classifiers of the same classes
(``judges``), the share of explanations each of them classifies as the target
(cross-architecture recognition: a shape both models read, not a feature one model
alone exploits).

:class:`Evaluator` keeps what does not change between runs (the 1-NN gallery, the real
objects' features), so scoring many runs of one model costs little more than one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowam import stopping
from flowam.data import PointCloudDataset, preview
from flowam.errors import FlowamError
from flowam.metrics.chamfer import chamfer_distance, chamfer_to_real
from flowam.metrics.frechet import feature_layers, frechet_distance
from flowam.metrics.generation import set_scores
from flowam.metrics.recognition import ReferenceSet, diversity, inception_score
from flowam.models.accuracy import predict
from flowam.stats import record


def legal(points: np.ndarray | Tensor, bound: float = 1.0) -> np.ndarray:
    """``(B,)`` True where every coordinate of the cloud lies in ``[-bound, bound]``."""
    p = np.asarray(points)
    return np.abs(p).max(axis=(1, 2)) <= bound


@dataclass
class Scores:
    """Per-explanation scores (arrays of length ``B``) and set-level ones (floats)."""

    targets: np.ndarray
    logit: np.ndarray
    log_prob: np.ndarray
    predicted: np.ndarray
    success: np.ndarray
    chamfer: np.ndarray
    chamfer_both: np.ndarray
    legal: np.ndarray
    taken_for: np.ndarray
    moved: np.ndarray
    facing: np.ndarray
    sets: dict[str, float] = field(default_factory=dict)

    @property
    def recognised(self) -> np.ndarray:
        """``(B,)`` True where the 1-NN recognition found the intended class."""
        return self.taken_for == self.targets

    def row(self, i: int, classes: list[str]) -> dict:
        """Scores of explanation ``i`` as plain JSON-ready values."""
        return {
            "target_logit": float(self.logit[i]),
            "log_softmax": float(self.log_prob[i]),
            "predicted": classes[int(self.predicted[i])],
            "success": bool(self.success[i]),
            "chamfer_to_real": float(self.chamfer[i]),
            "chamfer_both_ways": float(self.chamfer_both[i]),
            "recognised": bool(self.recognised[i]),
            "taken_for": classes[int(self.taken_for[i])],
            "facing_degrees": float(self.facing[i]),
            "moved_from_start": float(self.moved[i]),
            "legal": bool(self.legal[i]),
        }

    def summary(self) -> dict[str, float]:
        """Means over explanations (rates for success, recognition and legality), and the
        set-level scores."""
        return {
            "target_logit": float(self.logit.mean()),
            "log_softmax": float(self.log_prob.mean()),
            "chamfer_to_real": float(self.chamfer.mean()),
            "chamfer_both_ways": float(self.chamfer_both.mean()),
            "recognised_rate": float(self.recognised.mean()),
            "moved_from_start": _nanmean(self.moved),
            "legal_rate": float(self.legal.mean()),
            "success_rate": float(self.success.mean()),
            **self.sets,
        }


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else math.nan


class Evaluator:
    """Scores explanations of one classifier against one set of real objects.

    Args:
        model: the classifier (its logits, features and m-IS).
        real: real objects (test split), labels in the model's class order.
        k_chamfer: real objects per class for Eq. 7 (the paper uses five).
        k_recognition: real objects per class in the 1-NN gallery.
        seed: seed of both draws.
        inception_classifier: the classifier m-IS is computed with (default ``model``);
            not one of ``judges``, which read the explanations as another architecture.
        layers: FID layers ``{"global": ..., "fc2": ...}`` (default
            :func:`~flowam.metrics.frechet.feature_layers`; ``{}`` turns FID off).
        judges: other classifiers of the same classes, in the same logit order, by name;
            each adds ``recognised_by_<name>``, the share of explanations it classifies
            as the target.
        turns: every score against real objects (Chamfer, 1-NN, 1-NNA, COV, MMD) takes
            the best of this many turns of the explanation about the up axis, 360° /
            ``turns`` apart (for models trained with turns, which cannot prefer a
            facing); 1: the explanations as they are. ``Scores.facing`` then says how
            far to turn each explanation to face its nearest real object.
    """

    def __init__(
        self,
        model: nn.Module,
        real: PointCloudDataset,
        *,
        k_chamfer: int = 5,
        k_recognition: int = 20,
        seed: int = 0,
        inception_classifier: nn.Module | None = None,
        layers: dict[str, str] | None = None,
        judges: dict[str, nn.Module] | None = None,
        turns: int = 1,
    ) -> None:
        if turns < 1:
            raise FlowamError(f"turns={turns} must be at least 1")
        self.model, self.real = model, real
        self.inception_classifier = inception_classifier or model
        self.judges = dict(judges or {})
        self.k_chamfer, self.seed, self.turns = k_chamfer, seed, turns
        self.references = ReferenceSet(real, k_recognition, seed, turns)
        if layers is None:
            try:
                layers = feature_layers(model)
            except FlowamError:
                layers = {}
        self.layers = layers
        self._real_features: dict[int, dict[str, np.ndarray]] = {}

    @property
    def device(self) -> torch.device:
        """Where the model is, and where the 1-NN distances are computed."""
        return next(self.model.parameters()).device

    def features(self, points: np.ndarray) -> dict[str, np.ndarray]:
        """``{name: (B, D)}`` features of clouds at :attr:`layers`."""
        acts = record(self.model, points, list(self.layers.values()))
        return {name: acts[layer].numpy() for name, layer in self.layers.items()}

    def real_features(self, c: int) -> dict[str, np.ndarray]:
        """Features of every real object of class ``c`` (computed once)."""
        if c not in self._real_features:
            rows = np.flatnonzero(self.real.labels == c)
            self._real_features[c] = self.features(self.real.points[rows])
        return self._real_features[c]

    def fid(self, points: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        """FID of the explanations against real objects of their classes.

        ``fid`` and ``fid_fc2``: all explanations against the real objects of every
        explained class (one Gaussian each side); ``fid_class``: the mean over classes of
        the FID of a class's explanations against that class's real objects.
        """
        if not self.layers:
            return {}
        mine = self.features(points)
        classes = np.unique(targets)
        real = {n: np.concatenate([self.real_features(c)[n] for c in classes]) for n in mine}
        out = {
            "fid" if name == "global" else f"fid_{name}": frechet_distance(mine[name], real[name])
            for name in mine
        }
        out["fid_class"] = float(
            np.mean(
                [
                    frechet_distance(mine["global"][targets == c], self.real_features(c)["global"])
                    for c in classes
                ]
            )
        )
        return out

    def check_covered(self, targets: np.ndarray) -> None:
        """A one-line error where a target class has no real objects to score against
        (data of fewer classes than the model's: :func:`flowam.data.load_for_model`)."""
        covered = self.real.covered
        names = [self.real.classes[t] for t in np.unique(targets)]
        missing = [c for c in names if c not in covered]
        if missing:
            where = self.real.description.get("root", self.real.description.get("format"))
            raise FlowamError(
                f"class {missing[0]!r} has no real objects in {where} ({self.real.split} "
                f"split) to score against; those with objects: {preview(covered)}"
            )

    def score(
        self,
        points: np.ndarray,
        targets: np.ndarray,
        start: np.ndarray | None = None,
        bound: float = 1.0,
    ) -> Scores:
        """Every score of ``(B, N, 3)`` clouds meant as ``targets``.

        Args:
            start: ``(B, N, 3)`` the clouds they started from (for ``moved``).
            bound: legality bound ``C``.
        """
        points = np.asarray(points, dtype=np.float32)
        targets = np.asarray(targets, dtype=np.int64)
        self.check_covered(targets)
        logits = predict(self.model, points)
        t = torch.as_tensor(targets)
        by = self.inception_classifier
        for_is = logits if by is self.model else predict(by, points)
        moved = (
            chamfer_distance(points, start, single_directional=False).double().numpy()
            if start is not None
            else np.full(len(points), math.nan)
        )
        predicted = logits.argmax(dim=1).numpy()
        to_real = dict(real=self.real, k=self.k_chamfer, seed=self.seed, turns=self.turns)
        # the slow parts, each after a check: a stop (flowam.stopping) need not wait for all
        parts: dict[str, Callable[[], Any]] = {
            "near": lambda: self.references.recognise(points, targets, self.device),
            "chamfer": lambda: chamfer_to_real(points, targets, **to_real),
            "chamfer_both": lambda: chamfer_to_real(
                points, targets, single_directional=False, **to_real
            ),
            "fid": lambda: self.fid(points, targets),
            "set": lambda: asdict(
                set_scores(points, targets, self.real, self.seed, self.device, self.turns)
            ),
            "cross": lambda: self.cross_recognition(points, targets),
        }
        done = {}
        for name, part in parts.items():
            stopping.check()
            done[name] = part()
        return Scores(
            targets=targets,
            logit=logits.gather(1, t[:, None])[:, 0].numpy(),
            log_prob=F.log_softmax(logits, dim=1).gather(1, t[:, None])[:, 0].numpy(),
            predicted=predicted,
            success=predicted == targets,
            chamfer=done["chamfer"],
            chamfer_both=done["chamfer_both"],
            legal=legal(points, bound),
            taken_for=done["near"].taken_for,
            moved=moved,
            facing=done["near"].facing,
            sets={
                **done["fid"],
                "m_is": inception_score(for_is),
                "diversity": diversity(points, targets),
                **done["set"],
                **done["cross"],
            },
        )

    def cross_recognition(self, points: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        """``{"recognised_by_<name>": share}``: the explanations each of :attr:`judges`
        classifies as their target."""
        return {
            f"recognised_by_{name}": float(
                (predict(judge, points).argmax(dim=1).numpy() == targets).mean()
            )
            for name, judge in self.judges.items()
        }


def score(
    model: nn.Module,
    points: np.ndarray,
    targets: np.ndarray,
    real: PointCloudDataset,
    bound: float = 1.0,
    k: int = 5,
    seed: int = 0,
    start: np.ndarray | None = None,
) -> Scores:
    """Every score of a set of explanations (or of any clouds with intended classes).

    A one-off :class:`Evaluator`; keep one when scoring several runs of a model.
    """
    return Evaluator(model, real, k_chamfer=k, seed=seed).score(points, targets, start, bound)
