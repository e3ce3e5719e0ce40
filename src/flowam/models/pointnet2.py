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
from flowam.ops import (
    ball_query,
    farthest_point_sample,
    gather_points,
    grouped_mlp_max,
    max_pool,
)


def _centers(xyz: Tensor, npoint: int, planar: bool) -> Tensor:
    """``(B, npoint, 3)`` farthest-point-sampled centers of ``(B, N, 3)`` points."""
    if xyz.shape[1] < npoint:
        raise FlowamError(
            f"PointNet++ samples {npoint} centers at this level but the cloud has "
            f"{xyz.shape[1]} points; use at least 512 points per cloud"
        )
    return gather_points(xyz, farthest_point_sample(xyz, npoint, planar=planar))


def _mlp(in_channel: int, widths: list[int]) -> tuple[nn.ModuleList, nn.ModuleList]:
    convs, bns = nn.ModuleList(), nn.ModuleList()
    for width in widths:
        convs.append(nn.Conv2d(in_channel, width, 1))
        bns.append(nn.BatchNorm2d(width))
        in_channel = width
    return convs, bns


def _grouped(xyz: Tensor, points: Tensor | None, centers: Tensor, idx: Tensor | None, xyz_first):
    """The plain grouped input ``(B, C, K, S)``: offsets ``x_j − c_i`` beside features
    ``f_j`` (``idx`` None: the whole set as one group around the origin)."""
    grouped = xyz[:, None] if idx is None else gather_points(xyz, idx) - centers[:, :, None]
    if points is not None:
        parts = [grouped, points[:, None] if idx is None else gather_points(points, idx)]
        grouped = torch.cat(parts if xyz_first else parts[::-1], -1)
    return grouped.permute(0, 3, 2, 1)  # (B, S, K, C) -> (B, C, K, S), the reference layout


def _first_layer_terms(
    conv: nn.Conv2d, xyz: Tensor, points: Tensor | None, centers: Tensor, xyz_first: bool
) -> tuple[Tensor, Tensor]:
    """``conv`` on the grouped input (as :func:`_grouped`), split into a term per point
    and one per center.

    ``W·[x_j − c_i ; f_j] + b = (W_x·x_j + W_f·f_j) − (W_x·c_i − b)``: returns the first
    ``(B, N, C')`` and the second ``(B, S, C')``; the pre-activation of point j in the
    ball of center i is their difference.
    """
    weight = conv.weight[:, :, 0, 0]
    d = 0 if points is None else points.shape[-1]
    w_xyz, w_f = (weight[:, :3], weight[:, 3:]) if xyz_first else (weight[:, d:], weight[:, :d])
    per_point = xyz @ w_xyz.T
    if points is not None:
        per_point = per_point + points @ w_f.T
    per_center = centers @ w_xyz.T
    if conv.bias is not None:
        per_center = per_center - conv.bias
    return per_point, per_center


class _Grouping(nn.Module):
    """What both kinds of set abstraction share: a point MLP over each ball, max-pooled,
    by the plain path or a fast one.

    Fast paths (:mod:`flowam.speed`, False as built):

    - ``fast_sampling``: farthest-point sampling over coordinate planes (the same centers).
    - ``split_grouped_conv``: each MLP's first layer once per point and once per center
      (:func:`_first_layer_terms`), gathered; the rest as in the plain path. Exact before
      the batch norm, so it also serves training.
    - ``fuse_max_pool``: with every batch norm of the MLP folded, the whole MLP and the
      max over each ball by :func:`flowam.ops.grouped_mlp_max` (the first layer split as
      above): no full-size activation is stored. ReLU is increasing, so ``max_k relu(z_k)
      = relu(max_k z_k)``.

    ``FAST_PATHS`` names the layers each path does not call as modules;
    ``BATCH_NORM_PAIRS`` the (layer, norm) pairs to fold.
    """

    split_grouped_conv = False
    fuse_max_pool = False
    fast_sampling = False

    def _declare(self, convs: list[str], depth: int, group_all: bool) -> None:
        """The batch-norm pairs and fast paths of the MLPs ``convs`` (the names of their
        convolution lists, e.g. ``conv_blocks.0``), ``depth`` layers each."""
        norms = [c.replace("conv", "bn") for c in convs]
        pairs = [
            (f"{c}.{i}", f"{n}.{i}")
            for c, n in zip(convs, norms, strict=True)
            for i in range(depth)
        ]
        self.BATCH_NORM_PAIRS = tuple(pairs)
        self.FAST_PATHS = {"fast_sampling": ()}
        if depth > 1:  # the fused op takes the first layer split and at least one more
            self.FAST_PATHS["fuse_max_pool"] = tuple(name for pair in pairs for name in pair)
        if not group_all:  # one group of the whole set repeats no point: nothing to split
            self.FAST_PATHS["split_grouped_conv"] = tuple(f"{c}.0" for c in convs)

    def _pooled(
        self,
        convs: nn.ModuleList,
        bns: nn.ModuleList,
        xyz: Tensor,
        points: Tensor | None,
        centers: Tensor,
        idx: Tensor | None,
        xyz_first: bool,
    ) -> Tensor:
        """``(B, D', S)``: the MLP over each center's ball ``idx`` ``(B, S, K)`` (None: the
        whole set as one ball around the origin), max-pooled."""
        if self.fuse_max_pool:
            if idx is None:
                idx = torch.arange(xyz.shape[1], device=xyz.device).expand(xyz.shape[0], 1, -1)
            per_point, per_center = _first_layer_terms(convs[0], xyz, points, centers, xyz_first)
            layers = [(conv.weight[:, :, 0, 0], conv.bias) for conv in convs[1:]]
            return F.relu(grouped_mlp_max(per_point, per_center, idx, layers)).transpose(1, 2)
        if self.split_grouped_conv:
            per_point, per_center = _first_layer_terms(convs[0], xyz, points, centers, xyz_first)
            z = (gather_points(per_point, idx) - per_center[:, :, None]).permute(0, 3, 2, 1)
            x, rest = F.relu(bns[0](z)), zip(convs[1:], bns[1:], strict=True)
        else:
            x = _grouped(xyz, points, centers, idx, xyz_first)
            rest = zip(convs, bns, strict=True)
        for conv, bn in rest:
            x = F.relu(bn(conv(x)))
        return max_pool(x, 2)


