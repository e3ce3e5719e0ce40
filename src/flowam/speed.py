"""Faster forward and backward passes of a frozen classifier, each switchable off.

- :func:`fold_batch_norm`: a copy of an eval-mode model in which every batch norm that
  directly follows a convolution or linear layer (eval-mode dropout between them allowed)
  is folded into that layer's weights and bias. In eval mode a batch norm is an affine
  map per channel, so the folded model computes the same function with one pass over the
  activations less, forward and backward. The batch norm stays in the model as
  ``nn.Identity`` under its own name, so hooks by name keep working (its output is what
  it was); a pair whose layer output or batch-norm input is recorded (``keep``) is left
  as it is, since folding would change what those hooks see.
- :func:`fuse_max_pools`: on a folded copy, a layer followed by global max pooling over
  points (PointNet's widest layer, 128 → 1,024 channels, in its two T-nets and its
  encoder) is computed by :func:`flowam.ops.conv_max`: the pooled features without the
  ``(B, 1024, N)`` activation, and a backward pass that touches only the argmax points.
  Models opt in by exposing ``fuse_max_pool`` and ``MAX_POOL_LAYERS`` (see
  ``flowam.models.pointnet``); recorded layers among them keep the plain path.
- :func:`autocast`: the model's forward pass in bfloat16 where the hardware has fast
  bfloat16 arithmetic (recent x86 CPUs with AMX or AVX512-BF16, GPUs); the objective
  terms and the optimiser stay in float32.

All are options of :class:`Speed`; :func:`prepare` applies them for
:func:`flowam.engine.optimize`.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from flowam.errors import FlowamError
from flowam.hooks import INPUT_SUFFIX

PRECISIONS = ("fp32", "bf16")
_FOLDABLE = (nn.Conv1d, nn.Conv2d, nn.Linear)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


@dataclass(frozen=True)
class Speed:
    """How the engine runs the model.

    Attributes:
        fold_batch_norm: fold batch norms into the preceding layers (exact up to
            float32 rounding).
        fuse_max_pool: compute a folded layer and the global max pooling after it
            together (exact up to rounding; needs ``fold_batch_norm``).
        precision: ``fp32`` (exact) or ``bf16`` (the model's forward pass under
            bfloat16 autocast: about 3 significant digits in its activations).
    """

    fold_batch_norm: bool = True
    fuse_max_pool: bool = True
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise FlowamError(
                f"precision={self.precision!r}: choose one of {', '.join(PRECISIONS)}"
            )


DEFAULT = Speed()
"""The engine's default: batch norms folded, max pooling fused, float32."""
PLAIN = Speed(fold_batch_norm=False, fuse_max_pool=False, precision="fp32")
"""The plain path: the model as given, in float32."""


def _fold(layer: nn.Module, norm: nn.Module) -> None:
    """Fold ``norm`` (eval mode) into ``layer``'s weight and bias, in place."""
    with torch.no_grad():
        gamma = norm.weight if norm.weight is not None else torch.ones_like(norm.running_var)
        beta = norm.bias if norm.bias is not None else torch.zeros_like(norm.running_mean)
        scale = gamma / torch.sqrt(norm.running_var + norm.eps)
        shape = (-1,) + (1,) * (layer.weight.dim() - 1)
        bias = layer.bias if layer.bias is not None else torch.zeros_like(norm.running_mean)
        new_bias = (bias - norm.running_mean) * scale + beta
        layer.weight.mul_(scale.view(shape))
        if layer.bias is None:
            layer.bias = nn.Parameter(new_bias, requires_grad=layer.weight.requires_grad)
        else:
            layer.bias.copy_(new_bias)


def _set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, module)


