"""Named methods: presets of objectives, parameterization, robustness, step transforms and run.

A method is a :class:`MethodConfig` of five sections, each a table of its own options:
``run`` (:class:`~flowam.engine.Run`: steps, step size, stopping), ``objective``
(:class:`ObjectiveConfig`: the terms' weights and their options), ``param`` (one kind of
:mod:`flowam.param`, tagged by ``kind``, with its own options and its own start),
``robustness`` (:class:`~flowam.robustness.Robustness`) and ``transforms``
(:class:`TransformsConfig`). Every option has one dotted name, the same in a method file
(its section's table), on the command line (``--set run.steps=100``,
``--set objective.align.fc2=0.5``), in a sweep and in Python
(``config.replace(run={"steps": 100})`` or ``config.replace(**{"run.steps": 100})``).
The presets live in ``flowam/configs/methods/*.toml``; :func:`build` turns a config into
the objective and transforms the engine runs, so all methods share one engine. The old
flat names load for one release with a warning (:mod:`flowam.legacy`).

Eq. 6 of the paper, ``L = L_AM + (1-β) L_LA + β L_C + L_LR``, is the preset ``flow``: with
``objective.beta`` set, the alignment weights are multiplied by ``1 - beta`` and the
continuity weight is ``beta``. Alignment weights may be written ``"1e-9*N"``, meaning
``1e-9`` times the number of activations of that layer (the paper's ``N_l × 1e-9``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from flowam.engine import Run
from flowam.errors import FlowamError, FlowamWarning
from flowam.generative.networks import Generator
from flowam.legacy import translate
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
from flowam.param import KINDS, ParamConfig, Parameterization, PointsConfig, param_config
from flowam.robustness import Robustness
from flowam.transforms import GaussianBlur, IterationNoise, LegalProjection, Transform

NOISES = ("param.start_noise", "objective.latent_noise", "transforms.step_noise")
NOISE_LEVELS = {"low": 0.1, "high": 1.0}
"""Supplement S1-D's low and high noise amplitudes, relative to the noised tensor's std."""
AUTO = "auto"
TOP = ("name", "description")


@dataclass(frozen=True)
class ObjectiveConfig:
    """A method's ``[objective]``: the weight of each term (terms that are maximised;
    penalties are negative already) and the terms' own options."""

    logit: float = 1.0  # weight of the target logit (Eq. 2)
    log_prob: float = 0.0  # weight of the target log-softmax
    align: dict[str, Any] | str = field(default_factory=dict)  # layer -> α_l, or "auto"
    latent_noise: float = 0.0  # S1-D noise on the alignment targets
    beta: float | None = None  # Eq. 6: continuity β, alignment (1 - β)
    continuity: float = 0.0  # weight of Eq. 4 when beta is None
    boundary: float = 1.0  # B of Eq. 4
    continuity_target: str = "boundary"  # boundary (Eq. 4 as printed) | spacing
    legality: float = 0.0  # weight of Eq. 5
    bound: float = 1.0  # C of Eq. 5 (and of every parameterization's clamp)
    reduce: str = "sum"  # penalties summed over points (as printed) or averaged
    l2: float = 0.0
    tv: float = 0.0
    tv_k: int = 8
    diversity: float = 0.0  # restarts of a class pushed apart in diversity_layer (Diversity)
    diversity_layer: str = "auto"  # a layer name; auto: the model's global feature
    realness: float = 0.0  # weight of the generator's discriminator score (aed, naed)
    bn_stats: float = 0.0  # DeepInversion's batch-norm statistics over the batch
    bn_stats_first: float = 10.0  # the first batch norm's weight relative to the others
    bn_stats_layers: int = 0  # the first that many batch norms (nearest the input); 0: all
    spacing_log: float = 0.0  # clumps and gaps by the log of the kNN spacing (LogSpacing)
    spacing_k: int = 3
    quantile: float = 0.0  # VITAL's sort matching of a per-point layer (QuantileAlignment)
    quantile_layer: str = "auto"  # a layer name; auto: the last per-point batch norm
    quantile_count: int = 32

    def __post_init__(self) -> None:
        if self.beta is not None and not 0.0 <= self.beta <= 1.0:
            raise FlowamError(f"objective.beta={self.beta} must be in [0, 1]")
        weights = ("logit", "log_prob", "continuity", "legality", "l2", "tv", "realness")
        weights += ("diversity", "bn_stats", "bn_stats_first", "spacing_log", "quantile")
        for name in (*weights, "latent_noise"):
            if getattr(self, name) < 0:
                raise FlowamError(f"objective.{name}={getattr(self, name)} must not be negative")
        if isinstance(self.align, dict):
            for layer, w in self.align.items():
                if parse_weight(w, 1, layer) < 0:
                    raise FlowamError(f"objective.align.{layer}={w} must not be negative")
        elif self.align != AUTO:
            raise FlowamError(
                f"objective.align={self.align!r} must be a table of layer weights or 'auto'"
            )
        if self.latent_noise and not self.align:
            raise FlowamError(
                "objective.latent_noise needs latent alignment (objective.align): it noises "
                "its targets"
            )
        if self.bn_stats_layers < 0:
            raise FlowamError(
                f"objective.bn_stats_layers={self.bn_stats_layers} must not be negative"
            )
        for name in ("spacing_k", "quantile_count"):
            if getattr(self, name) < 1:
                raise FlowamError(f"objective.{name}={getattr(self, name)} must be at least 1")


