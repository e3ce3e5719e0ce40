"""The classifiers to be explained, and loading them from files.

>>> model = get_model("pointnet", num_classes=16)            # fresh weights
>>> model, info = load_classifier()                          # the bundled PointNet
>>> model, info = load_classifier("bundled:dgcnn")           # another bundled architecture
>>> model, info = load_classifier("best_model.pth")          # Pointnet_Pointnet2_pytorch's

Every model maps ``(B, N, 3)`` points to ``(B, num_classes)`` logits. Any other
``nn.Module`` with that contract works with the rest of flowam; wrap one that returns a
tuple (e.g. ``(log_probs, trans_feat)``) so that it returns only the scores::

    class LogitsOnly(nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net                      # layer names gain the prefix "net."

        def forward(self, points):             # (B, N, 3) -> (B, C)
            return self.net(points.transpose(1, 2))[0]
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from torch import nn

from flowam.data.modelnet import MODELNET40_CLASSES
from flowam.devices import check_device
from flowam.errors import FlowamError, FlowamWarning
from flowam.fields import comma_list
from flowam.models import dgcnn, pointnet2  # noqa: F401  (register their architectures)
from flowam.models.checkpoint import CheckpointError, load_state, read_metadata, read_state_dict
from flowam.models.pointnet import PointNet
from flowam.models.registry import MODELS, build, guess_architecture, key_layouts, register

register("pointnet")(PointNet)

BUNDLED = "bundled"
"""The default model: ``bundled`` is ``bundled:pointnet``."""
BUNDLED_DEFAULT = "pointnet"


@dataclass
class ModelInfo:
    """What is known about a loaded classifier.

    Attributes:
        architecture: registry name (``pointnet``, ``dgcnn``, ...).
        classes: class names in logit order.
        num_points: points per cloud it was trained with.
        source: ``bundled`` or the weights file.
        metadata: the file's JSON metadata (accuracy, command, dataset, ...), if any.
    """

    architecture: str
    classes: list[str]
    num_points: int
    source: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def up(self) -> str | None:
        """The up axis of the clouds the model was trained on, where its metadata says
        (``"y"`` for every model flowam trains; None: unknown)."""
        return self.metadata.get("up")

    @property
    def turns_about_up(self) -> bool:
        """Whether the model was trained with turns over the whole circle about the up
        axis (its metadata's ``augmentations``): it cannot prefer a facing."""
        return bool(self.metadata.get("augmentations", {}).get("turns_about_up", False))

    def check_convention(self, data: str) -> None:
        """Warn in one line where the model's clouds were not y-up, as flowam's are
        (``data``: how to name the real objects in the message)."""
        if self.up not in (None, "y"):
            warnings.warn(
                f"{self.source} was trained on {self.up}-up clouds (its metadata), but "
                f"flowam reads {data} y-up: the model sees them lying down",
                FlowamWarning,
                stacklevel=2,
            )


def bundled_path(arch: str = BUNDLED_DEFAULT) -> Path:
    """Where the bundled weights of architecture ``arch`` lie inside the installed package."""
    return Path(str(resources.files("flowam") / "weights" / f"{arch}_procedural.safetensors"))


def bundled_models() -> list[str]:
    """Architectures with bundled weights in this installation, the default first."""
    folder = bundled_path().parent
    found = sorted(
        p.name.removesuffix("_procedural.safetensors")
        for p in folder.glob("*_procedural.safetensors")
    )
    return sorted(found, key=lambda a: a != BUNDLED_DEFAULT)


def resolve_spec(spec: str | Path) -> Path:
    """The weights file of a model spec: ``bundled``, ``bundled:<arch>`` or a path."""
    text = str(spec)
    if text != BUNDLED and not text.startswith(f"{BUNDLED}:"):
        return Path(text).expanduser()
    arch = text.partition(":")[2] or BUNDLED_DEFAULT
    path = bundled_path(arch)
    if not path.is_file():
        known = ", ".join(f"bundled:{a}" for a in bundled_models()) or "none"
        raise CheckpointError(f"{text}: no bundled model of that name; bundled models: {known}")
    return path


def get_model(
    name: str, num_classes: int, weights: str | Path | None = None, **options
) -> nn.Module:
    """A model of architecture ``name``; with ``weights``, loaded from that file (eval mode)."""
    model = build(name, num_classes, **options)
    if weights is not None:
        load_state(model, read_state_dict(weights), str(weights), f"{name} ({num_classes} classes)")
        model.eval()
    return model


def load_classifier(
    spec: str | Path = BUNDLED,
    *,
    arch: str | None = None,
    num_classes: int | None = None,
    classes: list[str] | None = None,
    device: str = "cpu",
) -> tuple[nn.Module, ModelInfo]:
    """Load a classifier in eval mode, with what is known about it.

    Args:
        spec: ``"bundled"`` (the bundled PointNet), ``"bundled:<arch>"`` (another bundled
            architecture, see :func:`bundled_models`) or a weights file (safetensors, or a
            ``weights_only`` torch checkpoint, e.g. ``best_model.pth`` of
            ``Pointnet_Pointnet2_pytorch``).
        arch, num_classes: override or supply what the metadata or keys cannot tell.
        classes: class names; by default from the metadata, else ModelNet40's names for
            40 classes, else ``class_0 ... class_{C-1}``.
        device: where to put the model (checked first: an unavailable device fails in one
            line before any file is read).
    """
    check_device(device)
    path = resolve_spec(spec)
    state = read_state_dict(path)
    meta = read_metadata(path) or {}
    guess = guess_architecture(state)
    arch = arch or meta.get("architecture") or (guess[0] if guess else None)
    num_classes = num_classes or meta.get("num_classes") or (guess[1] if guess else None)
    if arch is None or num_classes is None:
        raise CheckpointError(
            f"{path}: cannot tell the architecture from the file (keys as {key_layouts()}); "
            f"pass --arch ({', '.join(MODELS)}) and --num-classes if its keys are those of "
            "one, or explain your own nn.Module from Python "
            "(docs/data-and-models.md: 'Your own nn.Module')"
        )
    options = meta.get("options", {})
    try:
        model = build(arch, int(num_classes), **options)
    except (TypeError, ValueError) as e:  # options the architecture does not take
        if isinstance(e, FlowamError):
            raise
        raise CheckpointError(f"{path}: options {options} do not fit {arch} ({e})") from None
    load_state(model, state, str(path), f"{arch} ({num_classes} classes)")
    if classes is None:
        classes = meta.get("classes") or (
            list(MODELNET40_CLASSES)
            if num_classes == 40
            else [f"class_{i}" for i in range(num_classes)]
        )
    if len(classes) != num_classes:
        raise FlowamError(f"{path}: {len(classes)} class names given for {num_classes} logits")
    info = ModelInfo(arch, list(classes), int(meta.get("num_points", 1024)), str(spec), meta)
    return model.to(device).eval(), info


def load_judges(spec: str, info: ModelInfo, device: str = "cpu") -> dict[str, nn.Module]:
    """The classifiers that judge a model's explanations (cross-architecture recognition).

    Args:
        spec: ``"bundled"``: every bundled model but the explained one, when its classes
            are the explained model's (none otherwise: a ModelNet40 checkpoint is not
            judged by models of the procedural classes); ``"none"``; or comma-separated
            model specs (``bundled:dgcnn,my_dgcnn.pth``), which must have its classes.
        info: the explained model's info.

    Returns:
        ``{name: model}`` in eval mode on ``device``; a name is the architecture, or the
        spec where two judges share one.
    """
    if spec == "none":
        return {}
    if spec == BUNDLED:
        specs = [f"{BUNDLED}:{a}" for a in bundled_models()]
        specs = [s for s in specs if resolve_spec(s) != resolve_spec(info.source)]
    else:
        specs = comma_list(spec)
    judges: dict[str, nn.Module] = {}
    for s in specs:
        model, judged = load_classifier(s, device=device)
        if judged.classes != info.classes:
            if spec == BUNDLED:
                return {}
            raise FlowamError(
                f"judge {s}: its classes ({', '.join(judged.classes[:4])}, ...) are not the "
                f"explained model's ({', '.join(info.classes[:4])}, ...)"
            )
        judges[s if judged.architecture in judges else judged.architecture] = model
    return judges


__all__ = [
    "BUNDLED",
    "MODELS",
    "ModelInfo",
    "bundled_models",
    "get_model",
    "load_classifier",
    "load_judges",
    "resolve_spec",
]
