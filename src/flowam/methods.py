"""Named methods: presets of objectives, step transforms, initialisation and optimiser.

A method is a :class:`MethodConfig`; the presets live in ``flowam/configs/methods/*.toml``
(one file each) and every field can be overridden from Python (``replace``) or the
command line (``--set field=value``, ``--set align.fc2=0.5``). :func:`build` turns a
config into the objective and transforms the engine runs, so all methods share one engine.

Eq. 6 of the paper, ``L = L_AM + (1-β) L_LA + β L_C + L_LR``, is the preset ``flow``: with
``beta`` set, the alignment weights are multiplied by ``1 - beta`` and the continuity
weight is ``beta``. Alignment weights may be written ``"1e-9*N"``, meaning ``1e-9`` times
the number of activations of that layer (the paper's ``N_l × 1e-9``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from flowam.engine import SoftPool
from flowam.errors import FlowamError, FlowamWarning
from flowam.generative.networks import Generator
from flowam.objectives import (
    BatchStatistics,
    ClassLogit,
    Continuity,
    Diversity,
    L2Penalty,
    LatentAlignment,
    Legality,
    LogProbability,
    LogSpacing,
    NormAffine,
    Objective,
    QuantileAlignment,
    Realness,
    Sum,
    TotalVariation,
)
from flowam.param import START_KINDS, Latent, Parameterization, Smooth, start_kind
from flowam.param.mesh import Mesh, check_subdivisions
from flowam.param.parts import Parts
from flowam.robustness import Robustness
from flowam.sections import flatten, renamed, renamed_field, sections
from flowam.transforms import GaussianBlur, IterationNoise, LegalProjection, Transform

OPTIMIZERS = ("adam", "sgd")
LR_DECAYS = ("none", "cosine")
NOISES = ("start_noise", "latent_noise", "step_noise")
NOISE_LEVELS = {"low": 0.1, "high": 1.0}
"""Supplement S1-D's low and high noise amplitudes, relative to the noised tensor's std."""
AUTO = "auto"
DRAWN = {
    "assembly": ("an assembly of parts", "parts", "parts"),
    "mesh": ("a mesh", "icosphere", "mesh"),
}
"""The parameterizations that draw their cloud on a surface of their own (``drawn``): what
they are, what they start from, and the name of that start."""


@dataclass
class MethodConfig:
    """Everything that defines an activation-maximization method.

    Weights multiply terms that are maximised (penalties are negative already).
    """

    name: str = "custom"
    description: str = ""
    start: str = "gaussian"  # mean | medoid | sphere | gaussian | blobs | parts | mesh
    steps: int = 300
    optimizer: str = "adam"
    lr: float = 0.01
    lr_decay: str = "none"  # none | cosine: the step size falls from lr to 0 over the steps
    logit: float = 1.0  # weight of the target logit (Eq. 2)
    log_prob: float = 0.0  # weight of the target log-softmax
    align: dict[str, Any] | str = field(default_factory=dict)  # layer -> α_l, or "auto"
    beta: float | None = None  # Eq. 6: continuity β, alignment (1 - β)
    continuity: float = 0.0  # weight of Eq. 4 when beta is None
    boundary: float = 1.0  # B of Eq. 4
    continuity_target: str = "boundary"  # boundary (Eq. 4 as printed) | spacing
    legality: float = 0.0  # weight of Eq. 5
    bound: float = 1.0  # C of Eq. 5
    project: bool = False  # clamp into [-bound, bound] after every step
    reduce: str = "sum"  # penalties summed over points (as printed) or averaged
    l2: float = 0.0
    tv: float = 0.0
    tv_k: int = 8
    diversity: float = 0.0  # restarts of a class pushed apart in diversity_layer (Diversity)
    diversity_layer: str = "auto"  # a layer name; auto: the model's global feature
    bn_stats: float = 0.0  # DeepInversion's batch-norm statistics over the batch (BatchStatistics)
    bn_stats_first: float = 10.0  # the first batch norm's weight relative to the others
    bn_stats_layers: int = 0  # the first that many batch norms (nearest the input); 0: all
    spacing_log: float = 0.0  # clumps and gaps by the log of the kNN spacing (LogSpacing)
    spacing_k: int = 3
    quantile: float = 0.0  # VITAL's sort matching of a per-point layer (QuantileAlignment)
    quantile_layer: str = "auto"  # a layer name; auto: the last per-point batch norm
    quantile_count: int = 32
    robust_copies: int = 0  # transformation robustness: copies per cloud and step; 0 = off
    robust_yaw: float = 15.0  # degrees about the up axis
    robust_scale: float = 0.15  # factor in [1 - s, 1 + s]
    robust_shift: float = 0.1
    robust_jitter: float = 0.01
    robust_dropout: float = 0.0  # share of points dropped in each copy
    robust_sampling: bool = False  # copies re-sampled, the model's sampling started at random
    smooth: float = 0.0  # λ of the Laplacian-smoothed parameterization (flowam.param); 0 = off
    # (over the start's k-NN graph; over the mesh's edges with mesh = true)
    smooth_k: int = 8
    assembly: bool = False  # optimise cuboids on a tree instead of points (flowam.param.parts)
    part_min: float = 0.02  # the parts' smallest half-size
    part_normalize: bool = False  # the assembly centred and scaled into the unit sphere
    part_bend: bool = False  # each part bent by a free-form deformation (flowam.param.deform)
    part_bend_after: float = 0.0  # share of the steps the parts stay boxes (coarse to fine)
    part_union: bool = False  # draw only the surface of the parts' union (none buried inside)
    part_start_noise: float = 0.0  # noise on each cloud's start parameters (restarts apart)
    mesh: bool = False  # optimise a smoothed, re-sampled icosphere instead (flowam.param.mesh)
    mesh_subdivisions: int = 3  # the icosphere's: 642 vertices at 3
    generator: str | None = None  # latent AM through this generator ("bundled:ae", a file)
    realness: float = 0.0  # weight of the generator's discriminator score (aed, naed)
    keep_best: bool = False  # return each cloud at its step of highest target logit
    select_from: int = 1  # each explanation the most stable of that many runs (flowam.selection)
    soft_pool: float = 0.0  # share of the first steps with a soft backward through max pooling
    soft_pool_temperature: float = 1.0  # in units of the pooled values' spread
    blur_every: int = 0  # blur every that many steps; 0 = no blur
    blur_k: int = 8
    blur_sigma: float = 1.0
    start_noise: float = 0.0  # S1-D noise amplitudes (or "low"/"high", see NOISE_LEVELS)
    latent_noise: float = 0.0
    step_noise: float = 0.0
    stop_log_prob: float | None = None  # a cloud stops once log p(target) reaches this
    converge_steps: int = 0  # stop when the objective gained < converge_tol in that many steps
    converge_tol: float = 1e-4

    def check(self) -> MethodConfig:
        """Raise one line naming the option if a value cannot work; return self."""
        if self.beta is not None and not 0.0 <= self.beta <= 1.0:
            raise FlowamError(f"beta={self.beta} must be in [0, 1]")
        weights = ("logit", "log_prob", "continuity", "legality", "l2", "tv")
        weights += ("realness", "diversity", "bn_stats", "bn_stats_first", "spacing_log")
        weights += ("quantile",)
        for name in weights:
            if getattr(self, name) < 0:
                raise FlowamError(f"weight {name}={getattr(self, name)} must not be negative")
        if isinstance(self.align, dict):
            for layer, w in self.align.items():
                if parse_weight(w, 1, layer) < 0:
                    raise FlowamError(f"weight align.{layer}={w} must not be negative")
        elif self.align != AUTO:
            raise FlowamError(f"align={self.align!r} must be a table of layer weights or 'auto'")
        for name in NOISES:
            if getattr(self, name) < 0:
                raise FlowamError(f"{name}={getattr(self, name)} must not be negative")
        if not self.lr > 0:
            raise FlowamError(f"lr={self.lr} must be above 0")
        if self.latent_noise and not self.align:
            raise FlowamError(
                "latent_noise needs latent alignment (align = ...): it noises its targets"
            )
        if self.robust_copies < 0:
            raise FlowamError(f"robust_copies={self.robust_copies} must not be negative")
        if self.robust_sampling and not self.robust_copies:
            raise FlowamError("robust_sampling re-samples the copies: it needs robust_copies >= 1")
        if self.bn_stats_layers < 0:
            raise FlowamError(f"bn_stats_layers={self.bn_stats_layers} must not be negative")
        for name in ("spacing_k", "quantile_count", "select_from"):
            if getattr(self, name) < 1:
                raise FlowamError(f"{name}={getattr(self, name)} must be at least 1")
        if self.soft_pool:
            SoftPool(self.soft_pool, self.soft_pool_temperature)
        elif not self.soft_pool_temperature > 0:
            raise FlowamError(f"soft_pool_temperature={self.soft_pool_temperature} must be above 0")
        robustness(self)  # checks the ranges
        Smooth(self.smooth, self.smooth_k)
        moved = [n for n in ("project", "blur_every", "step_noise", "smooth") if getattr(self, n)]
        drawn = self.drawn
        if self.assembly and self.mesh:
            raise FlowamError("assembly=true and mesh=true are two parameterizations: choose one")
        if self.generator is not None:
            if moved or drawn:
                raise FlowamError(
                    f"{moved[0] if moved else drawn} cannot act on a latent code: latent AM"
                    f" (generator={self.generator!r}) takes no step transforms and no smoothing"
                )
        elif self.realness:
            raise FlowamError("realness needs a generator with a discriminator (generator=...)")
        if drawn:
            moved = [n for n in moved if not (self.mesh and n == "smooth")]  # a mesh's λ
            if moved:
                raise FlowamError(
                    f"{moved[0]} cannot act on {DRAWN[drawn][0]} ({drawn}=true clamps its points "
                    "into [-bound, bound] itself)"
                )
            if self.start_noise:
                raise FlowamError(
                    f"start_noise cannot act on {DRAWN[drawn][0]}: it starts from its own "
                    f"{DRAWN[drawn][1]}, not from the points noise would move"
                )
            if self.start != DRAWN[drawn][2]:
                raise FlowamError(
                    f"{drawn}=true starts from its own {DRAWN[drawn][1]}: set "
                    f"start='{DRAWN[drawn][2]}', not {self.start!r}"
                )
        for f in dataclasses.fields(self):  # a part_ or mesh_ option shapes nothing alone
            kind = {"part": "assembly", "mesh": "mesh"}.get(f.name.split("_")[0])
            alone = kind and f.name != kind and not getattr(self, kind)
            if alone and getattr(self, f.name) != f.default:
                raise FlowamError(f"{f.name} shapes {DRAWN[kind][0]}: it needs {kind}=true")
        if self.steps < 1:
            raise FlowamError(f"steps={self.steps} must be at least 1")
        if self.assembly:
            part_assembly(self)  # the assembly checks its own options
        if self.mesh:
            check_subdivisions(self.mesh_subdivisions)
        if self.start not in START_KINDS:
            raise FlowamError(
                f"unknown start {self.start!r}; choose one of {', '.join(START_KINDS)}"
            )
        if self.lr_decay not in LR_DECAYS:
            raise FlowamError(
                f"unknown lr_decay {self.lr_decay!r}; choose one of {', '.join(LR_DECAYS)}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise FlowamError(
                f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}"
            )
        return self

    @property
    def drawn(self) -> str | None:
        """``"assembly"`` or ``"mesh"`` where the method optimises a surface of its own and
        draws its cloud on it at every step (:mod:`flowam.param.surface`), else None."""
        return "assembly" if self.assembly else "mesh" if self.mesh else None

    @property
    def fixed_start(self) -> bool:
        """Whether the method starts from its own ``start`` only: an assembly of parts or a
        mesh moves its own surface, not the points of a given start, so experiments that
        run every method from a shared start run it from its own."""
        return self.drawn is not None

    def replace(self, **overrides: Any) -> MethodConfig:
        """A copy with fields replaced (a given ``align`` table replaces the old one)."""
        overrides = renamed(overrides, "method option")
        known = {f.name for f in dataclasses.fields(self)}
        unknown = [k for k in overrides if k not in known]
        if unknown:
            raise FlowamError(
                f"unknown method option {unknown[0]!r}; options: {', '.join(sorted(known))}"
            )
        for name in NOISES:
            if isinstance(overrides.get(name), str) and overrides[name] in NOISE_LEVELS:
                overrides[name] = NOISE_LEVELS[overrides[name]]
        if "start" in overrides:
            overrides["start"] = start_kind(overrides["start"], "method option")
        declared = {f.name: str(f.type) for f in dataclasses.fields(self)}
        for name, value in overrides.items():
            overrides[name] = _typed(name, value, declared[name])
        return dataclasses.replace(self, **overrides).check()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def sections(self) -> dict[str, Any]:
        """The method as a file in sections (:mod:`flowam.sections`): its name, description
        and every field that differs from the default, each in its section."""
        return sections(self.to_dict(), MethodConfig().to_dict())

    @classmethod
    def from_sections(cls, values: dict[str, Any]) -> MethodConfig:
        """The method that ``values``, a method in sections (as in a file, or as
        :meth:`sections` gives it), describes; the default for what it leaves out."""
        return cls().replace(**flatten(values, "the sections given"))


def _typed(name: str, value: Any, declared: str) -> Any:
    """``value`` as field ``name`` of declared type ``declared`` takes it (an integer for
    a float), or one line naming the field: a wrong type, or a number that is not finite."""
    kinds = [k.strip() for k in declared.split("|")]
    if value is None and "None" in kinds:
        return None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if "float" in kinds and number:
        if not math.isfinite(value):
            raise FlowamError(f"{name}={value}: must be a finite number")
        return float(value)
    fits = {
        "int": number and isinstance(value, int),
        "str": isinstance(value, str),
        "bool": isinstance(value, bool),
        "dict[str, Any]": isinstance(value, dict) and all(isinstance(k, str) for k in value),
    }
    if any(fits.get(kind, False) for kind in kinds):
        return value
    wanted = " or ".join("a table" if k.startswith("dict") else k for k in kinds)
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise FlowamError(f"{name}={shown}: expected {wanted}")


def parse_weight(weight: Any, size: int, layer: str) -> float:
    """A layer weight: a number, or ``"<coef>*N"`` for ``coef`` times the layer's size."""
    if isinstance(weight, (int, float)):
        return float(weight)
    text = str(weight).replace(" ", "")
    try:
        if text.endswith("*N"):
            return float(text[:-2]) * size
        return float(text)
    except ValueError:
        raise FlowamError(
            f"weight of layer {layer!r} is {weight!r}; write a number or 'c*N'"
        ) from None


