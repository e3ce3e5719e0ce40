"""PointNet++ classifiers (SSG and MSG), with the module names of ``Pointnet_Pointnet2_pytorch``.

Sampling and grouping (farthest-point sampling, ball query) are plain PyTorch
(:mod:`flowam.ops`), so the models run on CPU and GPU. Farthest-point sampling starts at
the point farthest from the centroid instead of a random point, so a forward pass is
deterministic. Input ``(B, N, 3)``; output ``(B, num_classes)`` logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowam.errors import FlowamError
from flowam.models.registry import register
from flowam.ops import ball_query, farthest_point_sample, gather_points


def _centers(xyz: Tensor, npoint: int) -> Tensor:
    """``(B, npoint, 3)`` farthest-point-sampled centers of ``(B, N, 3)`` points."""
    if xyz.shape[1] < npoint:
        raise FlowamError(
            f"PointNet++ samples {npoint} centers at this level but the cloud has "
            f"{xyz.shape[1]} points; use at least 512 points per cloud"
        )
    return gather_points(xyz, farthest_point_sample(xyz, npoint))


def _mlp(in_channel: int, widths: list[int]) -> tuple[nn.ModuleList, nn.ModuleList]:
    convs, bns = nn.ModuleList(), nn.ModuleList()
    for width in widths:
        convs.append(nn.Conv2d(in_channel, width, 1))
        bns.append(nn.BatchNorm2d(width))
        in_channel = width
    return convs, bns


def _apply(convs: nn.ModuleList, bns: nn.ModuleList, x: Tensor) -> Tensor:
    for conv, bn in zip(convs, bns, strict=True):
        x = F.relu(bn(conv(x)))
    return x


class PointNetSetAbstraction(nn.Module):
    """One set-abstraction level: sample centers, group balls, point MLP, max pool.

    ``group_all`` pools the whole set into one feature. Inputs ``xyz`` ``(B, 3, N)`` and
    ``points`` ``(B, D, N)`` or None; returns centers ``(B, 3, S)`` and features
    ``(B, D', S)``.
    """

    def __init__(self, npoint, radius, nsample, in_channel: int, mlp: list[int], group_all: bool):
        super().__init__()
        self.npoint, self.radius, self.nsample, self.group_all = npoint, radius, nsample, group_all
        self.mlp_convs, self.mlp_bns = _mlp(in_channel, mlp)

    def forward(self, xyz: Tensor, points: Tensor | None) -> tuple[Tensor, Tensor]:
        xyz = xyz.transpose(1, 2)
        points = None if points is None else points.transpose(1, 2)
        if self.group_all:
            new_xyz = xyz.new_zeros(xyz.shape[0], 1, 3)
            grouped = xyz[:, None] if points is None else torch.cat([xyz, points], -1)[:, None]
        else:
            new_xyz = _centers(xyz, self.npoint)
            idx = ball_query(self.radius, self.nsample, xyz, new_xyz)
            grouped = gather_points(xyz, idx) - new_xyz[:, :, None]
            if points is not None:
                grouped = torch.cat([grouped, gather_points(points, idx)], -1)
        # (B, S, K, C) -> (B, C, K, S), the reference layout
        features = _apply(self.mlp_convs, self.mlp_bns, grouped.permute(0, 3, 2, 1))
        return new_xyz.transpose(1, 2), features.max(dim=2).values


class PointNetSetAbstractionMsg(nn.Module):
    """Multi-scale grouping: one ball and point MLP per radius, features concatenated."""

    def __init__(self, npoint: int, radius_list, nsample_list, in_channel: int, mlp_list):
        super().__init__()
        self.npoint, self.radius_list, self.nsample_list = npoint, radius_list, nsample_list
        self.conv_blocks, self.bn_blocks = nn.ModuleList(), nn.ModuleList()
        for widths in mlp_list:
            convs, bns = _mlp(in_channel + 3, widths)
            self.conv_blocks.append(convs)
            self.bn_blocks.append(bns)

    def forward(self, xyz: Tensor, points: Tensor | None) -> tuple[Tensor, Tensor]:
        xyz = xyz.transpose(1, 2)
        points = None if points is None else points.transpose(1, 2)
        new_xyz = _centers(xyz, self.npoint)
        out = []
        for radius, k, convs, bns in zip(
            self.radius_list, self.nsample_list, self.conv_blocks, self.bn_blocks, strict=True
        ):
            idx = ball_query(radius, k, xyz, new_xyz)
            grouped = gather_points(xyz, idx) - new_xyz[:, :, None]
            if points is not None:
                grouped = torch.cat([gather_points(points, idx), grouped], -1)
            out.append(_apply(convs, bns, grouped.permute(0, 3, 2, 1)).max(dim=2).values)
        return new_xyz.transpose(1, 2), torch.cat(out, dim=1)


class _PointNet2Head(nn.Module):
    """The shared classification head ``fc1-bn1-drop1-fc2-bn2-drop2-fc3``."""

    def __init__(self, num_classes: int, drop2: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(1024, 512)
        self.bn1 = nn.BatchNorm1d(512)
        self.drop1 = nn.Dropout(0.4)
        self.fc2 = nn.Linear(512, 256)
        self.bn2 = nn.BatchNorm1d(256)
        self.drop2 = nn.Dropout(drop2)
        self.fc3 = nn.Linear(256, num_classes)

    def forward(self, points: Tensor) -> Tensor:
        xyz, feats = points.transpose(1, 2), None
        for sa in (self.sa1, self.sa2, self.sa3):
            xyz, feats = sa(xyz, feats)
        x = feats.view(points.shape[0], -1)
        x = self.drop1(F.relu(self.bn1(self.fc1(x))))
        x = self.drop2(F.relu(self.bn2(self.fc2(x))))
        return self.fc3(x)


@register("pointnet2_ssg")
class PointNet2SSG(_PointNet2Head):
    """PointNet++ with single-scale grouping (``pointnet2_cls_ssg``, xyz input)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__(num_classes, drop2=0.4)
        self.sa1 = PointNetSetAbstraction(512, 0.2, 32, 3, [64, 64, 128], False)
        self.sa2 = PointNetSetAbstraction(128, 0.4, 64, 128 + 3, [128, 128, 256], False)
        self.sa3 = PointNetSetAbstraction(None, None, None, 256 + 3, [256, 512, 1024], True)


@register("pointnet2_msg")
class PointNet2MSG(_PointNet2Head):
    """PointNet++ with multi-scale grouping (``pointnet2_cls_msg``, xyz input)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__(num_classes, drop2=0.5)
        self.sa1 = PointNetSetAbstractionMsg(
            512, [0.1, 0.2, 0.4], [16, 32, 128], 0, [[32, 32, 64], [64, 64, 128], [64, 96, 128]]
        )
        self.sa2 = PointNetSetAbstractionMsg(
            128,
            [0.2, 0.4, 0.8],
            [32, 64, 128],
            320,
            [[64, 64, 128], [128, 128, 256], [128, 128, 256]],
        )
        self.sa3 = PointNetSetAbstraction(None, None, None, 640 + 3, [256, 512, 1024], True)
