"""PointNet classifier with the module names of the widely used PyTorch implementation.

Names follow ``Pointnet_Pointnet2_pytorch`` (``models/pointnet_cls.py`` and
``models/pointnet_utils.py``), so its checkpoints load unchanged:
``feat.stn.*`` (the 3×3 input transform, the paper's fT1), ``feat.fstn.*`` (the 64×64
feature transform, fT2), ``feat.conv1..3``/``feat.bn1..3`` (the shared point MLP),
``fc1``, ``fc2``, ``fc3``, ``bn1``, ``bn2`` and ``dropout``. Unlike that implementation the
model takes ``(B, N, 3)`` and returns logits, not log-probabilities and a tuple.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowam.ops import conv_max, max_pool


class _WidestLayer:
    """The widest layer (``conv3``, ``bn3``, 128 → 1,024 channels) and its global max
    pooling, shared by the T-nets and the encoder.

    ``fuse_max_pool`` (False as built) is switched on by :func:`flowam.speed.switch_paths`
    on a copy whose ``bn3`` has been folded into ``conv3``: the pooled features then come
    from :func:`flowam.ops.conv_max`, the same numbers without the ``(B, 1024, N)``
    activation.
    """

    fuse_max_pool = False
    FAST_PATHS: ClassVar[dict[str, tuple[str, ...]]] = {"fuse_max_pool": ("conv3", "bn3")}
    conv3: nn.Conv1d
    bn3: nn.Module

    def pooled(self, x: Tensor, relu: bool) -> Tensor:
        """``(B, 128, N)`` → ``(B, 1024)``: max over points of ``[relu](bn3(conv3(x)))``."""
        if self.fuse_max_pool:  # bn3 is the identity; max then ReLU = ReLU then max
            x = conv_max(x, self.conv3.weight[:, :, 0], self.conv3.bias)
            return F.relu(x) if relu else x
        x = self.bn3(self.conv3(x))
        x = F.relu(x) if relu else x
        return max_pool(x, 2)  # its backward scatters to the argmax: amax's masks cost 40 %


class STNkd(_WidestLayer, nn.Module):
    """A T-net: predicts a ``k × k`` transform from ``(B, k, N)`` features.

    Returns ``(B, k, k)``: the predicted matrix plus the identity.
    """

    def __init__(self, k: int = 64) -> None:
        super().__init__()
        self.k = k
        self.conv1 = nn.Conv1d(k, 64, 1)
        self.conv2 = nn.Conv1d(64, 128, 1)
        self.conv3 = nn.Conv1d(128, 1024, 1)
        self.fc1 = nn.Linear(1024, 512)
        self.fc2 = nn.Linear(512, 256)
        self.fc3 = nn.Linear(256, k * k)
        self.relu = nn.ReLU()
        self.bn1 = nn.BatchNorm1d(64)
        self.bn2 = nn.BatchNorm1d(128)
        self.bn3 = nn.BatchNorm1d(1024)
        self.bn4 = nn.BatchNorm1d(512)
        self.bn5 = nn.BatchNorm1d(256)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.pooled(x, relu=True)
        x = F.relu(self.bn4(self.fc1(x)))
        x = F.relu(self.bn5(self.fc2(x)))
        x = self.fc3(x).view(-1, self.k, self.k)
        return x + torch.eye(self.k, dtype=x.dtype, device=x.device)


class STN3d(STNkd):
    """The input transform (3 × 3) on xyz coordinates."""

    def __init__(self) -> None:
        super().__init__(k=3)


class PointNetEncoder(_WidestLayer, nn.Module):
    """Input transform, shared point MLP with feature transform, and global max pooling.

    Maps ``(B, 3, N)`` to the ``(B, 1024)`` global feature.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stn = STN3d()
        self.conv1 = nn.Conv1d(3, 64, 1)
        self.conv2 = nn.Conv1d(64, 128, 1)
        self.conv3 = nn.Conv1d(128, 1024, 1)
        self.bn1 = nn.BatchNorm1d(64)
        self.bn2 = nn.BatchNorm1d(128)
        self.bn3 = nn.BatchNorm1d(1024)
        self.fstn = STNkd(k=64)

    def forward(self, x: Tensor) -> Tensor:
        trans = self.stn(x)
        x = torch.bmm(trans.transpose(1, 2), x)  # (x^T @ trans)^T
        x = F.relu(self.bn1(self.conv1(x)))
        trans_feat = self.fstn(x)
        x = torch.bmm(trans_feat.transpose(1, 2), x)
        x = F.relu(self.bn2(self.conv2(x)))
        return self.pooled(x, relu=False)


class PointNet(nn.Module):
    """PointNet classification network (with feature transform).

    Args:
        num_classes: number of output logits.
        dropout: dropout probability before ``bn2`` (0.4 in the reference recipe).

    Input ``(B, N, 3)``; output ``(B, num_classes)`` logits.
    """

    def __init__(self, num_classes: int, dropout: float = 0.4) -> None:
        super().__init__()
        self.feat = PointNetEncoder()
        self.fc1 = nn.Linear(1024, 512)
        self.fc2 = nn.Linear(512, 256)
        self.fc3 = nn.Linear(256, num_classes)
        self.dropout = nn.Dropout(p=dropout)
        self.bn1 = nn.BatchNorm1d(512)
        self.bn2 = nn.BatchNorm1d(256)
        self.relu = nn.ReLU()

    def forward(self, points: Tensor) -> Tensor:
        x = self.feat(points.transpose(1, 2))
        x = F.relu(self.bn1(self.fc1(x)))
        x = F.relu(self.bn2(self.dropout(self.fc2(x))))
        return self.fc3(x)


def feature_transform_regularizer(trans: Tensor) -> Tensor:
    """Mean Frobenius norm of ``A Aᵀ - I`` over a batch of ``(B, k, k)`` transforms.

    This is the PointNet paper's orthogonality term. (The reference implementation
    computes ``A (Aᵀ - I)`` through an operator-precedence slip; we use the paper's form.)
    """
    eye = torch.eye(trans.shape[1], dtype=trans.dtype, device=trans.device)
    return torch.linalg.matrix_norm(trans @ trans.transpose(1, 2) - eye).mean()