def preset_names() -> list[str]:
    """The names of the built-in presets."""
    folder = resources.files("flowam") / "configs" / "methods"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


RENAMED = {
    "faithful": "parts",
    "faithful-parts": "parts-boxes",
    "faithful-bent": "parts-bent",
    "faithful-mesh": "mesh",
    "faithful-membrane": "membrane",
}
"""Presets renamed by issue 36 (``faithful`` now names the property, not a preset): the old
name still loads the preset, with a warning."""


def load_method(spec: str | Path) -> MethodConfig:
    """A preset by name (``flow``, ``vanilla``, ...) or a method TOML/JSON file."""
    if isinstance(spec, str) and spec in RENAMED:
        warnings.warn(
            f"method {spec!r} is now called {RENAMED[spec]!r}; the old name will stop working",
            FlowamWarning,
            stacklevel=2,
        )
        spec = RENAMED[spec]
    path = Path(spec)
    if path.suffix in (".toml", ".json"):
        if not path.is_file():
            raise FlowamError(f"{path}: method file not found")
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            raise FlowamError(f"{path}: not UTF-8 text") from None
    else:
        if spec not in preset_names():
            raise FlowamError(
                f"unknown method {spec!r}; choose one of {', '.join(preset_names())} "
                "or give a .toml file"
            )
        text = (resources.files("flowam") / "configs" / "methods" / f"{spec}.toml").read_text()
    try:
        values = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
        raise FlowamError(f"{spec}: cannot be parsed ({e})") from None
    except RecursionError:
        raise FlowamError(f"{spec}: cannot be parsed (nested too deeply)") from None
    if not isinstance(values, dict):
        raise FlowamError(f"{spec}: a method file holds a table of options")
    values = flatten(values, str(spec))
    values.setdefault("name", path.stem)
    return MethodConfig().replace(**values)


