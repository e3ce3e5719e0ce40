"""The one optimisation loop behind every method.

:func:`optimize` takes a model, an objective, step transforms, initial clouds and their
targets, and runs gradient ascent on all clouds at once, split into chunks of
``chunk_size`` clouds (on this kind of CPU, small batches are faster per cloud than large
ones; a GPU takes them all). Every cloud is an independent problem: the model is in eval
mode, the loss is a sum over clouds, Adam and SGD update element-wise, and every random
draw comes from the cloud's own seed, so a batched run equals runs of single clouds with
the same seeds (up to floating-point reduction order).

The result, :class:`Explanations`, is a plain object: final points, targets, the
per-step history of every objective term and of the target logit and log-probability,
snapshots at chosen steps, and the configuration, which metrics and pictures take as is.
A stop (Ctrl-C or SIGTERM under the command line, :mod:`flowam.stopping`; a
``KeyboardInterrupt`` from Python) ends the loop and returns what has been computed so
far, with ``status`` ``stopped at step N``.
A cloud whose objective value or gradient becomes non-finite stops where it was (its last
finite state) while the others run on; ``status`` names the first such step and term.

The step loop keeps its state on the model's device: history rows, stopping masks and
finiteness flags are tensors there, and the host reads them only every
:data:`HOST_CHECK_EVERY` steps (has every cloud stopped?) and once at the end of a chunk.
On a GPU this removes the per-step round-trips; on the CPU it changes nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowam import stopping
from flowam.errors import FlowamError
from flowam.hooks import LayerRecorder
from flowam.objectives import Batch, Context, Objective
from flowam.ops import soft_max_backward
from flowam.param import Parameterization
from flowam.progress import bar as progress_bar
from flowam.robustness import Robustness
from flowam.seeding import cloud_seed, generator
from flowam.speed import DEFAULT, Speed, autocast, prepare
from flowam.stats import ClassStatistics
from flowam.transforms import Transform

HOST_CHECK_EVERY = {"cpu": 1}
"""Steps between the host's looks at the device-side stopping mask (all stopped: end), by
device type; a type not listed looks every 16 steps. Reading a flag costs nothing on the
CPU and a round-trip on a GPU; the results are the same either way."""
DEFAULT_CHUNK = {"cpu": 8}
"""Clouds per chunk by device type; a type not listed runs the whole batch at once.
``benchmarks/chunk_size.py`` measures the best value on a machine (2-core CPU, fused max
pooling: 11.6, 9.7, 8.2, 8.2 ms per cloud-step at chunks 2, 4, 8, 16; 4 was best before
the fusion)."""


@dataclass
class Explanations:
    """Explanations of one run (``B`` clouds), plain arrays throughout.

    Attributes:
        points: ``(B, N, 3)`` final clouds.
        targets: ``(B,)`` target class indices.
        restarts: ``(B,)`` restart index of each cloud.
        classes: every class name of the model (targets index this list).
        start: ``(B, N, 3)`` starting clouds.
        history: ``{name: (T + 1, B)}`` per-step values of each objective term (unweighted),
            ``"objective"`` (the weighted total), ``"logit"`` and ``"log_prob"`` of the
            target; row ``t`` is the state before update ``t``, the last row the final state.
        weights: weight of each objective term in the total.
        snapshots: ``{step: (B, N, 3)}`` clouds before the update of that step.
        steps_run: ``(B,)`` updates each cloud received (fewer when a stopping rule fired).
        config: the method and run settings that produced the result.
        status: ``finished``, or why the run stopped early.
    """

    points: np.ndarray
    targets: np.ndarray
    restarts: np.ndarray
    classes: list[str]
    start: np.ndarray
    history: dict[str, np.ndarray]
    weights: dict[str, float]
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)
    steps_run: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    config: dict[str, Any] = field(default_factory=dict)
    status: str = "finished"

    def __len__(self) -> int:
        return len(self.points)

    @property
    def target_names(self) -> list[str]:
        return [self.classes[t] for t in self.targets]

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    @property
    def stopped_early(self) -> bool:
        """Whether an optimisation stopped before its last step (a start row never does)."""
        return self.status not in ("finished", "initialization")

    @property
    def bound(self) -> float:
        """The legality bound ``C`` of the method that made them (1 where the config names
        no method; a config read from a file is checked by
        :func:`flowam.readback.method_bound`)."""
        method = self.config.get("method") or {}
        return float(method.get("objective", {}).get("bound", 1.0))

    def subset(self, index: np.ndarray) -> Explanations:
        """The explanations at ``index`` ``(K,)``, in that order (their histories,
        snapshots and steps too)."""
        return dataclasses.replace(
            self,
            points=self.points[index],
            targets=self.targets[index],
            restarts=self.restarts[index],
            start=self.start[index],
            history={k: v[:, index] for k, v in self.history.items()},
            snapshots={k: v[index] for k, v in self.snapshots.items()},
            steps_run=self.steps_run[index],
        )


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and no parameter gradients for the block; the previous state comes back."""
    was_training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(was_training)