@dataclass(frozen=True)
class TransformsConfig:
    """A method's ``[transforms]``: operations on the clouds after each step."""

    project: bool = False  # clamp into [-bound, bound] after every step
    blur_every: int = 0  # blur every that many steps; 0 = no blur
    blur_k: int = 8
    blur_sigma: float = 1.0
    step_noise: float = 0.0  # S1-D noise after every step

    def __post_init__(self) -> None:
        if self.step_noise < 0:
            raise FlowamError(f"transforms.step_noise={self.step_noise} must not be negative")

    @property
    def used(self) -> list[str]:
        """The transforms this section turns on, by option name."""
        return [n for n in ("project", "blur_every", "step_noise") if getattr(self, n)]

    def build(self, bound: float) -> list[Transform]:
        """The step transforms, in the order they act (projection last)."""
        transforms: list[Transform] = []
        if self.blur_every:
            transforms.append(GaussianBlur(self.blur_k, self.blur_sigma, self.blur_every))
        if self.step_noise:
            transforms.append(IterationNoise(self.step_noise))
        if self.project:
            transforms.append(LegalProjection(bound))
        return transforms


SECTIONS: dict[str, type] = {
    "run": Run,
    "objective": ObjectiveConfig,
    "robustness": Robustness,
    "transforms": TransformsConfig,
}
"""The sections of a method besides ``param`` (whose options depend on its kind)."""


