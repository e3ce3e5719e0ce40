"""Earth mover's distance between point clouds of equal size.

With ``N`` points on each side and mass ``1/N`` per point, the optimal transport plan is
a permutation (Birkhoff's theorem), so the exact EMD is the mean distance of the optimal
one-to-one matching. ``method="exact"`` solves it with POT's network simplex
(``ot.emd2``); ``method="sinkhorn"`` is the entropy-regularised approximation, batched in
log space on the clouds' device (fast on a GPU, and differentiable), which approaches
the exact value from above as ``epsilon`` shrinks.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def _check(x: Tensor, y: Tensor) -> None:
    if x.ndim != 3 or x.shape != y.shape:
        raise ValueError(
            "earth_movers_distance: expected two (B, N, D) batches of the same shape, got "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )


def earth_movers_distance(
    x: np.ndarray | Tensor,
    y: np.ndarray | Tensor,
    method: str = "exact",
    epsilon: float = 0.01,
    iterations: int = 200,
) -> Tensor:
    """Mean distance of the optimal matching between ``x[b]`` and ``y[b]``.

    Args:
        x, y: ``(B, N, 3)`` clouds (equal sizes).
        method: ``"exact"`` (POT's ``ot.emd2``, on the CPU) or ``"sinkhorn"``.
        epsilon: entropic regularisation of Sinkhorn, relative to the mean pairwise
            distance of each pair.
        iterations: Sinkhorn iterations.

    Returns:
        ``(B,)`` float tensor (float64 for ``exact``; ``x``'s device for ``sinkhorn``).
    """
    x = torch.as_tensor(x, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.float32).to(x.device)
    _check(x, y)
    if method == "exact":
        return _exact(x, y)
    if method == "sinkhorn":
        return _sinkhorn(x, y, epsilon, iterations)
    raise ValueError(f"earth_movers_distance: unknown method {method!r}; use exact or sinkhorn")


def _exact(x: Tensor, y: Tensor) -> Tensor:
    import ot  # POT; imported here so that the rest of flowam loads without it

    n = x.shape[1]
    weights = np.full(n, 1.0 / n)
    cost = torch.cdist(x.double(), y.double()).cpu().numpy()
    return torch.tensor(
        [ot.emd2(weights, weights, c, numItermax=1_000_000) for c in cost], dtype=torch.float64
    )


def _sinkhorn(x: Tensor, y: Tensor, epsilon: float, iterations: int) -> Tensor:
    cost = torch.cdist(x, y)  # (B, N, N)
    n = cost.shape[1]
    eps = epsilon * cost.mean(dim=(1, 2), keepdim=True)
    log_a = torch.full((1, n, 1), -np.log(n), device=x.device)
    f = torch.zeros_like(cost[:, :, :1])
    g = torch.zeros_like(cost[:, :1, :])
    for _ in range(iterations):
        f = -eps * torch.logsumexp((g - cost) / eps + log_a.transpose(1, 2), dim=2, keepdim=True)
        g = -eps * torch.logsumexp((f - cost) / eps + log_a, dim=1, keepdim=True)
    plan = torch.exp((f + g - cost) / eps + log_a + log_a.transpose(1, 2))
    return (plan * cost).sum(dim=(1, 2))