def log_rest(logits: Tensor, targets: Tensor) -> Tensor:
    """``(B,)`` log of the probability of every class but the target, computed stably.

    Where the target's probability rounds to 1, ``log p`` is 0 in float32 and says nothing
    more; ``log(1 - p)`` keeps decreasing, which makes stopping rules precise.
    """
    others = logits.scatter(1, targets[:, None], float("-inf"))
    return torch.logsumexp(others, 1) - torch.logsumexp(logits, 1)


OPTIMIZERS = ("adam", "sgd")
LR_DECAYS = ("none", "cosine")


@dataclass(frozen=True)
class Run:
    """How the optimiser runs: a method's ``[run]`` (``run.steps``, ``run.lr``, ...)."""

    steps: int = 300
    optimizer: str = "adam"  # adam | sgd
    lr: float = 0.01
    lr_decay: str = "none"  # none | cosine: the step size falls from lr to 0 over the steps
    stop_log_prob: float | None = None  # a cloud stops once log p(target) reaches this
    converge_steps: int = 0  # stop when the objective gained < converge_tol in that many steps
    converge_tol: float = 1e-4
    keep_best: bool = False  # return each cloud at its step of highest target logit
    select_from: int = 1  # each explanation the most stable of that many runs (flowam.selection)
    soft_pool: float = 0.0  # share of the first steps with a soft backward through max pooling
    soft_pool_temperature: float = 1.0  # in units of the pooled values' spread

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise FlowamError(f"run.steps={self.steps} must be at least 1")
        if not self.lr > 0:
            raise FlowamError(f"run.lr={self.lr} must be above 0")
        for name, choices in (("optimizer", OPTIMIZERS), ("lr_decay", LR_DECAYS)):
            if getattr(self, name) not in choices:
                raise FlowamError(
                    f"unknown run.{name} {getattr(self, name)!r}; choose one of "
                    f"{', '.join(choices)}"
                )
        if self.select_from < 1:
            raise FlowamError(f"run.select_from={self.select_from} must be at least 1")
        if self.soft_pool:
            self.pooling()
        elif not self.soft_pool_temperature > 0:
            raise FlowamError(
                f"run.soft_pool_temperature={self.soft_pool_temperature} must be above 0"
            )

    def pooling(self) -> SoftPool | None:
        """The soft backward through max pooling, or None where ``soft_pool`` is 0."""
        return SoftPool(self.soft_pool, self.soft_pool_temperature) if self.soft_pool else None