def coerce(config: MethodConfig, assignment: str, flag: str = "--set") -> dict[str, Any]:
    """Parse one ``field=value`` (or ``align.LAYER=value``) into an override for ``config``;
    errors name the option ``flag`` it came from."""
    if "=" not in assignment:
        raise FlowamError(f"{flag} {assignment!r}: write field=value")
    key, raw = (s.strip() for s in assignment.split("=", 1))
    if key.startswith("align."):
        table = dict(config.align) if isinstance(config.align, dict) else {}
        table[key.removeprefix("align.")] = raw
        return {"align": table}
    fields = {f.name: f for f in dataclasses.fields(config)}
    key = renamed_field(key, flag)
    if key not in fields:
        raise FlowamError(
            f"{flag} {key}: unknown method option; options: {', '.join(sorted(fields))}"
        )
    current = getattr(config, key)
    if raw.lower() in ("none", "null"):
        return {key: None}
    if key == "align":
        return {key: raw}
    if key in NOISES and raw in NOISE_LEVELS:
        return {key: NOISE_LEVELS[raw]}
    declared = str(fields[key].type)  # "str | None" or "float | None" where unset
    kind = type(current) if current is not None else (str if declared.startswith("str") else float)
    try:
        value = kind(raw) if kind is not bool else raw.lower() in ("1", "true", "yes")
    except ValueError:
        raise FlowamError(f"{flag} {key}={raw}: expected a {kind.__name__}") from None
    return {key: value}


