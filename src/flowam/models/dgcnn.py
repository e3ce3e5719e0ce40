"""DGCNN classifier with the module names of the original PyTorch implementation.

Names follow ``WangYueFt/dgcnn`` (``pytorch/model.py``): ``conv1..conv5`` are
``Sequential(conv, bn, LeakyReLU)`` whose batch norms are also registered as
``bn1..bn5`` (so state dicts hold both names, as the original's do), then ``linear1``,
``bn6``, ``dp1``, ``linear2``, ``bn7``, ``dp2``, ``linear3``. The original fixes the device
to CUDA; here it follows the input. Input ``(B, N, 3)``; output ``(B, num_classes)`` logits.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowam.errors import FlowamError
from flowam.models.registry import register
from flowam.ops import gather_max, gather_points, knn, max_pool


def graph_feature(x: Tensor, idx: Tensor) -> Tensor:
    """Edge features ``[x_j - x_i, x_i]`` over each point's neighbours.

    Args:
        x: ``(B, N, C)`` points or features, channels last.
        idx: ``(B, N, k)`` neighbour indices (:func:`flowam.ops.knn`).

    Returns:
        ``(B, 2C, N, k)``, the layout of the original's ``get_graph_feature``.
    """
    neighbours = gather_points(x, idx)
    centre = x[:, :, None].expand_as(neighbours)
    return torch.cat([neighbours - centre, centre], dim=-1).permute(0, 3, 1, 2)


class EdgeConv(nn.Sequential):
    """``Sequential(conv, bn, LeakyReLU)`` on edge features, then max over the neighbours.

    Called as a module it is the original's block (``(B, 2C, N, k)`` edge features to
    ``(B, C', N, k)``); :meth:`pooled` is the whole EdgeConv, by one of three exact paths
    that :mod:`flowam.speed` switches (False as built):

    - plain: the block on :func:`graph_feature`'s ``(B, 2C, N, k)`` tensor, max over k.
    - ``split_grouped_conv``: the first layer is linear in ``[x_j - x_i ; x_i]``, so
      ``W·[x_j - x_i ; x_i] = W₁·x_j + (W₂ - W₁)·x_i``: two products per point, gathered
      and added (exact before the batch norm, in training too), then the norm, the
      activation and the max.
    - ``fuse_max_pool``: with the norm folded into the layer, the pre-activation is per
      point and LeakyReLU is increasing, so ``max_j σ(W₁·x_j + c_i) = σ(max_j W₁·x_j + c_i)``:
      :func:`flowam.ops.gather_max` of the per-point products, no ``(B, N, k, C')``
      tensor at all, forward or backward.

    ``FAST_PATHS`` names, for each option, the modules (relative; ``""`` the block itself)
    whose hooks a path does not fire: a recorded one keeps the plain path.
    """

    split_grouped_conv = False
    fuse_max_pool = False
    FAST_PATHS: ClassVar[dict[str, tuple[str, ...]]] = {
        "split_grouped_conv": ("", "0"),
        "fuse_max_pool": ("", "0", "1", "2"),
    }

    def pooled(self, x: Tensor, idx: Tensor) -> Tensor:
        """``(B, N, C)`` features and ``(B, N, k)`` neighbours to ``(B, N, C')``."""
        if not (self.split_grouped_conv or self.fuse_max_pool):
            return max_pool(self(graph_feature(x, idx)), -1).transpose(1, 2)
        conv, norm, act = self
        weight = conv.weight[:, :, 0, 0]  # (C', 2C): [W₁ | W₂]
        c = x.shape[-1]
        neighbour = x @ weight[:, :c].T  # (B, N, C')
        own = x @ (weight[:, c:] - weight[:, :c]).T
        if conv.bias is not None:
            own = own + conv.bias
        if self.fuse_max_pool:  # norm is the identity
            return F.leaky_relu(gather_max(neighbour, idx) + own, act.negative_slope)
        z = (gather_points(neighbour, idx) + own[:, :, None]).permute(0, 3, 1, 2)
        return max_pool(act(norm(z)), -1).transpose(1, 2)


def _edge_conv(bn: nn.Module, c_in: int, c_out: int) -> EdgeConv:
    return EdgeConv(nn.Conv2d(c_in, c_out, 1, bias=False), bn, nn.LeakyReLU(0.2))


@register("dgcnn")
class DGCNN(nn.Module):
    """Dynamic graph CNN (EdgeConv) classifier.

    Args:
        num_classes: number of logits.
        k: neighbours of the dynamic graph (20 in the original).
        emb_dims: width of the last point feature (1024).
        dropout: dropout probability of the head (0.5).
    """

    BATCH_NORM_PAIRS = (("linear1", "bn6"), ("linear2", "bn7"))

    def __init__(self, num_classes: int, k: int = 20, emb_dims: int = 1024, dropout: float = 0.5):
        super().__init__()
        if not (isinstance(k, int) and k >= 1 and isinstance(emb_dims, int) and emb_dims >= 1):
            raise ValueError(f"k={k!r} and emb_dims={emb_dims!r} must be positive integers")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout={dropout!r} must be in [0, 1)")
        self.k = k
        self.bn1 = nn.BatchNorm2d(64)
        self.bn2 = nn.BatchNorm2d(64)
        self.bn3 = nn.BatchNorm2d(128)
        self.bn4 = nn.BatchNorm2d(256)
        self.bn5 = nn.BatchNorm1d(emb_dims)
        self.conv1 = _edge_conv(self.bn1, 6, 64)
        self.conv2 = _edge_conv(self.bn2, 128, 64)
        self.conv3 = _edge_conv(self.bn3, 128, 128)
        self.conv4 = _edge_conv(self.bn4, 256, 256)
        self.conv5 = nn.Sequential(
            nn.Conv1d(512, emb_dims, 1, bias=False), self.bn5, nn.LeakyReLU(0.2)
        )
        self.linear1 = nn.Linear(emb_dims * 2, 512, bias=False)
        self.bn6 = nn.BatchNorm1d(512)
        self.dp1 = nn.Dropout(p=dropout)
        self.linear2 = nn.Linear(512, 256)
        self.bn7 = nn.BatchNorm1d(256)
        self.dp2 = nn.Dropout(p=dropout)
        self.linear3 = nn.Linear(256, num_classes)

    def forward(self, points: Tensor) -> Tensor:
        if points.shape[1] < self.k:
            raise FlowamError(
                f"DGCNN takes k={self.k} neighbours of every point but the cloud has "
                f"{points.shape[1]} points"
            )
        x, levels = points, []
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = conv.pooled(x, knn(x.transpose(1, 2), self.k))  # (B, N, C), channels last
            levels.append(x)
        x = self.conv5(torch.cat(levels, dim=-1).transpose(1, 2))
        x = torch.cat([max_pool(x, -1), x.mean(dim=-1)], dim=1)
        x = self.dp1(F.leaky_relu(self.bn6(self.linear1(x)), 0.2))
        x = self.dp2(F.leaky_relu(self.bn7(self.linear2(x)), 0.2))
        return self.linear3(x)
