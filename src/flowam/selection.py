"""Restarts chosen by the model alone: the most stable of several runs.

Gradient ascent from one start reaches different optima run to run (the surface draws
and the transformed copies differ with each cloud's seed). With ``select_from = R`` every
explanation is the best of ``R`` runs by a criterion that reads the model and nothing
else — no real objects, no class statistics — so the choice cannot smuggle a class's
shape in (a damaged model chooses among its own runs by its own logits):

    stability(x) = mean_m a_c(T_m x) - std_m a_c(T_m x)

the target logit over ``M`` random transformations ``T_m`` of the cloud (the method's own
transformation robustness, or the default one, drawn afresh after the last step), its
mean less its spread: a cloud whose logit holds under small changes of viewpoint,
scale and sampling beats one that peaks on a single pose.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from flowam.robustness import Robustness

CHECKS = 8
"""Transformations ``M`` each candidate is scored under."""


@torch.no_grad()
def stability(
    model: nn.Module,
    points: np.ndarray,
    targets: Sequence[int],
    seeds: Sequence[int],
    robustness: Robustness | None,
    step: int,
    chunk: int = 8,
) -> np.ndarray:
    """``(B,)`` each cloud's stability (see the module docstring).

    Args:
        model: the classifier (eval mode).
        points: ``(B, N, 3)`` clouds.
        targets: ``B`` target classes.
        seeds: ``B`` cloud seeds (the transformations are drawn from them at ``step``).
        robustness: the method's transformations (their copies are replaced by
            :data:`CHECKS`), or None for the default ones.
        step: the step whose draws are used (past the run's last, so they are fresh).
        chunk: clouds per forward pass.
    """
    checks = dataclasses.replace(robustness or Robustness(), copies=CHECKS)
    device = next(model.parameters()).device
    out = []
    for lo in range(0, len(points), chunk):
        clouds = torch.as_tensor(points[lo : lo + chunk], dtype=torch.float32, device=device)
        rows = checks(clouds, step, list(seeds[lo : lo + chunk]))
        with checks.sampling_context(len(clouds)):
            logits = model(rows)
        own = torch.as_tensor(list(targets[lo : lo + chunk]), device=device)
        picked = logits.gather(1, own.repeat_interleave(checks.group)[:, None])
        copies = picked.view(len(clouds), checks.group)[:, 1:]
        out.append((copies.mean(1) - copies.std(1)).cpu())
    return torch.cat(out).numpy()


def best_of(scores: np.ndarray, runs: int) -> np.ndarray:
    """Indices of the best of every ``runs`` consecutive candidates (``scores`` ``(B·runs,)``,
    the candidates of one explanation adjacent), ``(B,)``; the first where they tie."""
    return np.arange(0, len(scores), runs) + scores.reshape(-1, runs).argmax(1)
