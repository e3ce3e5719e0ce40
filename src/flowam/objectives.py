"""Objectives: per-cloud scores that activation maximization drives up.

Every objective maps the state of one optimisation step (:class:`Context`) to a ``(B,)``
tensor, one value per cloud, and is *maximised*; penalties therefore enter with a minus
sign. Objectives compose: ``ClassLogit() + 0.9 * LatentAlignment("fc2") - 0.1 * Continuity()``
is again an objective whose :meth:`Objective.terms` lists each weighted part, so the
engine can report every term's value at every step.

The terms (paper equations in brackets; ``p_i`` are the ``N`` points of a cloud):

- :class:`ClassLogit` [Eq. 2]: the target class's logit, ``a_c^out``.
- :class:`LogProbability`: the target's log-softmax, bounded above by 0.
- :class:`LatentAlignment` [Eq. 3]: cosine similarity between the layer's activation and
  the class's mean activation over real objects, ``SC(ω_c^l, ω̃^l)``.
- :class:`Diversity` (Lucid's diversity objective, Olah et al. 2017): minus the
  mean cosine similarity between a layer's activation of a cloud and those of the other
  clouds of the same target in the batch (its restarts), so restarts show different
  members of a class (the paper's stated limitation) through what the model sees, not
  through noise.
- :class:`Continuity` [Eq. 4]: ``Σ_i |B - (min_{j≠i} ‖p_i - p_j‖ + ‖p_i‖)|``, penalised.
- :class:`Legality` [Eq. 5]: ``Σ_i Σ_axis ReLU(|p_i,axis| - C)``, penalised: a coordinate
  outside ``[-C, C]`` (ModelNet40's legal interval is ``[-1, 1]``).
- :class:`L2Penalty` (image L2 decay, supplement S1-A): ``Σ_i ‖p_i‖²``, penalised. In images
  L2 shrinks extreme pixel intensities; a point's "intensity" is its position, so the
  point-set analogue pulls extreme points towards the origin.
- :class:`Realness` (the generative baselines AED/NAED): a discriminator's log-probability
  that the cloud is real.
- :class:`TotalVariation` (S1-A): ``Σ_i mean_{j∈kNN(i)} ‖p_i - p_j‖₁``, penalised. Image TV
  sums absolute differences between neighbouring pixels; a point set has no grid, so the
  neighbours of a point are its k nearest neighbours, recomputed every step.
- :class:`BatchStatistics` (DeepInversion, Yin et al. 2020): every batch norm's input,
  standardised by its running statistics, should have mean 0 and variance 1 per channel
  over the **whole batch** (every cloud, copy and point: ``z = (y - β) / γ`` from its
  output ``y``), penalised as ``Σ_l w_l (‖mean z_l‖₂ + ‖var z_l - 1‖₂)`` with the first
  layer's ``w`` ``first`` times the others'. The model alone is the prior: the first
  layers of DGCNN and PointNet++ see edge vectors and ball offsets, so their statistics
  are those of real local geometry. A batch term: it is one number for the batch, shared
  by every cloud of it (``batchwide``).
- :class:`LogSpacing`: ``mean_i |log(d²_i / median_j d²_j)|`` with ``d²_i`` the mean squared
  distance of point ``i`` to its ``k`` nearest neighbours, penalised: a point in a clump
  (``d² → 0``) costs without bound, where :class:`Continuity`'s linear gap costs at most
  the spacing. The median is the cloud's own, so the term asks for an even density, not
  for a size.
- :class:`QuantileAlignment` (VITAL's sort matching, Görgün et al. 2025): each channel's
  activations of a per-point layer, sorted over the points and read at ``q`` evenly spaced
  quantiles, against the class's mean sorted activations of real objects; ``-‖s - t‖² /
  ‖t‖²``, the squared distance relative to the target's size. Eq. 3 aligns a layer's
  pooled vector; this aligns the distribution of every channel over the points.

Gaussian blur (S1-A) is not a score but an operation on the cloud after each step; it
lives in :mod:`flowam.transforms` with the other step operations (iteration noise).

Each penalty sums over points, as the paper prints it (``reduce="sum"``); ``"mean"``
divides by the number of points, which makes its weight independent of ``N``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from flowam.errors import FlowamError
from flowam.hooks import batch_norm_calls
from flowam.ops import gather_points, knn, square_distance
from flowam.seeding import generator
from flowam.stats import ClassStatistics, quantile_key, quantiles

REDUCTIONS = ("sum", "mean")


@dataclass
class Batch:
    """What is fixed for one optimisation: the target of each cloud and its seed.

    Attributes:
        targets: ``(B,)`` class indices.
        seeds: ``B`` integer seeds, one per cloud, for anything an objective draws.
        stats: class statistics of real objects (needed by latent alignment).
    """

    targets: Tensor
    seeds: list[int]
    stats: ClassStatistics | None = None


@dataclass
class Context:
    """The state of one step, as the objectives see it.

    Under transformation robustness (:mod:`flowam.robustness`) the model sees ``copies``
    rows per cloud (the cloud itself first, then its transformed copies), so ``logits``
    and ``activations`` have ``B * copies`` rows, grouped by cloud; terms that read the
    model (``reads_model``) score every row and the engine averages each cloud's rows
    (:meth:`per_cloud`); terms on the points score the clouds themselves.

    Attributes:
        points: ``(B, N, 3)`` clouds being optimised.
        logits: ``(B * copies, C)`` model output.
        activations: recorded layer activations by name (graph attached), ``B * copies``
            rows each.
        batch: targets and seeds.
        copies: rows of the model's batch per cloud (1 without transformation robustness).
    """

    points: Tensor
    logits: Tensor
    activations: dict[str, Tensor] | Any
    batch: Batch
    copies: int = 1
    cache: dict[str, Tensor] = field(default_factory=dict)

    @property
    def targets(self) -> Tensor:
        """``(B * copies,)`` the target of every row the model saw."""
        return self.batch.targets.repeat_interleave(self.copies)

    @property
    def own_logits(self) -> Tensor:
        """``(B, C)`` logits of the clouds themselves (row 0 of each group)."""
        return self.logits[:: self.copies]

    def per_cloud(self, values: Tensor) -> Tensor:
        """``(B * copies,)`` row values to ``(B,)``: the mean over each cloud's rows."""
        return values.view(-1, self.copies).mean(1) if self.copies > 1 else values

    def nearest_distance(self) -> Tensor:
        """``(B, N)`` distance of every point to its nearest other point (shared by terms).

        The neighbour is found without a graph (one ``(N, N)`` distance matrix per cloud,
        no backward pass through it) and the distance computed from the two points: the
        gradient of a minimum is the gradient at its argmin, so this is the same function
        and gradient as differentiating the matrix's row minima, at ``(B, N)`` cost, and
        without the matrix formula's cancellation.
        """
        if "nearest" not in self.cache:
            with torch.no_grad():
                d = square_distance(self.points, self.points)
                d.diagonal(dim1=1, dim2=2).fill_(float("inf"))
                nearest = d.argmin(dim=-1)
            gap = ((self.points - gather_points(self.points, nearest)) ** 2).sum(-1)
            self.cache["nearest"] = (gap + 1e-12).sqrt()
        return self.cache["nearest"]


