"""What an explanation run is about: a classifier and the real objects it is explained against.

Shared by the CLI's commands and the experiments; each field is a command-line option
(``--model``, ``--data``, ...).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flowam.errors import FlowamError
from flowam.fields import MIN_POINTS
from flowam.speed import Speed

VALIDATION = "validation"
"""The split name of the objects a model was evaluated on in training: the share of the
train split its ``flowam train --validation`` carved out (seeded, per class)."""

DEFAULT_CLASSES = ("airplane", "chair", "lamp", "table", "bed", "car", "guitar", "sofa")
"""The classes explained where none are named, as many as a command takes: the first 4 in
the demo (a vehicle, a seat, a fixture, a table: every preset and the recommended one on
three architectures within about three minutes on a 2-core CPU), all 8 in an experiment
at ``--quick`` scale."""

TURNS = 8
"""Turns about the up axis (45° apart) that scores allow for a model trained with turns."""


@dataclasses.dataclass
class Subject:
    """The classifier to explain and the real objects it is explained against."""

    model: str = dataclasses.field(
        default="bundled", metadata={"help": "'bundled', 'bundled:<arch>' or a weights file."}
    )
    data: str = dataclasses.field(
        default="procedural", metadata={"help": "Real objects: 'procedural' or a dataset root."}
    )
    format: str | None = dataclasses.field(
        default=None, metadata={"help": "Dataset format; detected when omitted."}
    )
    split: str = dataclasses.field(
        default="test",
        metadata={
            "help": "Split of the real objects; 'validation': the share of the train split "
            "the model was evaluated on in training (flowam train --validation)."
        },
    )
    num_points: int | None = dataclasses.field(
        default=None,
        metadata={"help": "Points per cloud (default: the model's).", "min": MIN_POINTS},
    )
    arch: str | None = dataclasses.field(
        default=None, metadata={"help": "Architecture, where the weights file cannot tell."}
    )
    num_classes: int | None = dataclasses.field(
        default=None, metadata={"help": "Number of classes, where the weights file cannot tell."}
    )
    device: str = "cpu"
    speed: Speed = dataclasses.field(default_factory=Speed)  # its options: flowam.speed

    turns: int | None = dataclasses.field(
        default=None,
        metadata={
            "help": "Scores against real objects allow the best of this many turns about "
            "the up axis (1: none); default 8 for a model trained with turns about up "
            "(its metadata), else 1."
        },
    )
    judges: str = dataclasses.field(
        default="bundled",
        metadata={
            "help": "Classifiers that also judge every explanation (cross-architecture "
            "recognition): 'bundled' (the other bundled models, when they have the "
            "model's classes), 'none', or comma-separated model specs."
        },
    )

    @classmethod
    def read(cls, values: dict[str, Any], source: str, **given: Any) -> Subject:
        """The subject a saved configuration (``config.json``) names: its fields found in
        ``values`` (None: the default; ``speed`` a table, or its fields at the top as
        configs held them before it was embedded) with ``given`` on top; a value of the
        wrong type is one line naming ``source`` and the field."""
        nested = values.get("speed")
        speed = Speed(**_typed(Speed, nested if isinstance(nested, dict) else values, source))
        return cls(**{**_typed(cls, values, source), "speed": speed, **given})

    @classmethod
    def of_folder(cls, folder: Path, **given: Any) -> Subject:
        """The subject (model and real objects) that the nearest ``config.json`` at or
        above run folder ``folder`` names (:func:`flowam.readback.nearest_config`), with
        ``given`` on top (``device``; ``turns``: scores allowing that many turns about the
        up axis, instead of what the config or the model's metadata says; None: theirs)."""
        from flowam.readback import nearest_config

        values, path = nearest_config(folder)
        return cls.read(values, str(path), **{k: v for k, v in given.items() if v is not None})

    def load(self, seed: int, classes: Sequence[str] = ()):
        """The explainer (model + real objects) and the model's info.

        ``classes`` are checked against the model's, and the data's class list against
        the model's, before the real objects are read, so a misspelt name or data of
        other classes fail at once. Data of some of the model's classes serve (mapped by
        name: :func:`flowam.data.load_for_model`).
        """
        from flowam.data import load_for_model
        from flowam.explain import Explainer
        from flowam.models import load_classifier, load_judges

        net, info = load_classifier(
            self.model, arch=self.arch, num_classes=self.num_classes, device=self.device
        )
        unknown = [c for c in classes if c not in info.classes]
        if unknown:
            raise FlowamError(
                f"unknown class {unknown[0]!r}; valid classes: {', '.join(info.classes)}"
            )
        info.check_convention(self.data)
        carved = self.split == VALIDATION
        real = load_for_model(
            info.classes,
            self.data,
            "train" if carved else self.split,
            validation=validation_of(info) if carved else None,
            format=self.format,
            num_points=self.num_points or info.num_points,
            seed=seed if self.data != "procedural" else 0,
        )
        judges = load_judges(self.judges, info, self.device)
        return Explainer(net, real, self.speed, judges, self.turns_for(info)), info

    def turns_for(self, info) -> int:
        """:attr:`turns` as set, or from the model's metadata (:data:`TURNS` for a model
        trained with turns about the up axis, else 1)."""
        if self.turns is not None:
            if self.turns < 1:
                raise FlowamError(f"--turns {self.turns} must be at least 1")
            return self.turns
        return TURNS if info.turns_about_up else 1


def validation_of(info) -> tuple[float, int]:
    """``(share, seed)`` of the validation carve-out a model was evaluated on in
    training, from its metadata; a one-line error where it had none."""
    carved = info.metadata.get("evaluated_on", {}).get("validation")
    if not isinstance(carved, dict) or not {"share", "seed"} <= set(carved):
        raise FlowamError(
            f"--split {VALIDATION}: {info.source} was not evaluated on a validation "
            "carve-out in training (its metadata names none); choose a split of the data"
        )
    return float(carved["share"]), int(carved["seed"])


def choose_classes(
    model_classes: Sequence[str], asked: Sequence[str] | str | None, count: int | None = None
) -> list[str]:
    """The classes a command explains: the names ``asked``, every class (``"all"``, or
    None where ``count`` is None), or the first ``count`` of :data:`DEFAULT_CLASSES` in
    the model's order (a model without them all, a user's own: its first ``count``)."""
    if asked == "all" or (asked is None and count is None):
        return list(model_classes)
    if asked:
        return list(asked)
    subset = DEFAULT_CLASSES[:count]
    if set(subset) <= set(model_classes):
        return [c for c in model_classes if c in subset]
    return list(model_classes[:count])


def _typed(kind: type, values: dict[str, Any], source: str) -> dict[str, Any]:
    """The plain fields (text, numbers, switches) of dataclass ``kind`` found in
    ``values``, each checked against its type (one line naming ``source`` and the field
    where it is not); None and absent fields are left to their defaults."""
    kinds = {"str": str, "int": int, "bool": bool}
    fields = {}
    for f in dataclasses.fields(kind):
        value = values.get(f.name)
        declared = kinds.get(str(f.type).split(" | ")[0])
        if value is None or declared is None:
            continue
        if not isinstance(value, declared) or (declared is int and isinstance(value, bool)):
            raise FlowamError(f"{source}: {f.name}={value!r} is not a {declared.__name__}")
        fields[f.name] = value
    return fields