class PointNetSetAbstraction(_Grouping):
    """One set-abstraction level: sample centers, group balls, point MLP, max pool.

    ``group_all`` pools the whole set into one feature. Inputs ``xyz`` ``(B, 3, N)`` and
    ``points`` ``(B, D, N)`` or None; returns centers ``(B, 3, S)`` and features
    ``(B, D', S)``.
    """

    def __init__(self, npoint, radius, nsample, in_channel: int, mlp: list[int], group_all: bool):
        super().__init__()
        self.npoint, self.radius, self.nsample, self.group_all = npoint, radius, nsample, group_all
        self.mlp_convs, self.mlp_bns = _mlp(in_channel, mlp)
        self._declare(["mlp_convs"], len(mlp), group_all)

    def forward(self, xyz: Tensor, points: Tensor | None) -> tuple[Tensor, Tensor]:
        xyz = xyz.transpose(1, 2)
        points = None if points is None else points.transpose(1, 2)
        if self.group_all:
            new_xyz, idx = xyz.new_zeros(xyz.shape[0], 1, 3), None
        else:
            new_xyz = _centers(xyz, self.npoint, self.fast_sampling)
            idx = ball_query(self.radius, self.nsample, xyz, new_xyz)
        features = self._pooled(self.mlp_convs, self.mlp_bns, xyz, points, new_xyz, idx, True)
        return new_xyz.transpose(1, 2), features


class PointNetSetAbstractionMsg(_Grouping):
    """Multi-scale grouping: one ball and point MLP per radius, features concatenated."""

    def __init__(self, npoint: int, radius_list, nsample_list, in_channel: int, mlp_list):
        super().__init__()
        self.npoint, self.radius_list, self.nsample_list = npoint, radius_list, nsample_list
        self.conv_blocks, self.bn_blocks = nn.ModuleList(), nn.ModuleList()
        for widths in mlp_list:
            convs, bns = _mlp(in_channel + 3, widths)
            self.conv_blocks.append(convs)
            self.bn_blocks.append(bns)
        depths = {len(widths) for widths in mlp_list}
        if len(depths) != 1:
            raise ValueError("PointNetSetAbstractionMsg: every scale's MLP needs the same depth")
        blocks = [f"conv_blocks.{i}" for i in range(len(mlp_list))]
        self._declare(blocks, depths.pop(), group_all=False)

    def forward(self, xyz: Tensor, points: Tensor | None) -> tuple[Tensor, Tensor]:
        xyz = xyz.transpose(1, 2)
        points = None if points is None else points.transpose(1, 2)
        new_xyz = _centers(xyz, self.npoint, self.fast_sampling)
        out = []
        for radius, k, convs, bns in zip(
            self.radius_list, self.nsample_list, self.conv_blocks, self.bn_blocks, strict=True
        ):
            idx = ball_query(radius, k, xyz, new_xyz)
            out.append(self._pooled(convs, bns, xyz, points, new_xyz, idx, xyz_first=False))
        return new_xyz.transpose(1, 2), torch.cat(out, dim=1)


class _PointNet2Head(nn.Module):
    """The shared classification head ``fc1-bn1-drop1-fc2-bn2-drop2-fc3``."""

    BATCH_NORM_PAIRS = (("fc1", "bn1"), ("fc2", "bn2"))

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
