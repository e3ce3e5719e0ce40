"""The high-level verb: explain classes of a model with a named method.

>>> model, info = load_classifier()                          # the bundled PointNet
>>> real = load_dataset("procedural", "test", num_points=info.num_points)
>>> explainer = Explainer(model, real)
>>> result = explainer.explain(["table", "chair"], method="flow", restarts=4)
>>> result.points.shape                                        # (8, N, 3)

The real objects (``real``) supply the class statistics of latent alignment and the
initial clouds; their class names must be the model's, in logit order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from flowam import cache
from flowam.damage import damaged
from flowam.data import PointCloudDataset
from flowam.engine import Explanations, frozen, optimize
from flowam.errors import FlowamError
from flowam.generative import Generator, generator_name, load_generator, resolve_generator
from flowam.hooks import INPUT_SUFFIX, batch_norm_calls
from flowam.methods import (
    AUTO,
    MethodConfig,
    build,
    load_method,
    parameterization,
    robustness,
)
from flowam.metrics import Evaluator
from flowam.metrics.frechet import feature_layers
from flowam.objectives import batch_norms
from flowam.param import Latent, PointsConfig, start_clouds
from flowam.seeding import cloud_seed
from flowam.selection import best_of, stability
from flowam.speed import DEFAULT, Speed
from flowam.stats import class_means, quantile_key


class Explainer:
    """Explains one classifier, with statistics taken from one set of real objects.

    Args:
        model: maps ``(B, N, 3)`` to ``(B, C)`` logits.
        real: real objects whose ``classes`` are the model's classes, in logit order.
        speed: how the engine runs the model (:mod:`flowam.speed`).
        judges: other classifiers of the same classes whose verdict on each explanation
            is scored (cross-architecture recognition; see
            :func:`flowam.models.load_judges`).
        turns: scores against real objects allow this many turns about the up axis
            (:class:`~flowam.metrics.Evaluator`; 1: none): for a model trained with
            turns, which cannot prefer a facing.
    """

    def __init__(
        self,
        model: nn.Module,
        real: PointCloudDataset,
        speed: Speed = DEFAULT,
        judges: dict[str, nn.Module] | None = None,
        turns: int = 1,
    ) -> None:
        self.model = model
        self.real = real
        self.speed = speed
        self.judges = dict(judges or {})
        self.turns = turns
        self.classes = list(real.classes)
        self._done: dict[str, Explanations] = {}  # finished runs, so a repeat is free
        self._evaluators: dict[int, Evaluator] = {}
        self._generators: dict[str, Generator] = {}

    def twin(self, model: nn.Module) -> Explainer:
        """An explainer of another model (a damaged copy) with the same real objects,
        speed settings and judges (which judge its explanations as they judge this
        model's)."""
        return Explainer(model, self.real, self.speed, self.judges, self.turns)

    def damaged(self, damage: str = "randomized", level: float = 0.0, seed: int = 0) -> Explainer:
        """The :meth:`twin` of a damaged copy of this model
        (:func:`flowam.damage.damaged`: ``randomized``, ``dropout`` at ``P_D =
        level``, ``cascade`` of the top ``level`` layers)."""
        return self.twin(damaged(self.model, damage, self._example(), level, seed))

    def _example(self) -> torch.Tensor:
        """``(2, N, 3)`` two real objects: a forward pass to probe the model with."""
        return torch.from_numpy(self.real.points[:2])

    def evaluator(self, seed: int = 0) -> Evaluator:
        """The :class:`~flowam.metrics.Evaluator` of this model and these real objects.

        One per seed, kept, so that scoring many runs computes the real objects'
        features once.
        """
        if seed not in self._evaluators:
            self._evaluators[seed] = Evaluator(
                self.model, self.real, seed=seed, judges=self.judges, turns=self.turns
            )
        return self._evaluators[seed]

    def _loaded(self, spec: str) -> Generator:
        """A generator (``bundled:<kind>`` or a file), loaded once, frozen, on the model's
        device."""
        if spec not in self._generators:
            device = next(self.model.parameters()).device
            generator, _ = load_generator(resolve_generator(spec), device=str(device))
            generator.requires_grad_(False)
            self._generators[spec] = generator
        return self._generators[spec]

    def generator(self, spec: str) -> Generator:
        """The generator of latent AM (see :meth:`_loaded`); its number of points must be
        the real objects'."""
        generator = self._loaded(spec)
        if generator.num_points != self.real.num_points:
            raise FlowamError(
                f"generator {spec}: makes clouds of {generator.num_points} points, the "
                f"model's real objects have {self.real.num_points}"
            )
        return generator

    def targets(self, names: Sequence[str | int] | None) -> list[int]:
        """Class indices for names (or indices); None means every class that has real
        objects (all of them, unless the real objects cover only some of the model's
        classes: :func:`flowam.data.load_for_model`)."""
        if names is None:
            return [self.classes.index(c) for c in self.real.covered]
        out = []
        for name in names:
            if isinstance(name, (int, np.integer)):
                if not 0 <= name < len(self.classes):
                    raise FlowamError(f"class index {name} outside 0..{len(self.classes) - 1}")
                out.append(int(name))
            elif name in self.classes:
                out.append(self.classes.index(name))
            else:
                raise FlowamError(
                    f"unknown class {name!r}; valid classes: {', '.join(self.classes)}"
                )
        return out

    def _batch(
        self, classes: Sequence[str | int] | None, restarts: int, seed: int
    ) -> tuple[list[int], list[int], list[int]]:
        """Target, restart index and seed of every cloud: classes major, restarts minor."""
        chosen = self.targets(classes)
        targets = [t for t in chosen for _ in range(restarts)]
        runs = [r for _ in chosen for r in range(restarts)]
        return targets, runs, [cloud_seed(seed, t, r) for t, r in zip(targets, runs, strict=True)]

    def resolve(
        self, method: str | MethodConfig, *, progress: bool = True, **overrides: Any
    ) -> MethodConfig:
        """The method's config with overrides applied, ``objective.align="auto"``,
        ``objective.diversity_layer="auto"`` (the model's global feature) and
        ``objective.quantile_layer="auto"`` (its last per-point batch norm) resolved
        (``progress``: show the bar of the layer analysis' raw AM, where ``auto`` runs it)."""
        config = load_method(method) if isinstance(method, str) else method
        config = config.replace(overrides) if overrides else config
        objective = config.objective
        if objective.align == AUTO:
            from flowam.analysis import auto_alignment

            weights = auto_alignment(self, progress=progress).weights
            config = config.replace({"objective.align": weights})
        if objective.diversity and objective.diversity_layer == AUTO:
            global_feature = feature_layers(self.model)["global"]
            config = config.replace({"objective.diversity_layer": global_feature})
        if objective.quantile and objective.quantile_layer == AUTO:
            calls = batch_norm_calls(self.model, self._example())
            norms = [name for name, dims in calls.items() if dims >= 3]
            if not norms:
                raise FlowamError(
                    f"objective.quantile_layer='auto': this {type(self.model).__name__} has no "
                    "batch norm over points; name a per-point layer"
                )
            config = config.replace({"objective.quantile_layer": norms[-1]})
        return config

    def misfit(self, method: str | MethodConfig) -> str | None:
        """Why the method cannot explain this model, or None when it can: a layer it
        aligns is not in the model (``auto`` always fits: it chooses among the model's own
        layers), or its generator makes clouds of another size."""
        config = load_method(method) if isinstance(method, str) else method
        modules = dict(self.model.named_modules())
        objective = config.objective
        if objective.align != AUTO:
            missing = [a for a in objective.align if a.removesuffix(INPUT_SUFFIX) not in modules]
            if missing:
                return (
                    f"it aligns {missing[0]!r}, a layer of another architecture "
                    f"(this is a {type(self.model).__name__}; flow-auto chooses its own)"
                )
        layer = objective.diversity_layer
        if (
            objective.diversity
            and layer != AUTO
            and layer.removesuffix(INPUT_SUFFIX) not in modules
        ):
            return (
                f"its objective.diversity_layer {layer!r} is not a layer of this "
                f"{type(self.model).__name__} (diversity_layer='auto' takes its global feature)"
            )
        if config.generator is not None:
            made = self._loaded(config.generator).num_points
            if made != self.real.num_points:
                return (
                    f"its generator makes clouds of {made} points, this model's have "
                    f"{self.real.num_points}"
                )
        return None

    def fitting(self, methods: Sequence[str], log: Callable[[str], None] = print) -> list[str]:
        """The methods that can explain this model; each other one is logged with why."""
        chosen = []
        for m in methods:
            reason = self.misfit(m)
            if reason:
                log(f"skipped {m}: {reason}")
            else:
                chosen.append(m)
        return chosen

    def starts(
        self,
        classes: Sequence[str | int] | None,
        kind: str,
        restarts: int = 1,
        seed: int = 0,
        generator: str | None = None,
    ) -> Explanations:
        """The starting clouds themselves, as a result (no step taken): a baseline row.

        With ``generator`` (latent AM's), the clouds latent AM actually starts from: the
        decoding of each start's code, ``decode(encode(start))``.
        """
        targets, runs, seeds = self._batch(classes, restarts, seed)
        clouds = start_clouds(kind, self.real.num_points, self.real, targets, seeds)
        config: dict[str, Any] = {
            "start": kind,
            "seed": seed,
            "real_objects": self.real.description,
        }
        if generator is not None:  # the same chart latent AM optimises through
            ae = self.generator(generator).ae
            begin = torch.from_numpy(clouds).to(next(ae.parameters()).device)
            with torch.no_grad():
                decoded = Latent(ae).chart(begin).cloud()
            clouds, config["generator"] = decoded.cpu().numpy(), generator
        return Explanations(
            points=clouds,
            targets=np.array(targets),
            restarts=np.array(runs),
            classes=self.classes,
            start=clouds,
            history={},
            weights={},
            steps_run=np.zeros(len(targets), dtype=np.int64),
            config=config,
            status="initialization",
        )

    @staticmethod
    def start_label(kind: str, generator: str | None = None) -> str:
        """The row label of a start: ``start: mean``; for the decoded start of latent AM
        ``start: mean → ae`` (:func:`~flowam.generative.training.generator_name`)."""
        return f"start: {kind}" + (f" → {generator_name(generator)}" if generator else "")

    def explain(
        self,
        classes: Sequence[str | int] | None = None,
        method: str | MethodConfig = "flow",
        *,
        restarts: int = 1,
        seed: int = 0,
        snapshots: Sequence[int] = (),
        chunk_size: int | None = None,
        progress: bool = True,
        **overrides: Any,
    ) -> Explanations:
        """Generate ``len(classes) × restarts`` explanations in one batched run.

        Args:
            classes: class names or indices (default: all).
            method: a preset name, a method file, or a :class:`MethodConfig`.
            restarts: explanations per class (they differ through the seeds of random
                initialisation and noise).
            seed: run seed.
            snapshots: steps at which to keep copies of the clouds.
            chunk_size: clouds optimised together (default by device).
            progress: show a progress bar.
            **overrides: method options to replace, by section or dotted name
                (``run={"steps": 100}``, ``**{"run.lr": 0.005}``: :meth:`MethodConfig.replace`).
        """
        if restarts < 1:
            raise FlowamError(f"restarts={restarts} must be at least 1")
        targets = self.targets(classes)
        config = self.resolve(method, progress=progress, **overrides)
        terms = config.objective
        layers = list(terms.align)  # a table of layer weights once resolved
        if terms.quantile:
            layers.append(quantile_key(terms.quantile_layer, terms.quantile_count))
        stats = class_means(self.model, self.real, layers, classes=targets) if layers else None
        sizes = {layer: m.shape[1] for layer, m in stats.means.items()} if stats else None
        generator = self.generator(config.generator) if config.generator else None
        norms = batch_norms(self.model, self._example()) if terms.bn_stats else None
        objective, transforms = build(config, sizes, generator, norms)
        runs = restarts * config.run.select_from  # candidates, select_from per explanation
        batch_targets, batch_restarts, seeds = self._batch(targets, runs, seed)
        start = torch.from_numpy(
            start_clouds(config.start, self.real.num_points, self.real, batch_targets, seeds)
        )
        key = cache.key(
            {
                "targets": batch_targets,
                "restarts": restarts,
                "seed": seed,
                "snapshots": list(snapshots),
                "chunk": chunk_size,
                "speed": dataclasses.asdict(self.speed),
                "method": config.to_dict(),
            }
        )
        if key in self._done:
            return self._done[key]
        result = optimize(
            self.model,
            objective,
            start,
            batch_targets,
            self.classes,
            config.run,
            transforms=transforms,
            augment=robustness(config),
            param=parameterization(config, generator),
            start_noise=config.param.start_noise if isinstance(config.param, PointsConfig) else 0.0,
            stats=stats,
            restarts=batch_restarts,
            group=runs if terms.diversity else 1,
            seed=seed,
            snapshots=snapshots,
            chunk_size=chunk_size,
            speed=self.speed,
            progress=progress,
        )
        if config.run.select_from > 1 and result.finished:
            with frozen(self.model):
                scores = stability(
                    self.model,
                    result.points,
                    result.targets,
                    seeds,
                    robustness(config),
                    config.run.steps + 1,
                )
            result = result.subset(best_of(scores, config.run.select_from))
            result.restarts = result.restarts // config.run.select_from
        result.config = {
            **result.config,
            "method": config.to_dict(),
            "restarts": restarts,
            "real_objects": self.real.description,
        }
        if result.finished:
            self._done[key] = result
        return result
