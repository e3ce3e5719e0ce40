"""What every parameterization shares: a :class:`Chart` (the tensor the optimiser moves and
the differentiable map from it to the clouds) and the :class:`Parameterization` that makes
one per chunk of starts. The base chart is the coordinates themselves (``points``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


class Chart:
    """One chunk's parameters (``param``, a leaf tensor) and their clouds: coordinates."""

    def __init__(self, param: Tensor) -> None:
        self.param = param.detach().clone().requires_grad_(True)

    def cloud(self) -> Tensor:
        """``(B, N, 3)`` the clouds the parameters stand for (graph attached)."""
        return self.param

    def held(self, step: int, steps: int) -> Tensor | None:
        """A boolean mask, broadcastable to ``param``, of the entries the update of
        ``step`` (of ``steps``) leaves where they are (a coarse-to-fine schedule); None:
        every entry moves."""
        return None

    @torch.no_grad()
    def set(self, clouds: Tensor) -> None:
        """Make the parameters stand for ``clouds`` (after a step transform)."""
        self.param.copy_(clouds)


class Parameterization:
    """Base class: :meth:`chart` makes the chart of a chunk of ``(B, N, 3)`` starts."""

    transformable = True  # whether step transforms can act on its clouds

    def chart(self, start: Tensor, seeds: Sequence[int] | None = None) -> Chart:
        """The chart of ``start``; ``seeds`` (one per cloud) seed what a chart draws."""
        return Chart(start)