class Objective:
    """Base class: a named per-cloud score to maximise.

    Subclasses implement :meth:`value`; ``layers`` names the activations they need.
    """

    name: str = "objective"
    layers: tuple[str, ...] = ()
    reads_model: bool = True  # scores the model's rows (False: the points themselves)
    batchwide: bool = False  # one value for the whole batch (the engine keeps it in one chunk)

    def value(self, ctx: Context) -> Tensor:
        """One score per model row (``reads_model``) or per cloud (``(B,)``)."""
        raise NotImplementedError

    def setup(self, batch: Batch) -> None:
        """Prepare per-batch state (e.g. noisy targets) before the first step."""

    def terms(self) -> list[tuple[float, Objective]]:
        """The weighted atomic parts of this objective."""
        return [(1.0, self)]

    def __call__(self, ctx: Context) -> Tensor:
        return self.value(ctx)

    def __add__(self, other: Objective) -> Objective:
        return Sum(self.terms() + other.terms())

    def __mul__(self, weight: float) -> Objective:
        return Sum([(weight * w, t) for w, t in self.terms()])

    __rmul__ = __mul__

    def __neg__(self) -> Objective:
        return -1.0 * self

    def __sub__(self, other: Objective) -> Objective:
        return self + (-other)

    def __repr__(self) -> str:
        return " + ".join(f"{w:g}*{t.name}" for w, t in self.terms())