@dataclass(frozen=True)
class SoftPool:
    """A soft backward pass through every max pooling for the first ``share`` of the
    steps (:func:`flowam.ops.soft_max_backward` at ``temperature``); the forward pass,
    and so every value the objective reads, is the model's own."""

    share: float
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.share <= 1:
            raise FlowamError(f"run.soft_pool={self.share} must be a share of the steps in (0, 1]")
        if not self.temperature > 0:
            raise FlowamError(f"run.soft_pool_temperature={self.temperature} must be above 0")

    def holds(self, step: int, steps: int) -> bool:
        return step < self.share * steps


@dataclass
class _Shaping:
    """How the clouds are seen and moved: transformation robustness, the
    parameterization, whether each cloud's best step is kept, the precision of the
    model's forward pass (:mod:`flowam.speed`) and a soft backward through max pooling."""

    augment: Robustness | None = None
    param: Parameterization | None = None
    keep_best: bool = False
    precision: str = "fp32"
    soft_pool: SoftPool | None = None


def _forward(model, points, layers, batch, num_classes, shaping: _Shaping, step: int) -> Context:
    """The model on the clouds (each followed by its transformed copies under transformation
    robustness), in the shaping's precision; logits and activations come back in float32."""
    augment = shaping.augment
    seen = augment(points, step, batch.seeds) if augment else points
    sampling = augment.sampling_context(len(points)) if augment else contextlib.nullcontext()
    with (
        LayerRecorder(model, layers) as rec,
        autocast(points.device, shaping.precision),
        sampling,
    ):
        logits = model(seen)
    if not isinstance(logits, Tensor) or logits.shape != (seen.shape[0], num_classes):
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise FlowamError(
            f"model output is {shape}, expected (B, num_classes) = ({seen.shape[0]}, "
            f"{num_classes}); wrap models that return tuples (see flowam.models)"
        )
    copies = augment.group if augment else 1
    activations = {k: v.float() for k, v in rec.activations.items()}
    return Context(points, logits.float(), activations, batch, copies)


def _evaluate(objective: Objective, ctx: Context) -> tuple[Tensor, dict[str, Tensor], Tensor]:
    """The weighted total ``(B,)``, each term's values, and ``(B,)`` whether every term of
    each cloud is finite."""
    values = {}
    for _, term in objective.terms():
        values[term.name] = ctx.per_cloud(term.value(ctx)) if term.reads_model else term.value(ctx)
    total = sum(w * values[t.name] for w, t in objective.terms())
    finite = torch.stack([torch.isfinite(v) for v in values.values()]).all(0)
    return total, values, finite


def _culprit(model, points, objective, batch, num_classes, shaping, step) -> str:
    """Name what became non-finite at ``step`` (only called when that happened): the first
    term whose value, else whose gradient, is not finite."""
    probe = points.detach().clone().requires_grad_(True)
    ctx = _forward(model, probe, objective.layers, batch, num_classes, shaping, step)
    terms = [term for _, term in objective.terms()]
    values = [term.value(ctx) for term in terms]
    for term, v in zip(terms, values, strict=True):
        if not torch.isfinite(v).all():
            return f"non-finite value of objective term {term.name!r} at step {step}"
    for term, v in zip(terms, values, strict=True):
        (grad,) = torch.autograd.grad(v.sum(), probe, retain_graph=True, allow_unused=True)
        if grad is not None and not torch.isfinite(grad).all():
            return f"non-finite gradient of objective term {term.name!r} at step {step}"
    return f"non-finite gradient of the objective at step {step}"


@dataclass
class _Chunk:
    """What one chunk of clouds produced."""

    points: Tensor
    history: dict[str, np.ndarray]
    snapshots: dict[int, Tensor]
    steps_run: Tensor
    status: str