def method_runs(
    specs: Sequence[str],
    *,
    steps: int | None = None,
    assignments: Sequence[str] = (),
    snapshots: Sequence[int] = (),
) -> dict[str, tuple[str, dict[str, Any]]]:
    """The runs :func:`flowam.compare.compare` takes, ``{name: (spec, overrides)}``: each
    method of ``specs`` with ``steps`` (where given) and every ``--set`` assignment. A
    snapshot step past a method's steps is one line naming it."""
    common = {"steps": steps} if steps is not None else {}
    runs = {}
    for spec in specs:
        config = load_method(spec).replace(**common)
        overrides = dict(common)
        for assignment in assignments:
            change = coerce(config, assignment)
            config = config.replace(**change)
            overrides.update(change)
        runs[config.name] = (spec, overrides)
        late = [k for k in snapshots if k > config.steps]
        if late:
            raise FlowamError(
                f"--snapshots {late[0]}: outside method {config.name}'s {config.steps} steps"
            )
    return runs


def _prefixed(config: MethodConfig, prefix: str, names: tuple[str, ...]) -> dict[str, Any]:
    """``{name: config.<prefix><name>}``: a group of the config's fields by their short names."""
    return {name: getattr(config, prefix + name) for name in names}


def robustness(config: MethodConfig) -> Robustness | None:
    """The method's transformation robustness, or None when ``robust_copies`` is 0."""
    if not config.robust_copies:
        return None
    names = ("copies", "yaw", "scale", "shift", "jitter", "dropout", "sampling")
    return Robustness(**_prefixed(config, "robust_", names))