@dataclass(frozen=True)
class MethodConfig:
    """Everything that defines an activation-maximization method (see the module
    docstring); built checked: an impossible combination is one line naming the option."""

    name: str = "custom"
    description: str = ""
    run: Run = field(default_factory=Run)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    param: ParamConfig = field(default_factory=PointsConfig)
    robustness: Robustness = field(default_factory=lambda: Robustness(copies=0))
    transforms: TransformsConfig = field(default_factory=TransformsConfig)

    def __post_init__(self) -> None:
        kind, used = self.param.kind, self.transforms.used
        if kind == "latent" or self.param.drawn:
            what = "a latent code" if kind == "latent" else f"a {kind} parameterization"
            if used:
                raise FlowamError(
                    f"transforms.{used[0]} cannot act on {what} (param.kind={kind!r}"
                    + (
                        " clamps its points into [-bound, bound] itself)"
                        if kind != "latent"
                        else ")"
                    )
                )
        if self.objective.realness and kind != "latent":
            raise FlowamError(
                "objective.realness needs a generator with a discriminator (param.kind = 'latent')"
            )

    @property
    def start(self) -> str:
        """The start's name (its parameterization's: :attr:`ParamConfig.start`)."""
        return self.param.start

    @property
    def generator(self) -> str | None:
        """The generator latent AM runs through (``param.generator``), or None."""
        return getattr(self.param, "generator", None)

    @property
    def fixed_start(self) -> bool:
        """Whether the method starts from its own start only: parts or a mesh move their
        own surface, not the points of a given start, so experiments that run every
        method from a shared start run it from its own."""
        return self.param.drawn is not None

    def replace(self, changes: Mapping[str, Any] | None = None, /, **more: Any) -> MethodConfig:
        """A copy with options replaced: dotted names (``{"run.steps": 100}``), sections
        (``run={"steps": 100}``; a given ``objective.align`` table replaces the old one),
        ``name``/``description``; old flat names load, warned (:mod:`flowam.legacy`).
        Setting ``param.kind`` starts that kind's options from its defaults."""
        values = dotted({**(changes or {}), **more}, "method option")
        unknown = [
            k for k in values if k not in TOP and k.split(".")[0] not in (*SECTIONS, "param")
        ]
        if unknown:
            raise FlowamError(f"unknown method option {unknown[0]!r}; options: {_listing(self)}")
        top = {k: values.pop(k) for k in TOP if k in values}
        sections: dict[str, Any] = {}
        for section, kind in SECTIONS.items():
            given = _section(values, section)
            if given:
                current = getattr(self, section)
                sections[section] = dataclasses.replace(
                    current, **_typed_options(kind, section, given)
                )
        given = _section(values, "param")
        if given:
            kind = str(given.pop("kind", self.param.kind))
            base = {} if kind != self.param.kind else dataclasses.asdict(self.param)
            made = KINDS.get(kind)
            # a drawn kind's own start, named, is checked by param_config
            own = {"start": given.pop("start")} if made and made.drawn and "start" in given else {}
            options = _typed_options(made, "param", given, f"of kind {kind}") if made else given
            sections["param"] = param_config(kind, {**base, **options, **own}, "param")
        return dataclasses.replace(self, **top, **sections)

    def to_dict(self) -> dict[str, Any]:
        """The method as nested sections (``param`` with its ``kind``)."""
        out = dataclasses.asdict(self)
        out["param"] = {"kind": self.param.kind, **out["param"]}
        return out

    def sections(self) -> dict[str, Any]:
        """The method as a file in sections: its name, description and every option that
        differs from the default (``param``'s from its kind's, with its kind where not
        ``points``)."""
        values, defaults = self.to_dict(), MethodConfig().to_dict()
        defaults["param"] = dataclasses.asdict(type(self.param)())
        out: dict[str, Any] = {k: values[k] for k in TOP}
        for section in (*SECTIONS, "param"):
            table = {k: v for k, v in values[section].items() if v != defaults[section].get(k)}
            if table != {"kind": "points"} and table:
                out[section] = table
        return out

    @classmethod
    def from_dict(
        cls, values: Mapping[str, Any], source: str = "the sections given"
    ) -> MethodConfig:
        """The method that ``values`` (as in a file, as :meth:`to_dict` or :meth:`sections`
        give it) describes; the default for what it leaves out (``source`` names it in
        errors)."""
        return cls().replace(dotted(values, source))


