"""Damaging a model on purpose: the sanity checks of an explanation method.

An explanation that does not change when the model it explains is destroyed does not
explain that model. Two ways to destroy it, each a new model (the original is never
touched):

- **Parameter dropout** (the paper's Sec. IV-C and Table S1): every entry of every
  parameter tensor (weights, biases, batch-norm scales and shifts; not the running
  statistics) is zeroed with probability ``P_D``, drawn from a seeded generator.
- **Cascading randomization** (the model-parameter randomization test of Adebayo et al.,
  2018): the layers with parameters are re-initialised (their own ``reset_parameters``,
  seeded) from the output back towards the input, one more layer at each stage, until
  the whole model is random. Batch-norm layers count as layers; re-initialising one also
  resets its running statistics.

What an explanation of a damaged model is worth is measured by the faithfulness gap
(:mod:`flowam.metrics.faithfulness`).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from flowam.errors import FlowamError


def parameter_dropout(model: nn.Module, p: float, seed: int = 0) -> nn.Module:
    """A copy of ``model`` with each parameter entry zeroed with probability ``p``."""
    if not 0 <= p <= 1:
        raise FlowamError(f"parameter dropout P_D={p} must be in [0, 1]")
    damaged = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in damaged.parameters():
            keep = torch.rand(param.shape, generator=gen) >= p
            param.mul_(keep.to(device=param.device, dtype=param.dtype))
    return damaged


def randomization_order(model: nn.Module, example: torch.Tensor) -> list[str]:
    """Names of the modules with their own parameters, from the output to the input.

    The order is the order in which one forward pass of ``example`` (``(B, N, 3)``)
    calls them, reversed; modules the pass does not call are left out.
    """
    owners = {
        name: m
        for name, m in model.named_modules()
        if name
        and any(True for _ in m.parameters(recurse=False))
        and hasattr(m, "reset_parameters")
    }
    called: list[str] = []
    handles = [
        m.register_forward_hook(lambda mod, args, out, name=name: called.append(name))
        for name, m in owners.items()
    ]
    try:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            model(example.to(next(model.parameters()).device))
        model.train(was_training)
    finally:
        for h in handles:
            h.remove()
    return list(reversed(list(dict.fromkeys(called))))


def cascading_randomization(
    model: nn.Module, layers: int, example: torch.Tensor, seed: int = 0
) -> nn.Module:
    """A copy of ``model`` whose top ``layers`` parameterised layers are re-initialised.

    Args:
        layers: how many, counted from the output (see :func:`randomization_order`);
            more than the model has means all.
        example: ``(B, N, 3)`` clouds for one forward pass that finds the order.
        seed: seed of the new initial values.
    """
    damaged = copy.deepcopy(model)
    order = randomization_order(damaged, example)
    modules = dict(damaged.named_modules())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for name in order[:layers]:
            modules[name].reset_parameters()
    return damaged


def fully_randomized(model: nn.Module, example: torch.Tensor, seed: int = 0) -> nn.Module:
    """A copy of ``model`` with every parameterised layer re-initialised."""
    return cascading_randomization(model, len(randomization_order(model, example)), example, seed)


DAMAGES = ("randomized", "dropout", "cascade")
"""The damages :func:`damaged` makes: the fully randomized model, parameter dropout at
``P_D = level``, cascading randomization of the top ``level`` layers."""


def damaged(
    model: nn.Module, damage: str, example: torch.Tensor, level: float = 0.0, seed: int = 0
) -> nn.Module:
    """A damaged copy of ``model`` (every damaged model of flowam comes from here).

    Args:
        damage: one of :data:`DAMAGES`.
        example: ``(B, N, 3)`` clouds for one forward pass (the order of the layers).
        level: ``P_D`` for ``dropout``, the number of layers for ``cascade``.
        seed: seed of the damage.
    """
    if damage == "randomized":
        return fully_randomized(model, example, seed)
    if damage == "dropout":
        return parameter_dropout(model, level, seed)
    if damage == "cascade":
        return cascading_randomization(model, int(level), example, seed)
    raise FlowamError(f"unknown damage {damage!r}; choose one of {', '.join(DAMAGES)}")
