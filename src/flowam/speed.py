"""Faster forward and backward passes of a classifier, each switchable off.

- :func:`fold_batch_norm`: a copy of an eval-mode model in which every batch norm that
  directly follows a convolution or linear layer (eval-mode dropout between them allowed)
  is folded into that layer's weights and bias. In eval mode a batch norm is an affine
  map per channel, so the folded model computes the same function with one pass over the
  activations less, forward and backward. The batch norm stays in the model as
  ``nn.Identity`` under its own name, so hooks by name keep working (its output is what
  it was); a pair whose layer output or batch-norm input is recorded (``keep``) is left
  as it is, since folding would change what those hooks see.
- Fast paths that a model's modules offer (:func:`switch_paths`), each exact up to
  rounding:

  - ``fuse_max_pool``: a layer and the max pooling after it computed together, over all
    points (PointNet's widest layer, :func:`flowam.ops.conv_max`), over each point's
    neighbours (DGCNN's EdgeConv, :func:`flowam.ops.gather_max`) or over each ball of
    a PointNet++ level: the pooled features without the full activation, and a
    backward pass that touches only the argmax. Needs the batch norm folded.
  - ``split_grouped_conv``: the first layer over grouped points (DGCNN's
    ``W·[x_j − x_i ; x_i]``, PointNet++'s ``W·[x_j − c_i ; f_j]``) is linear, so it is
    computed once per point (and once per centre) and gathered, instead of once per
    (point, neighbour) pair. Exact before the batch norm, so it also serves training.
  - ``fast_sampling``: farthest-point sampling over coordinate planes
    (:func:`flowam.ops.farthest_point_sample`); the same indices.

  A module offers a path with a boolean attribute of the option's name (False as
  built) and ``FAST_PATHS``, the modules (relative names, ``""`` for itself) whose hooks
  the path does not fire. The path stays off where one of them is recorded (``keep``)
  or is a batch norm that has not been folded (the path would skip it).
- :func:`autocast`: the model's forward pass in bfloat16 where the hardware has fast
  bfloat16 arithmetic (recent x86 CPUs with AMX or AVX512-BF16, GPUs); the objective
  terms and the optimiser stay in float32.

All are options of :class:`Speed`; :func:`prepare` applies them for
:func:`flowam.engine.optimize`, and training switches the paths that hold in training
(:data:`TRAINING_PATHS`).
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
from flowam.fields import described
from flowam.hooks import INPUT_SUFFIX

PRECISIONS = ("fp32", "bf16")
PATHS = ("fuse_max_pool", "split_grouped_conv", "fast_sampling")
"""The fast paths models offer (see the module docstring)."""
TRAINING_PATHS = ("split_grouped_conv", "fast_sampling")
"""The paths exact in training mode too (no folded batch norm needed)."""
_FOLDABLE = (nn.Conv1d, nn.Conv2d, nn.Linear)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


@dataclass(frozen=True)
class Speed:
    """How the engine runs the model (embedded as ``speed`` in :class:`flowam.subject.Subject`
    and :class:`flowam.train.TrainConfig`; its fields are their command-line options).

    Attributes:
        fold_batch_norm: fold batch norms into the preceding layers (exact up to
            float32 rounding).
        fuse_max_pool: compute a folded layer and the max pooling after it together
            (exact up to rounding; needs ``fold_batch_norm``).
        split_grouped_conv: compute the first layer over grouped points once per point
            (exact up to rounding).
        fast_sampling: farthest-point sampling over coordinate planes (identical).
        precision: ``fp32`` (exact) or ``bf16`` (the model's forward pass under
            bfloat16 autocast: about 3 significant digits in its activations).
    """

    fold_batch_norm: bool = described(
        True, "Fold batch norms into the preceding layers (same function, faster)."
    )
    fuse_max_pool: bool = described(
        True,
        "Compute a layer and the max pooling after it together: PointNet's widest layer, "
        "DGCNN's EdgeConv, PointNet++'s point MLPs (same function, faster; needs "
        "--fold-batch-norm).",
    )
    split_grouped_conv: bool = described(
        True,
        "Compute the first layer over grouped points (DGCNN, PointNet++) once per point "
        "(same function, faster).",
    )
    fast_sampling: bool = described(
        True, "Farthest-point sampling over coordinate planes (same centres)."
    )
    precision: str = described(
        "fp32", "The model's forward pass: fp32, or bf16 (faster on AMX CPUs, GPUs)."
    )

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise FlowamError(
                f"precision={self.precision!r}: choose one of {', '.join(PRECISIONS)}"
            )


DEFAULT = Speed()
"""The engine's default: batch norms folded, every fast path, float32."""
PLAIN = Speed(
    fold_batch_norm=False,
    fuse_max_pool=False,
    split_grouped_conv=False,
    fast_sampling=False,
    precision="fp32",
)
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
    traced (data-dependent control flow: PointNet++'s sampling, DGCNN's neighbours), they
    are the consecutive children of every ``nn.Sequential`` (DGCNN's conv blocks), whose
    order is their data flow, and the pairs modules declare in ``BATCH_NORM_PAIRS``
    (relative names: PointNet++'s point MLPs and head, DGCNN's head).
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
    if pairs is None:  # not traceable: the sequential and declared pairs
        pairs = _sequential_pairs(folded) + _declared_pairs(folded)
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


def _declared_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """The (layer, batch norm) pairs modules declare in ``BATCH_NORM_PAIRS``, by full name."""
    pairs = []
    for name, module in model.named_modules():
        prefix = f"{name}." if name else ""
        pairs += [(prefix + a, prefix + b) for a, b in getattr(module, "BATCH_NORM_PAIRS", ())]
    return pairs


def switch_paths(
    model: nn.Module, speed: Speed, keep: Iterable[str] = (), paths: Iterable[str] = PATHS
) -> dict[str, int]:
    """Set every fast path the model's modules offer to ``speed``'s choice, in place;
    returns how many modules run each path.

    Args:
        model: the classifier (a copy, for :func:`prepare`).
        speed: which paths to take.
        keep: recorded layer names (``name`` or ``name:input``): a path that would not
            fire one of their hooks stays off.
        paths: the options considered (others are switched off); training passes
            :data:`TRAINING_PATHS`.
    """
    paths = set(paths)
    recorded = _modules(model, [n.removesuffix(INPUT_SUFFIX) for n in keep])
    counts = dict.fromkeys(PATHS, 0)
    for module in model.modules():
        for option, bypassed in getattr(module, "FAST_PATHS", {}).items():
            skipped = [module.get_submodule(name) for name in bypassed]
            on = (
                option in paths
                and getattr(speed, option)
                and not any(id(m) in recorded or isinstance(m, _NORMS) for m in skipped)
            )
            setattr(module, option, on)
            counts[option] += on
    return counts


def _paths_on(model: nn.Module) -> bool:
    """Whether any module of ``model`` has a fast path switched on."""
    return any(
        getattr(m, option) for m in model.modules() for option in getattr(m, "FAST_PATHS", {})
    )


def prepare(model: nn.Module, keep: Iterable[str], speed: Speed) -> nn.Module:
    """The model the engine runs: ``model`` itself where ``speed`` changes nothing, else
    a copy with its batch norms folded and its fast paths switched (recorded layers,
    ``keep``, left as they are)."""
    keep = list(keep)
    wanted = any(getattr(speed, option) for option in PATHS)
    if not speed.fold_batch_norm and not wanted and not _paths_on(model):
        return model
    run = fold_batch_norm(model, keep)[0] if speed.fold_batch_norm else copy.deepcopy(model)
    switch_paths(run, speed, keep)
    return run


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """The model's forward pass in ``precision`` (``fp32``: unchanged)."""
    if precision == "fp32":
        yield
        return
    with torch.autocast(device.type, dtype=torch.bfloat16):
        yield