class Sum(Objective):
    """A weighted sum of atomic objectives (what ``+`` and ``*`` build)."""

    name = "sum"

    def __init__(self, parts: Sequence[tuple[float, Objective]]) -> None:
        merged: dict[int, tuple[float, Objective]] = {}
        for w, t in parts:
            prev = merged.get(id(t), (0.0, t))[0]
            merged[id(t)] = (prev + w, t)
        self.parts = [(w, t) for w, t in merged.values() if w != 0.0]
        self.layers = tuple(dict.fromkeys(layer for _, t in self.parts for layer in t.layers))

    def terms(self) -> list[tuple[float, Objective]]:
        return list(self.parts)

    def setup(self, batch: Batch) -> None:
        for _, t in self.parts:
            t.setup(batch)

    def value(self, ctx: Context) -> Tensor:
        return sum(w * t.value(ctx) for w, t in self.parts)


def _reduce(per_point: Tensor, reduce: str) -> Tensor:
    return per_point.sum(-1) if reduce == "sum" else per_point.mean(-1)


def _check_reduce(reduce: str) -> str:
    if reduce not in REDUCTIONS:
        raise FlowamError(f"unknown reduction {reduce!r}; choose one of {', '.join(REDUCTIONS)}")
    return reduce


class ClassLogit(Objective):
    """The target class's logit [Eq. 2]."""

    name = "logit"

    def value(self, ctx: Context) -> Tensor:
        return ctx.logits.gather(1, ctx.targets[:, None])[:, 0]


class LogProbability(Objective):
    """The target class's log-softmax (at most 0)."""

    name = "log_prob"

    def value(self, ctx: Context) -> Tensor:
        return F.log_softmax(ctx.logits, dim=1).gather(1, ctx.targets[:, None])[:, 0]


class LatentAlignment(Objective):
    """Cosine similarity of a layer's activation with the class mean of real objects [Eq. 3].

    Args:
        layer: the layer's name (see :mod:`flowam.hooks`).
        noise: supplement S1-D's latent-activation noise: the class mean is replaced, per
            cloud, by ``ω + noise · std(ω) · ε`` with ``ε ~ N(0, I)`` drawn from the cloud's
            seed once, before the first step.
    """

    def __init__(self, layer: str, noise: float = 0.0) -> None:
        self.layer = layer
        self.layers = (layer,)
        self.name = f"align:{layer}"
        self.noise = noise
        self._targets: Tensor | None = None

    def setup(self, batch: Batch) -> None:
        if batch.stats is None or self.layer not in batch.stats.means:
            raise FlowamError(f"latent alignment on {self.layer!r} needs its class means")
        means = batch.stats.target(self.layer, batch.targets)
        if self.noise > 0:
            eps = torch.stack(
                [
                    torch.randn(means.shape[1], generator=generator(s, "latent_noise"))
                    for s in batch.seeds
                ]
            ).to(means.device)
            means = means + self.noise * means.std(dim=1, keepdim=True) * eps
        self._targets = means

    def value(self, ctx: Context) -> Tensor:
        act = ctx.activations[self.layer].flatten(1)
        targets = self._targets.to(act.dtype).repeat_interleave(ctx.copies, 0)
        return F.cosine_similarity(act, targets, dim=1, eps=1e-8)


class Diversity(Objective):
    """Minus the mean cosine similarity of a layer's activation with the same layer's
    activation of every other cloud of the same target in the batch.

    Under transformation robustness each copy is compared with the same copy of the
    other clouds. A cloud alone with its target scores 0 (nothing to differ from); the
    engine keeps a target's restarts in one batch (``optimize(group=...)``).

    Args:
        layer: the layer's name (see :mod:`flowam.hooks`), e.g. the global feature.
    """

    def __init__(self, layer: str) -> None:
        self.layer = layer
        self.layers = (layer,)
        self.name = f"diversity:{layer}"

    def value(self, ctx: Context) -> Tensor:
        targets = ctx.batch.targets
        b = len(targets)
        act = ctx.activations[self.layer].flatten(1).float()  # (B * copies, D)
        unit = F.normalize(act, dim=1, eps=1e-8).view(b, ctx.copies, -1).transpose(0, 1)
        similarity = unit @ unit.transpose(1, 2)  # (copies, B, B)
        same = targets[:, None] == targets[None]
        same.fill_diagonal_(False)
        partners = same.sum(1).clamp(min=1)
        score = -(similarity * same).sum(-1) / partners  # (copies, B)
        return score.transpose(0, 1).reshape(-1)