def _run_chunk(
    models, objective, transforms, shaping, start, batch, run: Run, num_classes, snap_steps, bar
) -> _Chunk:
    """Optimise one chunk of clouds.

    ``models``: the prepared model, and its unfused copy for the steps of a soft backward
    through max pooling (``shaping.soft_pool``; else None).

    The history always has ``steps + 1`` rows: a cloud that stopped (stopping rule,
    convergence, non-finite value or gradient) repeats its last row, and when every cloud
    has stopped or the run is stopped the remaining rows repeat the last one. Points,
    snapshots and steps run come back on the CPU.
    """
    steps = run.steps
    chart = (shaping.param or Parameterization()).chart(start, batch.seeds)
    param = chart.param
    # the clouds exactly as the step transforms left them: through a parameterization they
    # come back only up to rounding, which would undo a projection onto [-C, C] by 1e-7
    transformable = shaping.param is None or shaping.param.transformable
    kept = start.clone() if transformable else chart.cloud().detach().clone()
    best = kept.clone()  # each cloud at its highest target logit so far (keep_best)
    device = start.device
    best_logit = torch.full((len(start),), -torch.inf, device=device)

    opt_cls = torch.optim.Adam if run.optimizer == "adam" else torch.optim.SGD
    optimizer = opt_cls([param], lr=run.lr)
    objective.setup(batch)
    active = torch.ones(len(start), dtype=torch.bool, device=device)
    failed_at = torch.full((len(start),), -1, dtype=torch.long, device=device)
    steps_run = torch.zeros(len(start), dtype=torch.long, device=device)
    history: dict[str, list[Tensor]] = {}
    snapshots: dict[int, Tensor] = {}
    stop_lp = run.stop_log_prob
    # log p >= stop  <=>  log(1 - p) <= log(1 - e^stop); the right side stays exact in float32
    stop_rest = None if stop_lp is None else float(np.log(-np.expm1(stop_lp)))
    patience, tol = run.converge_steps, run.converge_tol
    status, step = "finished", 0
    check_every = HOST_CHECK_EVERY.get(device.type, 16)

    def per_cloud(mask: Tensor, like: Tensor) -> Tensor:
        return mask.view(-1, *([1] * (like.dim() - 1)))

    def fail(bad: Tensor) -> None:
        """Stop the clouds in ``bad`` where they are, remembering the step."""
        failed_at.copy_(torch.where(bad & (failed_at < 0), step, failed_at))
        active.copy_(active & ~bad)

    def observe(step: int) -> Tensor:
        """Forward pass, objective terms and history row; returns the total and updates the
        stopping masks."""
        points = chart.cloud()
        if step in snap_steps:
            snapshots[step] = kept.cpu().clone()
        soft = shaping.soft_pool
        softly = soft is not None and soft.holds(step, steps)
        with soft_max_backward(soft.temperature) if softly else contextlib.nullcontext():
            ctx = _forward(
                models[softly], points, objective.layers, batch, num_classes, shaping, step
            )
        total, values, finite = _evaluate(objective, ctx)
        fail(active & ~finite)
        target, logits = batch.targets[:, None], ctx.own_logits
        row = {
            **values,
            "objective": total,
            "logit": logits.gather(1, target)[:, 0],
            "log_prob": F.log_softmax(logits, 1).gather(1, target)[:, 0],
        }
        for k, v in row.items():
            v = v.detach().float()
            rows = history.setdefault(k, [])
            rows.append(torch.where(active, v, rows[-1]) if rows else v)
        if shaping.keep_best:
            logit = row["logit"].detach()
            better = active & (logit > best_logit)
            best_logit.copy_(torch.where(better, logit, best_logit))
            best.copy_(torch.where(per_cloud(better, best), kept, best))
        if stop_rest is not None:
            active.copy_(active & (log_rest(logits.detach(), batch.targets) > stop_rest))
        if patience and step >= patience:
            gained = history["objective"][-1] - history["objective"][-1 - patience]
            active.copy_(active & (gained > tol))
        return torch.where(active, total, torch.zeros_like(total))

    try:
        for step in range(steps + 1):
            if stopping.requested() is not None:
                status = f"stopped at step {step}"
                break
            total = observe(step)
            if step == steps or (step % check_every == 0 and not active.any()):
                break
            optimizer.zero_grad()
            if run.lr_decay == "cosine":  # from lr at the first step towards 0 at the last
                optimizer.param_groups[0]["lr"] = run.lr * 0.5 * (1 + np.cos(np.pi * step / steps))
            (-total.sum()).backward()
            grad = param.grad
            fail(active & ~torch.isfinite(grad).flatten(1).all(1))
            with torch.no_grad():
                moving = per_cloud(active, param)
                held = chart.held(step, steps)
                if held is not None:
                    moving = moving & ~held
                grad.copy_(torch.where(moving, grad, torch.zeros_like(grad)))
                before = param.detach().clone()
                optimizer.step()
                param.copy_(torch.where(moving, param, before))  # a stopped cloud stays
                new = chart.cloud().detach()
                for t in transforms:
                    new = t.apply(new, step, batch.seeds)
                new = torch.where(per_cloud(active, new), new, kept)
                if transforms:
                    chart.set(new)
                kept.copy_(new)
            steps_run += active.long()
            bar.update(1)
    except KeyboardInterrupt:
        status = f"stopped at step {step}"
    failed = failed_at[failed_at >= 0]
    if len(failed):
        step = int(failed.min())
        status = _culprit(models[0], kept, objective, batch, num_classes, shaping, step)
    final = (best if shaping.keep_best else kept).cpu().clone()
    if not status.startswith("stopped"):  # the clouds stopped early stay where they are
        for s in snap_steps:
            snapshots.setdefault(s, final)
    hist = {}
    for k, rows in history.items():
        rows = rows + [rows[-1]] * (steps + 1 - len(rows))
        hist[k] = torch.stack(rows[: steps + 1]).cpu().numpy()
    return _Chunk(final, hist, snapshots, steps_run.cpu(), status)