def dotted(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``values`` (sections as tables, dotted names or old names) as today's dotted names;
    one line naming ``source`` where a section is not a table."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in (*SECTIONS, "param", "parameterization"):
            if not isinstance(value, Mapping):
                raise FlowamError(f"{source}: [{key}] must be a table of options")
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return translate(out, source)


def _section(values: dict[str, Any], section: str) -> dict[str, Any]:
    """The options of ``section`` in dotted ``values``, by their names there."""
    prefix = section + "."
    return {k.removeprefix(prefix): v for k, v in values.items() if k.startswith(prefix)}


def _typed_options(
    kind: type, section: str, given: dict[str, Any], which: str = ""
) -> dict[str, Any]:
    """``given`` options of a section's dataclass ``kind``, each checked against its
    declared type; one line for an option the section does not have."""
    declared = {f.name: str(f.type) for f in dataclasses.fields(kind)}
    unknown = [k for k in given if k not in declared]
    if unknown:
        raise FlowamError(
            f"[{section}]{' ' + which if which else ''} has no option {unknown[0]!r}; its "
            f"options: {', '.join(declared) or 'none'}"
        )
    out = {}
    for name, value in given.items():
        full = f"{section}.{name}"
        if full in NOISES and isinstance(value, str) and value in NOISE_LEVELS:
            value = NOISE_LEVELS[value]
        out[name] = _typed(full, value, declared[name])
    return out


def _listing(config: MethodConfig) -> str:
    """Every option's dotted name (``param``'s for the config's kind)."""
    names = [f"{s}.{f.name}" for s, k in SECTIONS.items() for f in dataclasses.fields(k)]
    names += ["param.kind", *(f"param.{f.name}" for f in dataclasses.fields(config.param))]
    return ", ".join([*TOP, *names])


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
"""Presets' old names (``faithful`` names the property, not a preset): an old name still
loads the preset, with a warning."""


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
    values = {"name": path.stem, **values}
    try:
        return MethodConfig.from_dict(values, str(spec))
    except FlowamError as e:
        raise FlowamError(f"{spec}: {e}") from None


def coerce(config: MethodConfig, assignment: str, flag: str = "--set") -> dict[str, Any]:
    """Parse one ``section.option=value`` (or ``objective.align.LAYER=value``; an old flat
    name, warned) into an override for ``config``, typed as that option is; errors name
    the option ``flag`` it came from."""
    if "=" not in assignment:
        raise FlowamError(f"{flag} {assignment!r}: write section.option=value")
    key, raw = (s.strip() for s in assignment.split("=", 1))
    now = translate({key: raw}, flag)  # an old name's new one, and the kind it switched to
    kind = now.pop("param.kind", None) if key != "param.kind" else None
    if kind is not None:
        switched = {"param.kind": kind}
        return {**switched, **coerce(config.replace(switched), f"{next(iter(now))}={raw}")}
    key = next(iter(now))
    if key.startswith("objective.align."):
        table = dict(config.objective.align) if isinstance(config.objective.align, dict) else {}
        table[key.removeprefix("objective.align.")] = raw
        return {"objective.align": table}
    section, _, name = key.partition(".")
    owner = {**SECTIONS, "param": type(config.param)}.get(section)
    fields = {f.name: f for f in dataclasses.fields(owner)} if owner else {}
    if key == "param.kind":
        return {key: raw}
    if key in TOP:
        return {key: raw}
    if name not in fields:
        raise FlowamError(f"{flag} {key}: unknown method option; options: {_listing(config)}")
    if raw.lower() in ("none", "null"):
        return {key: None}
    if key == "objective.align":
        return {key: raw}
    if key in NOISES and raw in NOISE_LEVELS:
        return {key: NOISE_LEVELS[raw]}
    declared = str(fields[name].type)
    current = getattr(getattr(config, section), name)
    kind = type(current) if current is not None else (str if declared.startswith("str") else float)
    kind = float if kind is int and declared.startswith("float") else kind
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
    common = {"run.steps": steps} if steps is not None else {}
    runs = {}
    for spec in specs:
        config = load_method(spec).replace(common)
        overrides = dict(common)
        for assignment in assignments:
            change = coerce(config, assignment)
            config = config.replace(change)
            overrides.update(change)
        runs[config.name] = (spec, overrides)
        late = [k for k in snapshots if k > config.run.steps]
        if late:
            raise FlowamError(
                f"--snapshots {late[0]}: outside method {config.name}'s {config.run.steps} steps"
            )
    return runs


def robustness(config: MethodConfig) -> Robustness | None:
    """The method's transformation robustness, or None where ``robustness.copies`` is 0."""
    return config.robustness if config.robustness.copies else None


def parameterization(
    config: MethodConfig, generator: Generator | None = None
) -> Parameterization | None:
    """What the method optimises (:meth:`ParamConfig.build`; None: the coordinates), its
    points within ``objective.bound``; ``generator``: latent AM's, loaded from
    ``param.generator``."""
    if config.param.kind == "latent" and generator is None:
        raise FlowamError(f"method {config.name!r} needs its generator loaded")
    return config.param.build(config.objective.bound, generator)


@dataclass(frozen=True)
class Built:
    """What a term's maker may need beyond the method's fields."""

    sizes: dict[str, int]  # activations of each aligned layer (for ``c*N`` weights)
    generator: Generator | None  # the loaded generator (``realness``: its discriminator)
    norms: dict[str, NormAffine] | None = None  # the model's batch norms (``bn_stats``)
    generator_name: str | None = None  # ``param.generator``, for errors


Terms = list[tuple[float, Objective]]


def _one(weight: float, make: Callable[[], Objective]) -> Terms:
    """``[(weight, make())]``, or nothing where the weight is 0 (``make`` is not called)."""
    return [(weight, make())] if weight else []


def _alignment(c: ObjectiveConfig, built: Built) -> Terms:
    """Eq. 3, a term per layer of ``align``, weighted ``1 - β`` where β is set (Eq. 6)."""
    scale = 1.0 - c.beta if c.beta is not None else 1.0
    weights = {
        layer: parse_weight(w, built.sizes.get(layer, 1), layer) * scale
        for layer, w in c.align.items()
    }
    return [(w, LatentAlignment(layer, c.latent_noise)) for layer, w in weights.items() if w]


def _diversity(c: ObjectiveConfig, built: Built) -> Terms:
    if c.diversity and c.diversity_layer == AUTO:
        raise FlowamError(
            "objective.diversity_layer='auto' must be resolved to a layer before building"
        )
    return _one(c.diversity, lambda: Diversity(c.diversity_layer))


def _realness(c: ObjectiveConfig, built: Built) -> Terms:
    if c.realness and (built.generator is None or built.generator.discriminator is None):
        raise FlowamError(
            f"objective.realness needs a generator with a discriminator; "
            f"{built.generator_name!r} has none"
        )
    return _one(c.realness, lambda: Realness(built.generator.discriminator))


def _bn_stats(c: ObjectiveConfig, built: Built) -> Terms:
    if c.bn_stats and built.norms is None:
        raise FlowamError(
            "objective.bn_stats needs the model's batch norms (build(..., norms=...))"
        )
    norms = dict(list(built.norms.items())[: c.bn_stats_layers or None]) if c.bn_stats else {}
    return _one(c.bn_stats, lambda: BatchStatistics(norms, c.bn_stats_first))


def _quantile(c: ObjectiveConfig, built: Built) -> Terms:
    if c.quantile and c.quantile_layer == AUTO:
        raise FlowamError(
            "objective.quantile_layer='auto' must be resolved to a layer before building"
        )
    return _one(c.quantile, lambda: QuantileAlignment(c.quantile_layer, c.quantile_count))


TERMS: dict[str, Callable[[ObjectiveConfig, Built], Terms]] = {
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
its term is made from the method's ``[objective]``. Adding a term is its class
(:mod:`flowam.objectives`), its weight field in :class:`ObjectiveConfig` and one line
here."""


def build(
    config: MethodConfig,
    sizes: dict[str, int] | None = None,
    generator: Generator | None = None,
    norms: dict[str, NormAffine] | None = None,
) -> tuple[Objective, list[Transform]]:
    """The objective and step transforms of a method.

    Args:
        config: the method (``objective.align`` must be a table here, not ``"auto"``).
        sizes: number of activations of each aligned layer (for ``c*N`` weights).
        generator: the loaded generator (for ``realness``: its discriminator).
        norms: the model's batch norms (for ``bn_stats``:
            :func:`flowam.objectives.batch_norms`).
    """
    objective = config.objective
    if not isinstance(objective.align, dict):
        raise FlowamError("align='auto' must be resolved to layer weights before building")
    built = Built(sizes or {}, generator, norms, config.generator)
    parts = [term for make in TERMS.values() for term in make(objective, built)]
    if not parts:
        raise FlowamError(f"method {config.name!r} has no objective term with a positive weight")
    return Sum(parts), config.transforms.build(objective.bound)