class Continuity(Objective):
    """Eq. 4's point continuity, as a penalty: ``-Σ_i |B - (nn_i + ‖p_i‖)|``.

    Args:
        boundary: ``B``, the legal boundary of the data (1 for unit-sphere data).
        reduce: ``sum`` over points as printed, or ``mean``.
        target: ``boundary`` (Eq. 4 as printed) or ``spacing``: ``Σ_i |s - nn_i|`` where
            ``s`` is the median nearest-neighbour distance of each cloud at the first step.
            The printed form asks every point to satisfy ``nn_i + ‖p_i‖ = B``, which holds
            only on a shell of radius about ``B``; the spacing form keeps the part of Eq. 4
            that spreads clustered points and pulls in isolated ones, without the shell.
    """

    name = "continuity"
    reads_model = False

    def __init__(self, boundary: float = 1.0, reduce: str = "sum", target: str = "boundary"):
        if target not in ("boundary", "spacing"):
            raise FlowamError(f"unknown continuity target {target!r}; use boundary or spacing")
        self.boundary, self.reduce, self.target = boundary, _check_reduce(reduce), target
        self._spacing: Tensor | None = None

    def setup(self, batch: Batch) -> None:
        self._spacing = None

    def value(self, ctx: Context) -> Tensor:
        nearest = ctx.nearest_distance()
        if self.target == "boundary":
            gap = (self.boundary - (nearest + ctx.points.norm(dim=-1))).abs()
        else:
            if self._spacing is None:
                self._spacing = nearest.detach().median(dim=1, keepdim=True).values
            gap = (self._spacing - nearest).abs()
        return -_reduce(gap, self.reduce)


class Legality(Objective):
    """Eq. 5's legal restriction, as a penalty: ``-Σ_i Σ_axis ReLU(|p_i,axis| - C)``."""

    name = "legality"
    reads_model = False

    def __init__(self, bound: float = 1.0, reduce: str = "sum") -> None:
        self.bound, self.reduce = bound, _check_reduce(reduce)

    def value(self, ctx: Context) -> Tensor:
        excess = F.relu(ctx.points.abs() - self.bound).sum(-1)
        return -_reduce(excess, self.reduce)


class L2Penalty(Objective):
    """Squared distance of the points from the origin, penalised (see the module docstring)."""

    name = "l2"
    reads_model = False

    def __init__(self, reduce: str = "sum") -> None:
        self.reduce = _check_reduce(reduce)

    def value(self, ctx: Context) -> Tensor:
        return -_reduce((ctx.points**2).sum(-1), self.reduce)


class Realness(Objective):
    """A discriminator's log-probability that the cloud is real, ``log σ(D(x))`` (at most
    0): the generative baselines' AED/NAED prior (:mod:`flowam.generative`)."""

    name = "realness"
    reads_model = False

    def __init__(self, discriminator: torch.nn.Module) -> None:
        self.discriminator = discriminator

    def setup(self, batch: Batch) -> None:
        self.discriminator.to(batch.targets.device)  # once per chunk, not every step

    def value(self, ctx: Context) -> Tensor:
        return F.logsigmoid(self.discriminator(ctx.points))


class TotalVariation(Objective):
    """L1 differences to the k nearest neighbours, penalised (see the module docstring)."""

    name = "tv"
    reads_model = False

    def __init__(self, k: int = 8, reduce: str = "sum") -> None:
        if k < 1:
            raise FlowamError(f"total variation needs k >= 1 neighbours, got {k}")
        self.k, self.reduce = k, _check_reduce(reduce)

    def value(self, ctx: Context) -> Tensor:
        pts = ctx.points
        with torch.no_grad():
            idx = knn(pts.transpose(1, 2), self.k + 1)[:, :, 1:]
        tv = (pts[:, :, None] - gather_points(pts, idx)).abs().sum(-1).mean(-1)
        return -_reduce(tv, self.reduce)


@dataclass(frozen=True)
class NormAffine:
    """A batch norm's affine map: ``weight`` γ and ``bias`` β, ``(C,)`` each."""

    weight: Tensor
    bias: Tensor


