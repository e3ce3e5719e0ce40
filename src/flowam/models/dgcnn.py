"""DGCNN classifier with the module names of the original PyTorch implementation.

Names follow ``WangYueFt/dgcnn`` (``pytorch/model.py``): ``conv1..conv5`` are
``Sequential(conv, bn, LeakyReLU)`` whose batch norms are also registered as
``bn1..bn5`` (so state dicts hold both names, as the original's do), then ``linear1``,
``bn6``, ``dp1``, ``linear2``, ``bn7``, ``dp2``, ``linear3``. The original fixes the device
to CUDA; here it follows the input. Input ``(B, N, 3)``; output ``(B, num_classes)`` logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowam.models.registry import register
from flowam.ops import gather_points, knn


def graph_feature(x: Tensor, k: int) -> Tensor:
    """Edge features ``[x_j - x_i, x_i]`` over the k nearest neighbours in feature space.

    Args:
        x: ``(B, C, N)``.
        k: neighbours per point.

    Returns:
        ``(B, 2C, N, k)``.
    """
    idx = knn(x, k)
    pts = x.transpose(1, 2)
    neighbours = gather_points(pts, idx)
    centre = pts[:, :, None].expand_as(neighbours)
    return torch.cat([neighbours - centre, centre], dim=-1).permute(0, 3, 1, 2)


def _edge_conv(bn: nn.Module, c_in: int, c_out: int, dims: int = 2) -> nn.Sequential:
    conv = nn.Conv2d if dims == 2 else nn.Conv1d
    return nn.Sequential(conv(c_in, c_out, 1, bias=False), bn, nn.LeakyReLU(0.2))


@register("dgcnn")
class DGCNN(nn.Module):
    """Dynamic graph CNN (EdgeConv) classifier.

    Args:
        num_classes: number of logits.
        k: neighbours of the dynamic graph (20 in the original).
        emb_dims: width of the last point feature (1024).
        dropout: dropout probability of the head (0.5).
    """

    def __init__(self, num_classes: int, k: int = 20, emb_dims: int = 1024, dropout: float = 0.5):
        super().__init__()
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
        self.conv5 = _edge_conv(self.bn5, 512, emb_dims, dims=1)
        self.linear1 = nn.Linear(emb_dims * 2, 512, bias=False)
        self.bn6 = nn.BatchNorm1d(512)
        self.dp1 = nn.Dropout(p=dropout)
        self.linear2 = nn.Linear(512, 256)
        self.bn7 = nn.BatchNorm1d(256)
        self.dp2 = nn.Dropout(p=dropout)
        self.linear3 = nn.Linear(256, num_classes)

    def forward(self, points: Tensor) -> Tensor:
        x = points.transpose(1, 2)
        levels = []
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = conv(graph_feature(x, self.k)).max(dim=-1).values
            levels.append(x)
        x = self.conv5(torch.cat(levels, dim=1))
        x = torch.cat([x.max(dim=-1).values, x.mean(dim=-1)], dim=1)
        x = self.dp1(F.leaky_relu(self.bn6(self.linear1(x)), 0.2))
        x = self.dp2(F.leaky_relu(self.bn7(self.linear2(x)), 0.2))
        return self.linear3(x)
