"""Recording intermediate activations by module name, with hooks that are always removed.

>>> with LayerRecorder(model, ["feat.stn.fc1", "fc2"]) as rec:
...     logits = model(points)
>>> rec["fc2"].shape            # (B, 256)

A name ``"a.b"`` records the output of module ``a.b``; ``"a.b:input"`` records its
(first) input, which is how to reach values that a model computes with a plain function
between modules. Only the requested layers are hooked, and every hook is removed when the
``with`` block ends, also when it ends with an exception. Activations are kept with their
graph, so objectives can differentiate through them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from flowam.errors import FlowamError

INPUT_SUFFIX = ":input"


def layer_names(model: nn.Module) -> list[str]:
    """Every recordable module name of ``model`` (the root module excluded)."""
    return [name for name, _ in model.named_modules() if name]


def resolve(model: nn.Module, name: str) -> nn.Module:
    """The module called ``name`` (without ``:input``), or an error listing close names."""
    modules = dict(model.named_modules())
    base = name.removesuffix(INPUT_SUFFIX)
    if base and base in modules:
        return modules[base]
    names = layer_names(model)
    close = difflib.get_close_matches(base, names, n=5, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else f"valid names: {', '.join(names)}"
    raise FlowamError(f"unknown layer {name!r} in {type(model).__name__}; {hint}")


def _first_tensor(value: Any) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], Tensor):
        return value[0]
    raise FlowamError(f"layer output of type {type(value).__name__} is not a tensor")


class LayerRecorder:
    """Context manager that records the activations of named layers during forward passes.

    Args:
        model: the network.
        names: dotted module names, optionally with ``:input``.
        detach: store detached copies (for statistics) instead of graph-carrying tensors.

    After a forward pass inside the block, ``recorder[name]`` is that layer's activation
    of the last pass, shaped as the module produced it (e.g. ``(B, C)`` or ``(B, C, N)``).
    """

    def __init__(self, model: nn.Module, names: Iterable[str], detach: bool = False) -> None:
        self.model = model
        self.names = list(dict.fromkeys(names))
        self.detach = detach
        self.modules = {name: resolve(model, name) for name in self.names}
        self.activations: dict[str, Tensor] = {}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def _store(self, name: str, value: Any) -> None:
        tensor = _first_tensor(value)
        self.activations[name] = tensor.detach() if self.detach else tensor

    def __enter__(self) -> LayerRecorder:
        try:
            for name, module in self.modules.items():
                if name.endswith(INPUT_SUFFIX):
                    hook = module.register_forward_pre_hook(
                        lambda _m, args, n=name: self._store(n, args)
                    )
                else:
                    hook = module.register_forward_hook(
                        lambda _m, _args, out, n=name: self._store(n, out)
                    )
                self._handles.append(hook)
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove every hook this recorder registered (safe to call twice)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __getitem__(self, name: str) -> Tensor:
        if name not in self.activations:
            raise KeyError(f"layer {name!r} was not recorded (run a forward pass inside the block)")
        return self.activations[name]

    def __contains__(self, name: str) -> bool:
        return name in self.activations


@torch.no_grad()
def batch_norm_calls(model: nn.Module, example: Tensor) -> dict[str, int]:
    """``{name: dimensions of its output}`` of every batch norm of ``model``, in the order
    the forward pass of ``example`` ``(B, N, 3)`` first reaches them (a norm the pass does
    not reach is left out). Outputs of 3 or more dimensions keep a point axis (``(B, C, N,
    ...)``: shared point MLPs, EdgeConvs, ball MLPs); the head's are ``(B, C)``."""
    norms = [n for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    was_training = model.training
    model.eval()
    try:
        with LayerRecorder(model, norms, detach=True) as rec:
            model(example.to(next(model.parameters()).device))
    finally:
        model.train(was_training)
    return {name: act.dim() for name, act in rec.activations.items()}  # in call order