def optimize(
    model: nn.Module,
    objective: Objective,
    start: Tensor,
    targets: Sequence[int],
    classes: Sequence[str],
    run: Run,
    *,
    transforms: Sequence[Transform] = (),
    augment: Robustness | None = None,
    param: Parameterization | None = None,
    start_noise: float = 0.0,
    stats: ClassStatistics | None = None,
    restarts: Sequence[int] | None = None,
    group: int = 1,
    seed: int = 0,
    snapshots: Sequence[int] = (),
    chunk_size: int | None = None,
    speed: Speed = DEFAULT,
    progress: bool = True,
) -> Explanations:
    """Maximise ``objective`` for every cloud of ``start``.

    Args:
        model: the classifier (any device; the clouds follow it).
        objective: what to maximise per cloud.
        start: ``(B, N, 3)`` starting clouds.
        targets: ``B`` target class indices.
        classes: all class names of the model.
        run: steps, step size and its decay, optimiser, stopping rules, ``keep_best``
            (each cloud at the step of its highest target logit instead of the last) and
            ``soft_pool`` (a soft backward pass through max pooling for a share of the
            first steps, :class:`SoftPool`; the model then runs without fused max
            pooling); stored in the result.
        transforms: operations after each step (blur, iteration noise).
        augment: transformation robustness: the model-reading terms are averaged over
            each cloud and its randomly transformed copies (:mod:`flowam.robustness`).
        param: what the optimiser moves instead of the coordinates (a Laplacian-smoothed
            version of them, a generator's latent code: :mod:`flowam.param`).
        start_noise: Gaussian noise added to each start, of this amplitude times the
            cloud's coordinate standard deviation (supplement S1-D), from the cloud's seed.
        stats: class statistics for latent alignment.
        restarts: restart index of each cloud (default all 0); with ``targets`` and
            ``seed`` it fixes each cloud's seed.
        group: consecutive clouds that are optimised in the same chunk, never split (a
            class's restarts, for terms that compare them:
            :class:`~flowam.objectives.Diversity`); a chunk holds a whole number of
            groups, at least one. An objective with a term over the whole batch
            (``batchwide``: batch-norm statistics) keeps every cloud in one chunk.
        seed: run seed.
        snapshots: steps at which to keep a copy of the clouds (each within 0..steps).
        chunk_size: clouds optimised together (default by device, :data:`DEFAULT_CHUNK`).
        speed: how the model runs (:mod:`flowam.speed`): by default with its batch norms
            folded into the preceding layers and PointNet's widest layer fused with its
            max pooling (the same function up to float32 rounding);
            ``flowam.speed.PLAIN`` runs it as given.
        progress: show a progress bar.
    """
    device = next(model.parameters()).device
    b = len(targets)
    restarts = list(restarts) if restarts is not None else [0] * b
    if start.shape[0] != b or len(restarts) != b or start.ndim != 3 or start.shape[-1] != 3:
        raise FlowamError(f"start must be (B, N, 3) with B = {b} targets, got {tuple(start.shape)}")
    seeds = [cloud_seed(seed, int(t), int(r)) for t, r in zip(targets, restarts, strict=True)]
    clouds = start.detach().float().cpu().clone()
    amp = float(start_noise)
    if amp:
        for i, s in enumerate(seeds):
            eps = torch.randn(clouds.shape[1:], generator=generator(s, "start"))
            clouds[i] += amp * clouds[i].std() * eps
    chunk = chunk_size or DEFAULT_CHUNK.get(device.type, b) or b
    if group < 1:
        raise FlowamError(f"group={group} must be at least 1")
    outside = sorted(k for k in snapshots if not 0 <= k <= run.steps)
    if outside:
        raise FlowamError(f"snapshot step {outside[0]} is outside the run's steps 0..{run.steps}")
    if any(term.batchwide for _, term in objective.terms()):
        group = b  # a term over the whole batch sees the whole batch
    chunk = max(chunk // group, 1) * group
    targets_t = torch.as_tensor(list(targets), dtype=torch.long)
    parts, status = [], "finished"
    bar = progress_bar(
        total=run.steps * -(-b // chunk),
        desc="explaining",
        unit="step",
        progress=progress,
        leave=False,
    )
    soft_pool = run.pooling()
    with frozen(model):
        prepared = prepare(model, objective.layers, speed)
        unfused = dataclasses.replace(speed, fuse_max_pool=False) if soft_pool else None
        models = (prepared, prepare(model, objective.layers, unfused) if unfused else None)
        for lo in range(0, b, chunk):
            hi = min(lo + chunk, b)
            batch = Batch(targets_t[lo:hi].to(device), seeds[lo:hi], stats)
            out = _run_chunk(
                models,
                objective,
                transforms,
                _Shaping(augment, param, run.keep_best, speed.precision, soft_pool),
                clouds[lo:hi].to(device),
                batch,
                run,
                len(classes),
                set(snapshots),
                bar,
            )
            parts.append(out)
            if out.status != "finished" and status == "finished":
                status = out.status  # the first chunk's reason; a non-finite cloud stops
            if out.status.startswith("stopped"):  # a stop ends the run, not just the chunk
                break
    bar.close()
    done = sum(len(p.points) for p in parts)
    return Explanations(
        points=torch.cat([p.points for p in parts]).numpy(),
        targets=targets_t[:done].numpy(),
        restarts=np.asarray(restarts[:done]),
        classes=list(classes),
        start=clouds[:done].numpy(),
        history={
            k: np.concatenate([p.history[k] for p in parts], axis=1) for k in parts[0].history
        },
        weights={t.name: w for w, t in objective.terms()},
        snapshots={
            k: torch.cat([p.snapshots[k] for p in parts]).numpy()
            for k in sorted(parts[0].snapshots)
        },
        steps_run=torch.cat([p.steps_run for p in parts]).numpy(),
        config={
            **dataclasses.asdict(run),
            "start_noise": start_noise,
            "seed": seed,
            "chunk_size": chunk,
            "objective": repr(objective),
            "speed": dataclasses.asdict(speed),
        },
        status=status,
    )