def soft_pool(config: MethodConfig) -> SoftPool | None:
    """The method's soft backward through max pooling, or None when ``soft_pool`` is 0."""
    return SoftPool(config.soft_pool, config.soft_pool_temperature) if config.soft_pool else None


def part_assembly(config: MethodConfig) -> Parts:
    """The assembly of parts the ``part_*`` options describe."""
    names = ("normalize", "bend", "bend_after", "union", "start_noise")
    return Parts(min_half=config.part_min, bound=config.bound, **_prefixed(config, "part_", names))


def parameterization(
    config: MethodConfig, generator: Generator | None = None
) -> Parameterization | None:
    """What the method optimises: a generator's latent code (``generator``, loaded from
    ``config.generator``), an assembly of parts (``assembly``), a mesh (``mesh``, smoothed
    by ``smooth``), smoothed coordinates (``smooth``), or None: the coordinates."""
    if config.generator is not None:
        if generator is None:
            raise FlowamError(f"method {config.name!r} needs its generator loaded")
        return Latent(generator.ae)
    if config.assembly:
        return part_assembly(config)
    if config.mesh:
        return Mesh(config.mesh_subdivisions, config.smooth, config.bound)
    return Smooth(config.smooth, config.smooth_k) if config.smooth else None


@dataclass(frozen=True)
class Built:
    """What a term's maker may need beyond the method's fields."""

    sizes: dict[str, int]  # activations of each aligned layer (for ``c*N`` weights)
    generator: Generator | None  # the loaded generator (``realness``: its discriminator)
    norms: dict[str, NormAffine] | None = None  # the model's batch norms (``bn_stats``)


Terms = list[tuple[float, Objective]]


def _one(weight: float, make: Callable[[], Objective]) -> Terms:
    """``[(weight, make())]``, or nothing where the weight is 0 (``make`` is not called)."""
    return [(weight, make())] if weight else []


