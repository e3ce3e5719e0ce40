"""What every parameterization shares: a :class:`Chart` (the tensor the optimiser moves and
the differentiable map from it to the clouds) and the :class:`Parameterization` that makes
one per chunk of starts. The base chart is the coordinates themselves (``points``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

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


@dataclass(frozen=True)
class ParamConfig:
    """A method's ``[param]``: one kind of parameterization (:data:`kind`), its own options
    (the fields) and its start (:attr:`start`). Subclasses add their options."""

    kind: ClassVar[str]
    drawn: ClassVar[str | None] = None
    """What a parameterization that draws its cloud on a surface of its own starts from
    (``"its parts"``), or None: it starts from a points' start."""

    @property
    def start(self) -> str:
        """The start's name (:func:`flowam.param.start_clouds`)."""
        return self.kind

    def build(self, bound: float, generator: Any = None) -> Parameterization | None:
        """The parameterization (None: the coordinates), its points within ``bound``;
        ``generator``: the loaded generator where the kind optimises its latent code."""
        raise NotImplementedError
