"""The generative baselines' networks (Tan, "Visualizing global explanations of point
cloud DNNs", WACV 2023, after Achlioptas et al.'s point cloud autoencoder).

- :class:`PointAutoencoder`: a PointNet-style encoder — shared 1×1 convolutions
  3→64→128→128, each with batch norm, ReLU between them, max-pooled over the points to a
  128-d latent code — and a fully connected decoder 128→256→256→N·3 (ReLU between the
  layers, none at the end).
- :class:`Discriminator`: point-wise 1×1 convolutions 3→64→128 with ReLU, max-pooled, one
  linear layer to a single logit; ``sigmoid`` of it is the probability that a cloud is
  real. It returns the logit (for numerically stable losses).
- :class:`Generator`: what a generator file holds — the autoencoder and, for AED and
  NAED, the discriminator.
"""

from __future__ import annotations

from torch import Tensor, nn

KINDS = ("ae", "aed", "naed")


def _conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(c_in, c_out, 1), nn.BatchNorm1d(c_out))


class PointAutoencoder(nn.Module):
    """``(B, N, 3)`` clouds to ``(B, latent)`` codes and back (see the module docstring)."""

    def __init__(self, num_points: int, latent: int = 128) -> None:
        super().__init__()
        self.num_points, self.latent = num_points, latent
        self.encoder = nn.ModuleList([_conv(3, 64), _conv(64, 128), _conv(128, latent)])
        self.decoder = nn.Sequential(
            nn.Linear(latent, 256),
            nn.ReLU(),
            nn.Linear(256, 256),
            nn.ReLU(),
            nn.Linear(256, num_points * 3),
        )

    def encode(self, points: Tensor) -> Tensor:
        """``(B, N, 3)`` → ``(B, latent)``."""
        x = points.transpose(1, 2)
        for i, layer in enumerate(self.encoder):
            x = layer(x)
            if i < len(self.encoder) - 1:
                x = x.relu()
        return x.amax(dim=2)

    def decode(self, code: Tensor) -> Tensor:
        """``(B, latent)`` → ``(B, num_points, 3)``."""
        return self.decoder(code).view(-1, self.num_points, 3)

    def forward(self, points: Tensor) -> Tensor:
        return self.decode(self.encode(points))


class Discriminator(nn.Module):
    """``(B, N, 3)`` clouds to ``(B,)`` logits of being real (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(3, 64, 1)
        self.conv2 = nn.Conv1d(64, 128, 1)
        self.fc = nn.Linear(128, 1)

    def forward(self, points: Tensor) -> Tensor:
        x = self.conv1(points.transpose(1, 2)).relu()
        x = self.conv2(x).relu().amax(dim=2)
        return self.fc(x)[:, 0]


class Generator(nn.Module):
    """An autoencoder and, for ``aed``/``naed``, its discriminator.

    Attributes:
        kind: ``ae``, ``aed`` or ``naed``.
        ae: the autoencoder.
        discriminator: None for ``ae``.
    """

    def __init__(self, kind: str, num_points: int, latent: int = 128) -> None:
        super().__init__()
        self.kind = kind
        self.ae = PointAutoencoder(num_points, latent)
        self.discriminator = Discriminator() if kind != "ae" else None

    @property
    def num_points(self) -> int:
        return self.ae.num_points
