"""Architectures by name, and recognising an architecture from a checkpoint's keys."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import Tensor, nn

from flowam.errors import FlowamError

MODELS: dict[str, Callable[..., nn.Module]] = {}
"""Constructors ``(num_classes, **options) -> nn.Module`` by architecture name."""

# (architecture, a key only it has, the key of its last layer's weight)
_SIGNATURES = (
    ("pointnet", "feat.stn.conv1.weight", "fc3.weight"),
    ("pointnet2_msg", "sa1.conv_blocks.0.0.weight", "fc3.weight"),
    ("pointnet2_ssg", "sa1.mlp_convs.0.weight", "fc3.weight"),
    ("dgcnn", "conv1.0.weight", "linear3.weight"),
)


def key_layouts() -> str:
    """One example key of each architecture's state dict, for messages about foreign files."""
    return ", ".join(f"{name}: {marker}" for name, marker, _ in _SIGNATURES)


def register(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Class decorator adding an architecture to :data:`MODELS` under ``name``."""

    def add(cls: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS[name] = cls
        return cls

    return add


def build(name: str, num_classes: int, **options: Any) -> nn.Module:
    """A freshly initialised model of architecture ``name``."""
    if name not in MODELS:
        raise FlowamError(f"unknown architecture {name!r}; choose one of {', '.join(MODELS)}")
    if num_classes < 2:
        raise FlowamError(f"num_classes={num_classes}: a classifier needs at least 2 classes")
    return MODELS[name](num_classes, **options)


def guess_architecture(state: Mapping[str, Tensor]) -> tuple[str, int] | None:
    """``(architecture, num_classes)`` a state dict was made by, or None if unrecognised."""
    for name, marker, last in _SIGNATURES:
        if marker in state and last in state:
            return name, int(state[last].shape[0])
    return None
