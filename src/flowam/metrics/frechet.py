"""The Fréchet distance between feature distributions, and FID on a classifier's features.

For Gaussians fitted to two samples of features (means ``μ_a, μ_b``, covariances
``Σ_a, Σ_b``)::

    d² = ‖μ_a − μ_b‖² + tr Σ_a + tr Σ_b − 2 tr (Σ_a^½ Σ_b Σ_a^½)^½

The last term is the usual ``tr (Σ_a Σ_b)^½`` written with symmetric matrices: ``Σ_a Σ_b``
is similar to the positive semi-definite ``Σ_a^½ Σ_b Σ_a^½``, so their square roots have
the same trace. flowam evaluates it with two symmetric eigendecompositions (negative
eigenvalues from rounding clipped to zero) in float64. That formula is exact for
rank-deficient covariances too, so it needs no regularising ε when there are fewer
samples than feature dimensions (the usual case here: tens of explanations against a
1,024-d feature): each covariance is then the sample's own (rank ≤ n − 1), and a single
sample has covariance zero (the distance becomes ‖μ_a − x‖² + tr Σ_b). With ``n``
samples in ``d > n`` dimensions the same eigenvalues come from an ``n × n`` matrix (see
the code), so FID of tens of explanations costs no ``d × d`` decomposition. ``shrinkage``
optionally pulls each covariance towards its mean variance,
``(1 − λ) Σ + λ (tr Σ / d) I``, for users who prefer a well-conditioned estimate; the
default 0 reports the plain sample covariance. Covariances use ``n − 1`` (unbiased),
and ``n = 1`` gives zero.

FID here is that distance on a layer of the classifier being explained, not on an
Inception network: by default the global max-pooled feature (the input of the first
fully connected layer of the head: ``fc1:input`` in PointNet and PointNet++,
``linear1:input`` in DGCNN) as in the paper, and also the output of the head's
second-to-last fully connected layer (``fc2``, ``linear2``).
"""

from __future__ import annotations

import numpy as np
from torch import Tensor, nn

from flowam.errors import FlowamError


def _covariance(centered: np.ndarray, shrinkage: float) -> np.ndarray:
    n, d = centered.shape
    cov = centered.T @ centered / (n - 1) if n > 1 else np.zeros((d, d))
    if shrinkage:
        cov = (1 - shrinkage) * cov + shrinkage * np.trace(cov) / d * np.eye(d)
    return cov


def _psd_sqrt(m: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(m)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def _root_trace(m: np.ndarray) -> float:
    """``tr m^½`` of a symmetric positive semi-definite matrix (up to rounding)."""
    return float(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum())


def frechet_distance(
    features_a: np.ndarray | Tensor, features_b: np.ndarray | Tensor, shrinkage: float = 0.0
) -> float:
    """The Fréchet distance between Gaussians fitted to two feature samples.

    Args:
        features_a: ``(n_a, d)`` features (e.g. of explanations).
        features_b: ``(n_b, d)`` features (e.g. of real objects).
        shrinkage: λ in ``[0, 1]`` (see the module docstring; default none).

    Returns:
        The squared distance ``d²`` (as FID reports it), ≥ 0; NaN where a feature is not
        finite.
    """
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or not len(a) or not len(b):
        raise ValueError(
            f"frechet_distance: expected (n_a, d) and (n_b, d) features, got "
            f"{a.shape} and {b.shape}"
        )
    if not 0 <= shrinkage <= 1:
        raise ValueError(f"frechet_distance: shrinkage={shrinkage} must be in [0, 1]")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("nan")  # e.g. the features of clouds that noise drove off to infinity
    if len(b) < len(a):  # the formula is symmetric; factor the smaller sample
        a, b = b, a
    a_c, b_c = a - a.mean(0), b - b.mean(0)
    cov_a, cov_b = _covariance(a_c, shrinkage), _covariance(b_c, shrinkage)
    n, d = a.shape
    if not shrinkage and n <= d:
        # Σ_a = AᵀA/(n−1) with A the centred sample, so Σ_a^½ Σ_b Σ_a^½ has the non-zero
        # eigenvalues of the n × n matrix A Σ_b Aᵀ/(n−1): same trace of the root, cheaper
        cross = _root_trace(a_c @ cov_b @ a_c.T / max(n - 1, 1))
    else:
        root_a = _psd_sqrt(cov_a)
        cross = _root_trace(root_a @ cov_b @ root_a)
    mean = np.sum((a.mean(0) - b.mean(0)) ** 2)
    return float(max(mean + np.trace(cov_a) + np.trace(cov_b) - 2 * cross, 0.0))


def feature_layers(model: nn.Module) -> dict[str, str]:
    """The layers FID reads: ``{"global": ..., "fc2": ...}``.

    ``global`` is the input of the first fully connected child of the model (the
    max-pooled global feature in PointNet, PointNet++ and DGCNN); ``fc2`` is the output
    of the second-to-last fully connected child. A model whose head is not a sequence of
    ``nn.Linear`` children names its layers with ``feature_layers={...}`` instead.
    """
    linear = [name for name, m in model.named_children() if isinstance(m, nn.Linear)]
    if len(linear) < 2:
        raise FlowamError(
            f"{type(model).__name__}: cannot tell its global feature (FID needs at least two "
            "fully connected child layers); name the layers to read"
        )
    return {"global": f"{linear[0]}:input", "fc2": linear[-2]}
