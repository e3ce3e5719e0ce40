"""A generator's latent code as the parameterization (the generative baselines' AM:
:mod:`flowam.generative`).

The optimiser moves the code, starting from the encoding of a points' start
(:mod:`flowam.param.points`), and the cloud is its decoding. A code has no inverse image of
an arbitrary cloud, so step transforms (projection, blur, noise) cannot act on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from flowam.errors import FlowamError
from flowam.param.chart import Chart, Parameterization
from flowam.param.points import PointsConfig


class LatentChart(Chart):
    """``x = decode(z)``, ``z`` starting at ``encode(start)``."""

    def __init__(self, start: Tensor, autoencoder: nn.Module) -> None:
        self.autoencoder = autoencoder
        with torch.no_grad():
            super().__init__(autoencoder.encode(start))

    def cloud(self) -> Tensor:
        return self.autoencoder.decode(self.param)

    def set(self, clouds: Tensor) -> None:
        raise FlowamError("step transforms cannot act on a latent code (see flowam.param)")


class Latent(Parameterization):
    """A generator's latent code (``autoencoder`` has ``encode`` and ``decode``)."""

    transformable = False

    def __init__(self, autoencoder: nn.Module) -> None:
        self.autoencoder = autoencoder

    def chart(self, start: Tensor, seeds: Sequence[int] | None = None) -> Chart:
        return LatentChart(start, self.autoencoder.to(start.device))


@dataclass(frozen=True)
class LatentConfig(PointsConfig):
    """``[param] kind = "latent"``: the latent code of ``generator`` (``"bundled:ae"``, a
    file: :func:`flowam.generative.load_generator`), from the encoding of a points' start."""

    kind = "latent"
    generator: str = "bundled:ae"

    def build(self, bound: float, generator: Any = None) -> Parameterization | None:
        if generator is None:
            raise FlowamError(f"param.generator={self.generator!r} must be loaded to build")
        return Latent(generator.ae)