def _alignment(c: MethodConfig, built: Built) -> Terms:
    """Eq. 3, a term per layer of ``align``, weighted ``1 - β`` where β is set (Eq. 6)."""
    scale = 1.0 - c.beta if c.beta is not None else 1.0
    weights = {
        layer: parse_weight(w, built.sizes.get(layer, 1), layer) * scale
        for layer, w in c.align.items()
    }
    return [(w, LatentAlignment(layer, c.latent_noise)) for layer, w in weights.items() if w]


def _diversity(c: MethodConfig, built: Built) -> Terms:
    if c.diversity and c.diversity_layer == AUTO:
        raise FlowamError("diversity_layer='auto' must be resolved to a layer before building")
    return _one(c.diversity, lambda: Diversity(c.diversity_layer))


def _realness(c: MethodConfig, built: Built) -> Terms:
    if c.realness and (built.generator is None or built.generator.discriminator is None):
        raise FlowamError(
            f"realness needs a generator with a discriminator; {c.generator!r} has none"
        )
    return _one(c.realness, lambda: Realness(built.generator.discriminator))


def _bn_stats(c: MethodConfig, built: Built) -> Terms:
    if c.bn_stats and built.norms is None:
        raise FlowamError("bn_stats needs the model's batch norms (build(..., norms=...))")
    norms = dict(list(built.norms.items())[: c.bn_stats_layers or None]) if c.bn_stats else {}
    return _one(c.bn_stats, lambda: BatchStatistics(norms, c.bn_stats_first))


def _quantile(c: MethodConfig, built: Built) -> Terms:
    if c.quantile and c.quantile_layer == AUTO:
        raise FlowamError("quantile_layer='auto' must be resolved to a layer before building")
    return _one(c.quantile, lambda: QuantileAlignment(c.quantile_layer, c.quantile_count))


TERMS: dict[str, Callable[[MethodConfig, Built], Terms]] = {
    "logit": lambda c, _: _one(c.logit, ClassLogit),
    "log_prob": lambda c, _: _one(c.log_prob, LogProbability),
    "align": _alignment,
    "continuity": lambda c, _: _one(
        c.beta if c.beta is not None else c.continuity,
        lambda: Continuity(c.boundary, c.reduce, c.continuity_target),
    ),
    "legality": lambda c, _: _one(c.legality, lambda: Legality(c.bound, c.reduce)),
    "l2": lambda c, _: _one(c.l2, lambda: L2Penalty(c.reduce)),
    "tv": lambda c, _: _one(c.tv, lambda: TotalVariation(c.tv_k, c.reduce)),
    "diversity": _diversity,
    "realness": _realness,
    "bn_stats": _bn_stats,
    "spacing_log": lambda c, _: _one(c.spacing_log, lambda: LogSpacing(c.spacing_k)),
    "quantile": _quantile,
}
"""The objective's terms, in the order they are summed, each by its weight field and how
its term is made from the method. Adding a term is its class (:mod:`flowam.objectives`),
its weight field in ``[objective]`` and one line here."""


def build(
    config: MethodConfig,
    sizes: dict[str, int] | None = None,
    generator: Generator | None = None,
    norms: dict[str, NormAffine] | None = None,
) -> tuple[Objective, list[Transform]]:
    """The objective and step transforms of a method.

    Args:
        config: the method (``align`` must be a table here, not ``"auto"``).
        sizes: number of activations of each aligned layer (for ``c*N`` weights).
        generator: the loaded generator (for ``realness``: its discriminator).
        norms: the model's batch norms (for ``bn_stats``:
            :func:`flowam.objectives.batch_norms`).
    """
    config.check()
    if not isinstance(config.align, dict):
        raise FlowamError("align='auto' must be resolved to layer weights before building")
    built = Built(sizes or {}, generator, norms)
    parts = [term for make in TERMS.values() for term in make(config, built)]
    if not parts:
        raise FlowamError(f"method {config.name!r} has no objective term with a positive weight")
    transforms: list[Transform] = []
    if config.blur_every:
        transforms.append(GaussianBlur(config.blur_k, config.blur_sigma, config.blur_every))
    if config.step_noise:
        transforms.append(IterationNoise(config.step_noise))
    if config.project:
        transforms.append(LegalProjection(config.bound))
    return Sum(parts), transforms
