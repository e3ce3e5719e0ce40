"""Class statistics of real objects: mean activations (Eq. 3's ω_c^l) and their sorted
per-point activations (quantile alignment), read through forward hooks.

Both are computed from a dataset split (the paper uses the test set) and cached on disk,
keyed by a hash of the model's weights, the dataset's description and the request, so a
retrained model, other data or other layers never reuse a stale entry; an unreadable
entry is recomputed. The starting clouds live with their parameterizations
(:func:`flowam.param.start_clouds`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from flowam import cache, stopping
from flowam.data import PointCloudDataset
from flowam.errors import FlowamError
from flowam.hooks import LayerRecorder
from flowam.speed import DEFAULT, Speed, prepare

QUANTILES = "@quantiles"
"""A layer name followed by this and a count reads that layer's :func:`quantiles`."""


def model_fingerprint(model: nn.Module) -> str:
    """A short hash of a model's architecture and weights (parameters and buffers)."""
    h = hashlib.sha256(type(model).__name__.encode())
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def quantile_key(layer: str, count: int) -> str:
    """The name under which :func:`record` and :class:`ClassStatistics` hold a layer's
    :func:`quantiles` (``"feat.bn3@quantiles32"``)."""
    return f"{layer}{QUANTILES}{count}"


def _reading(name: str) -> tuple[str, int | None]:
    """The layer a recorded name reads, and its quantile count (None: the activation)."""
    layer, _, count = name.partition(QUANTILES)
    return layer, int(count) if count else None


def quantiles(activation: Tensor, count: int) -> Tensor:
    """``(B, C, count)``: each channel of a ``(B, C, ...)`` activation sorted over all its
    other positions (points, neighbours, balls) and read at ``count`` evenly spaced
    quantiles (the order statistics nearest ``(i + 0.5) / count``)."""
    if activation.dim() < 3:
        raise FlowamError(
            f"quantile alignment needs a per-point layer (B, C, points, ...); this one is "
            f"{tuple(activation.shape)}"
        )
    flat = activation.flatten(2)
    m = flat.shape[-1]
    at = ((torch.arange(count, device=flat.device) + 0.5) * m / count).long().clamp(max=m - 1)
    return flat.sort(dim=-1).values.index_select(-1, at)


@torch.no_grad()
def record(
    model: nn.Module,
    points: np.ndarray | Tensor,
    layers: list[str],
    batch_size: int = 8,
    speed: Speed = DEFAULT,
) -> dict[str, Tensor]:
    """Activations of ``layers`` for every cloud, flattened per cloud.

    Args:
        model: the classifier (put in eval mode here).
        points: ``(M, N, 3)`` clouds.
        layers: layer names (see :mod:`flowam.hooks`), ``"logits"`` for the output, or
            :func:`quantile_key` names for a layer's quantiles.
        batch_size: clouds per forward pass.
        speed: how the model runs (:func:`flowam.speed.prepare`; the recorded layers see
            what they see on the plain path, up to float32 rounding).

    Returns:
        ``{layer: (M, D_l)}`` float32 CPU tensors.
    """
    model.eval()
    device = next(model.parameters()).device
    points = torch.as_tensor(points, dtype=torch.float32)
    hooked = list(dict.fromkeys(_reading(name)[0] for name in layers if name != "logits"))
    run = prepare(model, hooked, speed)
    out: dict[str, list[Tensor]] = {name: [] for name in layers}
    with LayerRecorder(run, hooked, detach=True) as rec:
        for i in range(0, len(points), batch_size):
            stopping.check()
            logits = run(points[i : i + batch_size].to(device))
            for name in layers:
                layer, count = _reading(name)
                act = logits if name == "logits" else rec[layer]
                act = quantiles(act, count) if count else act
                out[name].append(act.flatten(1).float().cpu())
    return {name: torch.cat(acts) for name, acts in out.items()}


@dataclass
class ClassStatistics:
    """Per-class mean activations of real objects.

    Attributes:
        classes: class names (rows of every mean).
        means: ``{layer: (C, D_l)}`` mean flattened activation per class (ω_c^l).
        counts: ``(C,)`` objects per class that entered the means.
    """

    classes: list[str]
    means: dict[str, Tensor]
    counts: np.ndarray

    def target(self, layer: str, labels: Tensor) -> Tensor:
        """``(B, D_l)`` mean activations of the classes in ``labels``."""
        return self.means[layer].to(labels.device)[labels]


def class_means(
    model: nn.Module,
    data: PointCloudDataset,
    layers: list[str],
    batch_size: int = 8,
    classes: Sequence[int] | None = None,
) -> ClassStatistics:
    """Mean activation of each class at each layer (Eq. 3's ω_c^l), cached on disk.

    Args:
        classes: class indices whose means are needed (default all); only their objects
            are passed through the model, and the other rows stay zero with count 0.
    """
    wanted = sorted(set(range(len(data.classes)) if classes is None else map(int, classes)))
    key = cache.key(
        {
            "model": model_fingerprint(model),
            "data": data.description,
            "n": len(data),
            "layers": sorted(layers),
            "what": "means",
            **({"classes": wanted} if classes is not None else {}),
        }
    )
    path = cache.cache_dir() / "stats" / f"means-{key}.npz"
    names = [f"layer{i}" for i in range(len(layers))] + ["counts"]

    def build() -> dict[str, np.ndarray]:
        c = len(data.classes)
        rows = np.flatnonzero(np.isin(data.labels, wanted))
        counts = np.bincount(data.labels[rows], minlength=c)
        if (counts[wanted] == 0).any():
            missing = data.classes[wanted[int(np.argmin(counts[wanted]))]]
            raise FlowamError(f"class {missing!r} has no objects in the {data.split} split")
        sums: dict[str, Tensor] = {}
        for i in range(0, len(rows), 256):
            part = rows[i : i + 256]
            acts = record(model, data.points[part], layers, batch_size)
            onehot = torch.nn.functional.one_hot(torch.as_tensor(data.labels[part]), c)
            for name, act in acts.items():
                sums[name] = sums.get(name, 0) + onehot.T.float() @ act
        denom = torch.as_tensor(np.maximum(counts, 1), dtype=torch.float32)[:, None]
        arrays = {f"layer{i}": (sums[n] / denom).numpy() for i, n in enumerate(layers)}
        return {**arrays, "counts": counts}

    arrays = cache.cached_arrays(path, names, build)
    means = {n: torch.from_numpy(arrays[f"layer{i}"]) for i, n in enumerate(layers)}
    return ClassStatistics(list(data.classes), means, arrays["counts"])