def batch_norms(model: torch.nn.Module, example: Tensor) -> dict[str, NormAffine]:
    """Every batch norm of ``model`` by name with its ``γ`` and ``β``, in the order the
    forward pass of ``example`` ``(B, N, 3)`` reaches them
    (:func:`flowam.hooks.batch_norm_calls`), so the first is the one nearest the input.

    The running statistics need not be kept: a batch norm's input ``x`` and output ``y``
    satisfy ``(x - μ) / σ = (y - β) / γ``, so the standardised input is read from the
    output, which a folded model (:mod:`flowam.speed`) still records under the norm's name.
    """
    modules = dict(model.named_modules())
    out = {}
    for name in batch_norm_calls(model, example):
        norm, c = modules[name], modules[name].num_features
        weight = norm.weight if norm.weight is not None else torch.ones(c)
        bias = norm.bias if norm.bias is not None else torch.zeros(c)
        out[name] = NormAffine(weight.detach().clone(), bias.detach().clone())
    return out


class BatchStatistics(Objective):
    """DeepInversion's batch-norm statistics prior over the whole batch, penalised (see the
    module docstring).

    Args:
        norms: the batch norms to match (:func:`batch_norms`), in forward order.
        first: weight of the first of them relative to the others.
    """

    name = "bn_stats"
    batchwide = True

    def __init__(self, norms: dict[str, NormAffine], first: float = 10.0) -> None:
        if not norms:
            raise FlowamError("bn_stats needs a model with batch norms; this one has none")
        if first < 0:
            raise FlowamError(f"bn_stats_first={first} must not be negative")
        self.norms = norms
        self.layers = tuple(norms)
        self.first = first

    def value(self, ctx: Context) -> Tensor:
        total = ctx.logits.new_zeros(())
        for i, (layer, norm) in enumerate(self.norms.items()):
            y = ctx.activations[layer]
            gamma, beta = norm.weight.to(y), norm.bias.to(y)
            live = gamma.abs() > 1e-4  # a channel with γ ≈ 0 carries nothing to match
            shape = (1, -1) + (1,) * (y.dim() - 2)
            z = (y - beta.view(shape)) / torch.where(live, gamma, 1.0).view(shape)
            z = z.transpose(0, 1).flatten(1)[live]  # (C, everything else)
            var, mean = torch.var_mean(z, dim=1, correction=0)
            loss = mean.norm() + (var - 1).norm()
            total = total + (self.first if i == 0 else 1.0) * loss
        return -total.expand(len(ctx.logits))


class LogSpacing(Objective):
    """Clumps and gaps by the log of the neighbour spacing, penalised (see the module
    docstring).

    Args:
        k: nearest neighbours whose squared distances are averaged (3).
    """

    name = "spacing_log"
    reads_model = False

    def __init__(self, k: int = 3) -> None:
        if k < 1:
            raise FlowamError(f"spacing_log needs k >= 1 neighbours, got {k}")
        self.k = k

    def value(self, ctx: Context) -> Tensor:
        pts = ctx.points
        with torch.no_grad():
            idx = knn(pts.transpose(1, 2), self.k + 1)[:, :, 1:]
        d2 = ((pts[:, :, None] - gather_points(pts, idx)) ** 2).sum(-1).mean(-1) + 1e-12
        typical = d2.detach().median(dim=1, keepdim=True).values
        return -(d2 / typical).log().abs().mean(-1)


class QuantileAlignment(Objective):
    """VITAL's sort matching of a per-point layer against its class's mean sorted
    activations of real objects (see the module docstring); the statistics are
    :class:`~flowam.stats.ClassStatistics` means of :func:`quantiles`, under the name
    ``quantile_key(layer, count)``.

    Args:
        layer: a per-point layer (see :mod:`flowam.hooks`).
        count: quantiles per channel.
    """

    def __init__(self, layer: str, count: int = 32) -> None:
        if count < 1:
            raise FlowamError(f"quantile_count={count} must be at least 1")
        self.layer, self.count = layer, count
        self.layers = (layer,)
        self.name = f"quantile:{layer}"
        self._targets: Tensor | None = None

    def setup(self, batch: Batch) -> None:
        key = quantile_key(self.layer, self.count)
        if batch.stats is None or key not in batch.stats.means:
            raise FlowamError(f"quantile alignment on {self.layer!r} needs its class quantiles")
        self._targets = batch.stats.target(key, batch.targets)

    def value(self, ctx: Context) -> Tensor:
        sorted_ = quantiles(ctx.activations[self.layer], self.count).flatten(1)
        targets = self._targets.to(sorted_).repeat_interleave(ctx.copies, 0)
        gap = ((sorted_ - targets) ** 2).sum(1)
        return -gap / (targets**2).sum(1).clamp_min(1e-12)