def fold_batch_norm(model: nn.Module, keep: Iterable[str] = ()) -> tuple[nn.Module, int]:
    """A copy of ``model`` with its foldable batch norms folded; returns it and how many
    were folded.

    Args:
        model: an eval-mode classifier (folding uses the running statistics).
        keep: recorded layer names (``name`` or ``name:input``): a pair whose layer output
            or batch-norm input is recorded stays unfolded.

    The pairs are found in the model's ``torch.fx`` graph; where the model cannot be
    traced (data-dependent control flow: PointNet++'s sampling, DGCNN's neighbours), only
    consecutive children of an ``nn.Sequential`` are folded (DGCNN's conv blocks), whose
    order is their data flow.
    """
    if model.training:
        raise FlowamError("fold_batch_norm needs an eval-mode model (it uses running statistics)")
    folded = copy.deepcopy(model)
    # folding changes a layer's output (it becomes the batch norm's) and a batch norm's
    # input: pairs whose hooks would see those stay as they are
    # (by module, not name: DGCNN registers each batch norm twice, as bn1 and conv1.1)
    keep = list(keep)
    outputs = _modules(folded, [n for n in keep if not n.endswith(INPUT_SUFFIX)])
    inputs = _modules(
        folded, [n.removesuffix(INPUT_SUFFIX) for n in keep if n.endswith(INPUT_SUFFIX)]
    )
    pairs = _traced_pairs(folded)
    if pairs is None:  # not traceable: the sequential pairs only
        pairs = _sequential_pairs(folded)
    count = 0
    for layer, norm in pairs:
        first, second = folded.get_submodule(layer), folded.get_submodule(norm)
        if (
            isinstance(first, _FOLDABLE)
            and isinstance(second, _NORMS)
            and second.running_var is not None  # else batch statistics, always
            and id(first) not in outputs
            and id(second) not in inputs
        ):
            _fold(first, second)
            identity = nn.Identity()  # under every name of the norm, so hooks on any fire
            for name, module in list(folded.named_modules(remove_duplicate=False)):
                if module is second:
                    _set_module(folded, name, identity)
            count += 1
    return folded, count


def _modules(model: nn.Module, names: list[str]) -> set[int]:
    """Identities of the named submodules (names that are not modules are ignored)."""
    found = set()
    for name in names:
        try:
            found.add(id(model.get_submodule(name)))
        except AttributeError:
            continue
    return found


def _traced_pairs(model: nn.Module) -> list[tuple[str, str]] | None:
    """(module, batch norm) names where the norm's input is that module's only use (eval-
    mode dropout between them skipped), from the ``torch.fx`` graph; None if untraceable."""
    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception:  # any tracing failure
        return None
    modules = dict(model.named_modules())

    def module_call(node: object, kind: type | tuple[type, ...] = nn.Module) -> bool:
        return (
            isinstance(node, torch.fx.Node)
            and node.op == "call_module"
            and isinstance(modules.get(node.target), kind)
        )

    pairs = []
    for node in graph.nodes:
        if not module_call(node, _NORMS):
            continue
        source = node.args[0]
        while module_call(source, nn.Dropout) and len(source.users) == 1:
            source = source.args[0]
        if module_call(source) and len(source.users) == 1:
            pairs.append((source.target, node.target))
    return pairs


def _sequential_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """Names of consecutive children of every ``nn.Sequential`` (their order is their data
    flow)."""
    pairs = []
    for name, seq in model.named_modules():
        if isinstance(seq, nn.Sequential):
            prefix = f"{name}." if name else ""
            children = [prefix + child for child, _ in seq.named_children()]
            pairs += list(itertools.pairwise(children))
    return pairs


def fuse_max_pools(model: nn.Module, keep: Iterable[str] = ()) -> int:
    """Switch on the fused max pooling of every module that offers it, in place; returns
    how many.

    A module offers it with a ``fuse_max_pool`` attribute and ``MAX_POOL_LAYERS``, the
    names of its (layer, batch norm) before the pooling. It is switched on where the batch
    norm has been folded (it is ``nn.Identity``) and neither is recorded (``keep``, as in
    :func:`fold_batch_norm`): the fused path calls neither module, so their hooks would
    not fire.
    """
    recorded = _modules(model, [n.removesuffix(INPUT_SUFFIX) for n in keep])
    count = 0
    for module in model.modules():
        if not hasattr(module, "fuse_max_pool"):
            continue
        layer, norm = (module.get_submodule(n) for n in module.MAX_POOL_LAYERS)
        if isinstance(norm, nn.Identity) and not {id(layer), id(norm)} & recorded:
            module.fuse_max_pool = True
            count += 1
    return count


def prepare(model: nn.Module, keep: Iterable[str], speed: Speed) -> nn.Module:
    """The model the engine runs: ``model`` itself, or a copy with ``speed``'s batch-norm
    folding and max-pool fusion (recorded layers, ``keep``, left as they are)."""
    if not speed.fold_batch_norm:
        return model
    keep = list(keep)
    run, _ = fold_batch_norm(model, keep)
    if speed.fuse_max_pool:
        fuse_max_pools(run, keep)
    return run


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """The model's forward pass in ``precision`` (``fp32``: unchanged)."""
    if precision == "fp32":
        yield
        return
    with torch.autocast(device.type, dtype=torch.bfloat16):
        yield
